import { describe, expect, it } from "vitest";
import type { ImageUploadResponse } from "@/lib/api/types";
import type { ImageId } from "@/lib/ids";
import { addUpload, markReady, statusChip, type GalleryImage } from "./galleryImages";

const A = "a".repeat(64) as ImageId;
const B = "b".repeat(64) as ImageId;

function upload(imageId: ImageId, status: "encoding" | "ready", deduplicated: boolean): ImageUploadResponse {
  return { imageId, width: 640, height: 480, bytes: 9_000, deduplicated, status };
}

describe("gallery images", () => {
  it("adds a new upload first, encoding until the server says ready", () => {
    const images = addUpload([], upload(A, "encoding", false), "cat.png", 1_000, 1_050);
    expect(images).toEqual<GalleryImage[]>([
      {
        imageId: A,
        name: "cat.png",
        width: 640,
        height: 480,
        bytes: 9_000,
        status: "encoding",
        deduplicated: false,
        fromCache: false,
        readyAfterMs: null,
        uploadStartedAt: 1_000,
      },
    ]);
    expect(statusChip(images[0])).toEqual({ label: "encoding…", tone: "busy" });
    const ready = markReady(images, A, 1_420);
    expect(ready[0]).toMatchObject({ status: "ready", readyAfterMs: 420 });
    expect(statusChip(ready[0])).toEqual({ label: "ready in 420 ms", tone: "ready" });
  });

  it("says 'from cache' for a duplicate whose features were ready in the upload's answer", () => {
    const [image] = addUpload([], upload(A, "ready", true), "again.png", 1_000, 1_030);
    expect(image).toMatchObject({ fromCache: true, readyAfterMs: null });
    expect(statusChip(image)).toEqual({ label: "from cache", tone: "cached" });
  });

  it("times a new image that was already encoded when the upload answered", () => {
    const [image] = addUpload([], upload(A, "ready", false), "fast.png", 1_000, 1_250);
    expect(statusChip(image)).toEqual({ label: "ready in 250 ms", tone: "ready" });
  });

  it("keeps one entry per image, moving a re-upload to the front", () => {
    let images = addUpload([], upload(A, "encoding", false), "a.png", 0, 1);
    images = addUpload(images, upload(B, "encoding", false), "b.png", 2, 3);
    images = addUpload(images, upload(A, "ready", true), "a-again.png", 4, 5);
    expect(images.map((i) => [i.imageId, i.name])).toEqual([
      [A, "a-again.png"],
      [B, "b.png"],
    ]);
  });

  it("ignores ready signals for other or already ready images", () => {
    const images = addUpload([], upload(A, "ready", false), "a.png", 0, 100);
    expect(markReady(images, A, 900)).toEqual(images);
    expect(markReady(images, B, 900)).toEqual(images);
  });
});

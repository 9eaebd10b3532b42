import { describe, expect, it } from "vitest";
import type { ImageUploadResponse } from "@/lib/api/types";
import type { ImageId } from "@/lib/ids";
import { addUpload, applyImageInfo, statusChip, type GalleryImage } from "./galleryImages";

const A = "a".repeat(64) as ImageId;
const B = "b".repeat(64) as ImageId;

function upload(imageId: ImageId, status: "encoding" | "ready", deduplicated: boolean): ImageUploadResponse {
  return { imageId, width: 640, height: 480, bytes: 9_000, deduplicated, status };
}

describe("gallery images", () => {
  it("adds a new upload first, encoding until the server says ready, with the server's timing", () => {
    const images = addUpload([], upload(A, "encoding", false), "cat.png");
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
        encodingStarted: true,
        encodingMs: null,
      },
    ]);
    expect(statusChip(images[0])).toMatchObject({ label: "encoding…", tone: "busy" });
    expect(statusChip(applyImageInfo(images, A, { status: "encoding" })[0])).toMatchObject({
      label: "encoding…",
      tone: "busy",
    });
    const ready = applyImageInfo(images, A, { status: "ready", encodingMs: 420 });
    expect(ready[0]).toMatchObject({ status: "ready", encodingMs: 420 });
    expect(statusChip(ready[0])).toMatchObject({ label: "ready in 420 ms", tone: "ready" });
  });

  it("says 'from cache' for a duplicate whose features were ready in the upload's answer", () => {
    const [image] = addUpload([], upload(A, "ready", true), "again.png");
    expect(image).toMatchObject({ fromCache: true });
    expect(statusChip(applyImageInfo([image], A, { status: "ready", encodingMs: 90 })[0])).toMatchObject({
      label: "from cache",
      tone: "cached",
    });
  });

  it("never calls an image ready that the server reports ready without having encoded it (no model)", () => {
    const images = applyImageInfo(addUpload([], upload(A, "ready", false), "plain.png"), A, { status: "ready" });
    expect(statusChip(images[0])).toMatchObject({ label: "not encoded", tone: "idle" });
  });

  it("says 'ready' without a time when the server finished an encoding it did not time", () => {
    const images = applyImageInfo(addUpload([], upload(A, "encoding", false), "joined.png"), A, { status: "ready" });
    expect(statusChip(images[0])).toMatchObject({ label: "ready", tone: "ready" });
  });

  it("keeps one entry per image, moving a re-upload to the front", () => {
    let images = addUpload([], upload(A, "encoding", false), "a.png");
    images = addUpload(images, upload(B, "encoding", false), "b.png");
    images = addUpload(images, upload(A, "ready", true), "a-again.png");
    expect(images.map((i) => [i.imageId, i.name])).toEqual([
      [A, "a-again.png"],
      [B, "b.png"],
    ]);
  });

  it("keeps the first timing of an image and ignores other images' readings", () => {
    const images = applyImageInfo(addUpload([], upload(A, "encoding", false), "a.png"), A, {
      status: "ready",
      encodingMs: 300,
    });
    expect(applyImageInfo(images, A, { status: "ready", encodingMs: 900 })).toEqual(images);
    expect(applyImageInfo(images, B, { status: "ready", encodingMs: 900 })).toEqual(images);
  });
});

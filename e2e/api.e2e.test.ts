import { request as httpRequest } from "node:http";
import { describe, expect, inject, it } from "vitest";
import type { ImageInfoResponse } from "@/lib/api/types";
import { decodeStoredImage } from "@/lib/images/canonicalize";
import * as img from "@/tests/support/testImages";

/** The HTTP API through the real Next.js server (route handlers, body streaming, headers). */
const baseUrl = inject("baseUrl");

function uploadForm(file: Buffer, name = "x.png"): FormData {
  const form = new FormData();
  form.append("image", new Blob([new Uint8Array(file)]), name);
  return form;
}

describe("HTTP API on the running app", () => {
  it("reports health with the external Redis it was given", async () => {
    const response = await fetch(`${baseUrl}/api/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: "ok", redis: { mode: "external", healthy: true } });
  });

  it("stores, dedupes and serves an image", async () => {
    const picture = img.patternRgb(33, 44);
    const file = await img.png(picture);
    const first = await fetch(`${baseUrl}/api/images`, { method: "POST", body: uploadForm(file) });
    expect(first.status).toBe(201);
    const created = await first.json();
    // The store keeps the file as sent.
    expect(created.bytes).toBe(file.length);
    const second = await fetch(`${baseUrl}/api/images`, { method: "POST", body: uploadForm(await img.tiff(picture)) });
    expect(second.status).toBe(200);
    expect(await second.json()).toMatchObject({ imageId: created.imageId, deduplicated: true });

    // The upload starts the vision encode in the background: the image is `encoding` until its features are in L1.
    const info = async () =>
      (await fetch(`${baseUrl}/api/images/${created.imageId}`)).json() as Promise<ImageInfoResponse>;
    await expect.poll(async () => (await info()).status, { timeout: 20_000 }).toBe("ready");
    const meta = await info();
    const { imageId, width, height, bytes } = created;
    expect(meta).toEqual({ imageId, width, height, bytes, status: "ready", encodingMs: expect.any(Number) });
    expect(meta.encodingMs).toBeGreaterThanOrEqual(0);
    const raw = await fetch(`${baseUrl}/api/images/${created.imageId}?raw=1`);
    expect(raw.headers.get("content-type")).toBe("image/png");
    const canonical = await decodeStoredImage(Buffer.from(await raw.arrayBuffer()), created.imageId, {
      maxPixels: 33 * 44,
    });
    expect(canonical?.data.equals(picture.data)).toBe(true);
    expect((await fetch(`${baseUrl}/api/images/${"a".repeat(64)}`)).status).toBe(404);
    expect((await fetch(`${baseUrl}/api/images/NOT-AN-ID`)).status).toBe(400);
  });

  it("answers 413 to an oversized body as soon as its Content-Length is seen", async () => {
    // A client that announces 25 MiB but sends only the first bytes: the answer must come without the rest.
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const url = new URL(`${baseUrl}/api/images`);
      const req = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: "POST",
          headers: { "content-type": "multipart/form-data; boundary=b", "content-length": String(25 * 1024 * 1024) },
        },
        (res) => {
          let body = "";
          res.on("data", (chunk) => (body += chunk));
          res.on("end", () => {
            resolve({ status: res.statusCode ?? 0, body });
            req.destroy();
          });
        },
      );
      req.on("error", reject);
      req.write("--b\r\n");
    });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toEqual({
      error: { code: "payload_too_large", message: "The image is larger than the limit of 20971520 bytes" },
    });
  });

  it("answers 415 for a PDF and 422 for a decompression bomb", async () => {
    const pdf = await fetch(`${baseUrl}/api/images`, { method: "POST", body: uploadForm(img.pdfBytes(), "doc.pdf") });
    expect(pdf.status).toBe(415);
    const bomb = await fetch(`${baseUrl}/api/images`, { method: "POST", body: uploadForm(img.pngBomb(8000, 6000)) });
    expect(bomb.status).toBe(422);
    expect((await bomb.json()).error.code).toBe("too_many_pixels");
  });
});

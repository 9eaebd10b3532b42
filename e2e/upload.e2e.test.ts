import { existsSync } from "node:fs";
import type { Locator } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { imageIdOf } from "@/lib/images/canonicalize";
import * as img from "@/tests/support/testImages";
import { openBrowser, type BrowserSession } from "./browser";
import { screenshot } from "./screenshots";

/**
 * The upload panel in Chromium: pick a file and it joins the gallery with its stored thumbnail, size and id; the same
 * pixels in another encoding are marked duplicate; bad files show a readable error card; paste and drop upload too.
 * Stored uploads are not repeated as cards: the gallery shows them. The steps build on each other, in one page.
 */
let browser: BrowserSession;
const baseUrl = inject("baseUrl");

beforeAll(async () => {
  browser = await openBrowser();
  await browser.page.goto(baseUrl);
});
afterAll(() => browser.close());

/** Waits for the refused upload cards to number `expected`; returns the newest. */
async function waitForRefusals(expected: number): Promise<Locator> {
  const cards = browser.page.locator('[data-testid="upload-card"][data-state="refused"]');
  await expect.poll(() => cards.count(), { timeout: 20_000 }).toBe(expected);
  return cards.first();
}

/** Waits for the gallery entry named `name` (a re-upload of the same pixels renames the entry). */
async function galleryEntry(name: string): Promise<Locator> {
  const item = browser.page.getByTestId("gallery-item").filter({ hasText: name });
  await expect.poll(() => item.count(), { timeout: 20_000 }).toBe(1);
  return item;
}

async function pickFile(name: string, mimeType: string, buffer: Buffer): Promise<void> {
  await browser.page.getByTestId("file-input").setInputFiles({ name, mimeType, buffer });
}

async function thumbnailSize(card: Locator): Promise<[number, number]> {
  const thumbnail = card.locator("img");
  await expect.poll(() => thumbnail.evaluate((el: HTMLImageElement) => el.complete && el.naturalWidth > 0)).toBe(true);
  return thumbnail.evaluate((el: HTMLImageElement) => [el.naturalWidth, el.naturalHeight] as [number, number]);
}

describe("upload panel", () => {
  const picture = img.patternRgb(160, 120);
  const pictureId = imageIdOf(picture.data, 160, 120);

  it("shows the empty drop zone", async () => {
    await expect.poll(() => browser.page.getByTestId("drop-zone").isVisible()).toBe(true);
    expect(await browser.page.getByRole("button", { name: "Choose a file" }).isVisible()).toBe(true);
    expect(existsSync(await screenshot(browser.page, "01-empty"))).toBe(true);
  });

  it("uploads a PNG and shows its stored thumbnail, size and id", async () => {
    await pickFile("pattern.png", "image/png", await img.png(picture));
    const item = await galleryEntry("pattern.png");
    expect(await item.getAttribute("data-image-id")).toBe(pictureId);
    expect(await item.getByTestId("gallery-duplicate").count()).toBe(0);
    expect(await item.getByTestId("gallery-size").textContent()).toMatch(/^160 × 120 px · [\d.]+ KiB$/);
    expect(await item.locator("p[title]").getAttribute("title")).toBe(`pattern.png · id ${pictureId}`);
    expect(await thumbnailSize(item)).toEqual([160, 120]);
    expect(await browser.page.getByTestId("upload-card").count()).toBe(0);
    await screenshot(browser.page, "02-uploaded");
  });

  it("marks the same pixels as lossless WebP as a duplicate", async () => {
    await pickFile("pattern.webp", "image/webp", await img.losslessWebp(picture));
    const item = await galleryEntry("pattern.webp");
    expect(await item.getAttribute("data-image-id")).toBe(pictureId);
    expect(await browser.page.getByTestId("gallery-item").count()).toBe(1);
    const duplicate = item.getByTestId("gallery-duplicate");
    expect(await duplicate.textContent()).toBe("duplicate");
    expect(await duplicate.getAttribute("title")).toContain("Same pixels as an image already stored");
    await screenshot(browser.page, "03-duplicate");
  });

  it("shows a readable error for a corrupt file", async () => {
    const corrupt = img.truncated(await img.jpegWithOrientation(img.patternRgb(64, 64), 1));
    await pickFile("broken.jpg", "image/jpeg", corrupt);
    const card = await waitForRefusals(1);
    expect(await card.getByTestId("upload-error").textContent()).toMatch(
      /^The JPEG file could not be decoded \(truncated or corrupt\): VipsJpeg: premature end of JPEG image\.$/,
    );
    expect(await card.textContent()).toContain("broken.jpg was not accepted");
    await screenshot(browser.page, "04-corrupt-error");
  });

  it("uploads a pasted image, with its EXIF orientation applied", async () => {
    const jpeg = await img.jpegWithOrientation(img.patternRgb(96, 64), 6);
    await browser.page.evaluate((base64) => {
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      const data = new DataTransfer();
      data.items.add(new File([bytes], "clipboard.jpg", { type: "image/jpeg" }));
      document.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
    }, jpeg.toString("base64"));
    const item = await galleryEntry("clipboard.jpg");
    expect(await item.getByTestId("gallery-size").textContent()).toMatch(/^64 × 96 px/);
    expect(await thumbnailSize(item)).toEqual([64, 96]);
    await screenshot(browser.page, "05-pasted-rotated");
  });

  it("refuses a dropped SVG as unsupported", async () => {
    await browser.page.getByTestId("drop-zone").evaluate((zone, text) => {
      const data = new DataTransfer();
      data.items.add(new File([text], "drawing.svg", { type: "image/svg+xml" }));
      zone.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
    }, img.svgBytes().toString("utf8"));
    const card = await waitForRefusals(2);
    expect(await card.getByTestId("upload-error").textContent()).toBe(
      "SVG files are not supported; send JPEG, PNG, WebP, GIF, TIFF or AVIF.",
    );
    await screenshot(browser.page, "06-dropped-svg-refused");
  });
});

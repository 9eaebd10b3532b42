import { existsSync } from "node:fs";
import type { Locator } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { imageIdOf } from "@/lib/images/canonicalize";
import * as img from "@/tests/support/testImages";
import { openBrowser, type BrowserSession } from "./browser";
import { screenshot } from "./screenshots";

/**
 * The upload panel in Chromium: pick a file, see its stored thumbnail, size and id; the same pixels in another
 * encoding are marked duplicate; bad files show a readable error; paste and drop upload too.
 * The steps build on each other (newest card first), so they run in order in one page.
 */
let browser: BrowserSession;
const baseUrl = inject("baseUrl");

beforeAll(async () => {
  browser = await openBrowser();
  await browser.page.goto(baseUrl);
});
afterAll(() => browser.close());

const newestCard = (): Locator => browser.page.getByTestId("upload-card").first();

async function waitForSettled(expectedCards: number): Promise<Locator> {
  const cards = browser.page.locator('[data-testid="upload-card"]:not([data-state="uploading"])');
  await expect.poll(() => cards.count(), { timeout: 20_000 }).toBe(expectedCards);
  return newestCard();
}

async function pickFile(name: string, mimeType: string, buffer: Buffer): Promise<void> {
  await browser.page.getByTestId("file-input").setInputFiles({ name, mimeType, buffer });
}

async function thumbnailSize(card: Locator): Promise<[number, number]> {
  const thumbnail = card.getByTestId("upload-thumbnail");
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
    const card = await waitForSettled(1);
    expect(await card.getAttribute("data-state")).toBe("stored");
    expect(await card.getByTestId("upload-id").textContent()).toBe(pictureId);
    expect(await card.getByTestId("upload-badge").textContent()).toBe("new");
    expect(await card.getByTestId("upload-size").textContent()).toMatch(/^160 × 120 px · [\d.]+ KiB canonical PNG$/);
    expect(await thumbnailSize(card)).toEqual([160, 120]);
    await screenshot(browser.page, "02-uploaded");
  });

  it("marks the same pixels as lossless WebP as a duplicate", async () => {
    await pickFile("pattern.webp", "image/webp", await img.losslessWebp(picture));
    const card = await waitForSettled(2);
    expect(await card.getByTestId("upload-id").textContent()).toBe(pictureId);
    expect(await card.getByTestId("upload-badge").textContent()).toBe("duplicate");
    expect(await card.textContent()).toContain("Same pixels as an image already stored");
    await screenshot(browser.page, "03-duplicate");
  });

  it("shows a readable error for a corrupt file", async () => {
    const corrupt = img.truncated(await img.jpegWithOrientation(img.patternRgb(64, 64), 1));
    await pickFile("broken.jpg", "image/jpeg", corrupt);
    const card = await waitForSettled(3);
    expect(await card.getAttribute("data-state")).toBe("refused");
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
    const card = await waitForSettled(4);
    expect(await card.getByTestId("upload-size").textContent()).toMatch(/^64 × 96 px/);
    expect(await thumbnailSize(card)).toEqual([64, 96]);
    await screenshot(browser.page, "05-pasted-rotated");
  });

  it("refuses a dropped SVG as unsupported", async () => {
    await browser.page.getByTestId("drop-zone").evaluate((zone, text) => {
      const data = new DataTransfer();
      data.items.add(new File([text], "drawing.svg", { type: "image/svg+xml" }));
      zone.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
    }, img.svgBytes().toString("utf8"));
    const card = await waitForSettled(5);
    expect(await card.getByTestId("upload-error").textContent()).toBe(
      "SVG files are not supported; send JPEG, PNG, WebP, GIF, TIFF or AVIF.",
    );
    await screenshot(browser.page, "06-dropped-svg-refused");
  });
});

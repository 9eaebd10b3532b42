import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { HealthResponse, MetricsSummary } from "@/lib/api/types";
import { canonicalize, imageIdOf } from "@/lib/images/canonicalize";
import type { ImageId } from "@/lib/ids";
import * as img from "@/tests/support/testImages";
import { openBrowser, type BrowserSession } from "./browser";
import { answers, answerText, prefixReuse, questionBox, send, setMaxNewTokens, waitForStatus } from "./chatPageActions";
import { screenshot } from "./screenshots";

/**
 * The chat page end to end, against the running app serving the e2e test model (random weights: the answers are
 * gibberish, but they are the model's own tokens, streamed and cached like any other).
 *
 * One conversation story in one page, each step building on the previous one: pick an example → its chip turns ready
 * → ask and watch the answer stream → the same question in a new chat comes from the response cache word for word → a new chat about the same image reuses its vision features and the prompt prefix → a pasted image → Stop
 * mid-stream → a corrupt file is refused readably → /metrics counts the hits.
 */
let browser: BrowserSession;
let page: Page;
const baseUrl = inject("baseUrl");

beforeAll(async () => {
  browser = await openBrowser();
  page = browser.page;
  await page.goto(baseUrl);
});
afterAll(() => browser.close());

// ── page helpers ────────────────────────────────────────────────────────────────────────────────────────────────

const badge = (answer: Locator, kind: string): Promise<string | null> =>
  answer.getByTestId(`badge-${kind}`).textContent();
const galleryItem = (imageId: ImageId): Locator =>
  page.locator(`[data-testid="gallery-item"][data-image-id="${imageId}"]`);

async function waitForChipReady(imageId: ImageId): Promise<string> {
  const chip = galleryItem(imageId).getByTestId("image-status-chip");
  await expect.poll(() => chip.getAttribute("data-tone"), { timeout: 30_000 }).toBe("ready");
  return (await chip.textContent()) ?? "";
}

/**
 * Records, in the page, the newest answer's text length and status at every DOM change until `stopRecording`: what
 * the reader saw, render by render, while the answer streamed.
 */
async function startRecording(): Promise<void> {
  await page.evaluate(() => {
    const samples: { length: number; status: string }[] = [];
    const observer = new MutationObserver(() => {
      const all = document.querySelectorAll<HTMLElement>('[data-testid="answer"]');
      const newest = all[all.length - 1];
      if (newest === undefined) return;
      const text = newest.querySelector('[data-testid="answer-markdown"]')?.textContent ?? "";
      samples.push({ length: text.length, status: newest.dataset.status ?? "" });
    });
    observer.observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    Object.assign(window, { __answerRecording: { samples, observer } });
  });
}

async function stopRecording(): Promise<{ length: number; status: string }[]> {
  return page.evaluate(() => {
    const recording = (
      window as unknown as {
        __answerRecording: { samples: { length: number; status: string }[]; observer: MutationObserver };
      }
    ).__answerRecording;
    recording.observer.disconnect();
    return recording.samples;
  });
}

/** The headline number of a /metrics stat card ("1,857" → 1857). */
async function statValue(testId: string): Promise<number> {
  const text = await page.getByTestId(testId).locator("p").nth(1).textContent();
  return Number((text ?? "").replaceAll(",", ""));
}

// ── the story ───────────────────────────────────────────────────────────────────────────────────────────────────

describe("chat page", () => {
  const example = { title: "Chart: a value", file: "chart-value.png", question: "What value does Apr have?" };
  let exampleId: ImageId;
  let firstAnswer = "";

  it("opens with the served model named in the header", async () => {
    const health = (await (await fetch(`${baseUrl}/api/health`)).json()) as HealthResponse;
    expect(health.model).not.toBeNull();
    await expect.poll(() => page.getByTestId("header-model").textContent()).toBe(health.model!.name);
    expect(await page.getByTestId("header-provider").textContent()).toBe(health.model!.executionProvider.toUpperCase());
    expect(await page.getByTestId("header-redis").textContent()).toBe("Redis (external) ✓");
    await screenshot(page, "chat-01-empty");
  });

  it("attaches an example with its starter question, and its chip turns ready", async () => {
    const canonical = await canonicalize(await readFile(path.join("public", "examples", example.file)), {
      maxPixels: 40_000_000,
    });
    if (!canonical.ok) throw new Error(canonical.error.message);
    exampleId = canonical.image.id;

    await page.getByRole("button", { name: example.question }).click();
    const chipLabel = await waitForChipReady(exampleId);
    expect(chipLabel).toMatch(/^ready in \d+(\.\d+)? (ms|s)$/);
    expect(
      await galleryItem(exampleId)
        .getByRole("button", { name: `Attached ${example.title}` })
        .getAttribute("aria-pressed"),
    ).toBe("true");
    expect(await page.getByRole("button", { name: `Remove ${example.title}` }).isVisible()).toBe(true);
    expect(await questionBox(page).inputValue()).toBe(example.question);
    const info = await (await fetch(`${baseUrl}/api/images/${exampleId}`)).json();
    expect(info).toMatchObject({ imageId: exampleId, status: "ready" });
    await screenshot(page, "chat-02-example-ready");
  });

  it("streams the answer: it grows render by render before `done`", async () => {
    await startRecording();
    const answer = await send(page, example.question);
    await waitForStatus(answer, "done");
    const samples = await stopRecording();
    firstAnswer = await answerText(answer);

    const streamed = samples.filter((s) => s.status === "streaming" && s.length > 0).map((s) => s.length);
    expect(new Set(streamed).size).toBeGreaterThanOrEqual(2);
    expect(streamed).toEqual([...streamed].sort((a, b) => a - b));
    expect(firstAnswer.length).toBeGreaterThanOrEqual(Math.max(...streamed));
    expect(samples.at(-1)?.status).toBe("done");

    expect(await page.getByTestId("question").last().textContent()).toBe(example.question);
    expect(await badge(answer, "features")).toBe("features: precomputed");
    expect(await badge(answer, "response")).toBe("response cache miss");
    // The first question about this image in the run (other files use other images): at most the chat template's
    // opening can come from the prefix cache, never the image.
    const [reused, total] = await prefixReuse(answer);
    expect(reused).toBeLessThan(total);
    expect(total).toBeGreaterThan(0);
    expect(await badge(answer, "ttft")).toMatch(/^TTFT \d+(\.\d+)? (ms|s)$/);
    expect(await badge(answer, "speed")).toMatch(/^\d+\.\d tok\/s$/);
    await screenshot(page, "chat-03-streamed-answer");
  });

  it("asks the same question in a new chat: the answer comes from the response cache, word for word", async () => {
    await page.getByRole("button", { name: "New chat" }).click();
    await expect.poll(() => answers(page).count()).toBe(0);
    await galleryItem(exampleId)
      .getByRole("button", { name: `Attach ${example.title}` })
      .click();
    const answer = await send(page, example.question);
    await waitForStatus(answer, "done");
    expect(await badge(answer, "response")).toMatch(/^from response cache in \d+ ms$/);
    expect(await answerText(answer)).toBe(firstAnswer);
    await screenshot(page, "chat-04-response-cache-hit");
  });

  it("a new chat about the same image reuses its vision features (L1) and the prompt prefix (L2)", async () => {
    await page.getByRole("button", { name: "New chat" }).click();
    await expect.poll(() => answers(page).count()).toBe(0);
    await galleryItem(exampleId)
      .getByRole("button", { name: `Attach ${example.title}` })
      .click();
    const answer = await send(page, "What do the two axes measure?");
    await waitForStatus(answer, "done");

    expect(await badge(answer, "features")).toMatch(/^features: (L1|precomputed)$/);
    expect(await answer.getByTestId("badge-features").getAttribute("data-tone")).toBe("saved");
    expect(await badge(answer, "response")).toBe("response cache miss");
    const [reused, total] = await prefixReuse(answer);
    expect(reused).toBeGreaterThan(0);
    expect(reused).toBeLessThan(total);
    expect(await answer.getByTestId("badge-prefix").getAttribute("data-tone")).toBe("saved");
    await screenshot(page, "chat-05-new-chat-l1-l2");
  });

  it("uploads a pasted PNG, attaches it and answers about it", async () => {
    const picture = img.patternRgb(224, 168);
    const pastedId = imageIdOf(picture.data, 224, 168);
    const png = await img.png(picture);
    await page.evaluate((base64) => {
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      const data = new DataTransfer();
      data.items.add(new File([bytes], "pasted.png", { type: "image/png" }));
      document.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
    }, png.toString("base64"));

    expect(await waitForChipReady(pastedId)).toMatch(/^ready in /);
    expect(await page.getByRole("button", { name: "Remove pasted.png" }).isVisible()).toBe(true);
    expect(await page.getByTestId("gallery-item").first().getAttribute("data-image-id")).toBe(pastedId);

    const answer = await send(page, "What is in this picture?");
    await waitForStatus(answer, "done");
    // The conversation holds both images now: the pasted one precomputed at upload, the example's from L1.
    expect(await badge(answer, "features")).toBe("features: 1 precomputed · 1 L1");
    expect((await answerText(answer)).length).toBeGreaterThan(0);
    await screenshot(page, "chat-06-pasted-image");
  });

  it("Stop ends a long answer mid-stream and the page is ready for the next question", async () => {
    await setMaxNewTokens(page, 4096);
    const answer = await send(page, "Describe the trend from January to June in great detail.");
    await expect.poll(async () => (await answerText(answer)).length, { timeout: 30_000 }).toBeGreaterThan(20);
    expect(await answer.getAttribute("data-status")).toBe("streaming");
    await page.getByRole("button", { name: "Stop" }).click();

    await waitForStatus(answer, "stopped", 5_000);
    const atStop = await answerText(answer);
    await page.waitForTimeout(1_500);
    expect(await answerText(answer)).toBe(atStop);
    expect(await answer.getByText("Stopped.").isVisible()).toBe(true);
    await screenshot(page, "chat-07-stopped");

    expect(await page.getByRole("button", { name: "Stop" }).count()).toBe(0);
    expect(await page.getByRole("button", { name: "Regenerate" }).isEnabled()).toBe(true);
    await setMaxNewTokens(page, 24);
    const next = await send(page, "And in one word?");
    await waitForStatus(next, "done");
    expect(await badge(next, "response")).toBe("response cache miss");
    expect(await answerText(answer)).toBe(atStop);
  });

  it("refuses a truncated PNG with a readable error and leaves the gallery as it was", async () => {
    const galleryBefore = await page.getByTestId("gallery-item").count();
    const broken = img.truncated(await img.png(img.patternRgb(120, 90)));
    await page.getByTestId("file-input").setInputFiles({ name: "broken.png", mimeType: "image/png", buffer: broken });
    const card = page.locator('[data-testid="upload-card"][data-state="refused"]').first();
    await expect.poll(() => card.count(), { timeout: 20_000 }).toBe(1);
    expect(await card.getByTestId("upload-error").textContent()).toMatch(
      /^The PNG file could not be decoded \(truncated or corrupt\): \S.*$/,
    );
    expect(await card.textContent()).toContain("broken.png was not accepted");
    expect(await page.getByTestId("gallery-item").count()).toBe(galleryBefore);
    await screenshot(page, "chat-08-corrupt-file");
  });

  it("/metrics shows the hits of this conversation", async () => {
    await page.getByRole("link", { name: "Metrics" }).click();
    await page.waitForURL(`${baseUrl}/metrics`);
    await expect.poll(() => statValue("stat-l3-hits"), { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
    // A line needs two polls (2 s apart): wait for two dots per level that saw lookups (L2 and L3 at least).
    const hitRatioDots = page
      .getByTestId("chart-hit-ratio")
      .getByRole("img", { name: "Hit ratio per cache level over time" })
      .locator("circle");
    await expect.poll(() => hitRatioDots.count(), { timeout: 10_000 }).toBeGreaterThanOrEqual(4);

    // Nothing runs between this fetch and the page's last poll, so both show the same counters.
    const summary = (await (await fetch(`${baseUrl}/api/metrics/summary`)).json()) as MetricsSummary;
    expect(summary.levels.l3.hits).toBeGreaterThanOrEqual(1);
    expect(summary.levels.l1.hits).toBeGreaterThanOrEqual(1);
    expect(summary.prefixTokensReused).toBeGreaterThan(0);
    expect(summary.visionEncoderRunsSaved).toBeGreaterThan(0);
    expect(await statValue("stat-l3-hits")).toBe(summary.levels.l3.hits);
    expect(await statValue("stat-prefix-tokens")).toBe(summary.prefixTokensReused);
    expect(await statValue("stat-encoder-saved")).toBe(summary.visionEncoderRunsSaved);
    expect(await page.getByTestId("chart-ttft").isVisible()).toBe(true);
    expect(await page.getByTestId("chart-memory").isVisible()).toBe(true);
    await screenshot(page, "chat-09-metrics");
  });
});

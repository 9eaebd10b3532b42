import type { Locator, Page, Request } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { ChatRequest } from "@/lib/api/types";
import { formatCount } from "@/lib/client/format";
import * as img from "@/tests/support/testImages";
import { seriousAccessibilityFindings } from "./axe";
import { openBrowser, type BrowserSession } from "./browser";
import {
  answers,
  answerText,
  prefixReuse,
  questionBox,
  send,
  setMaxNewTokens,
  turnAdded,
  waitForStatus,
} from "./chatPageActions";
import { screenshot } from "./screenshots";

/**
 * The chat page as people use it, at a desktop and a phone viewport, in light and dark: the composer's controls (Stop,
 * Esc, sending while an image uploads, an image without text), Regenerate and the response cache's badge, the answer
 * and question actions, following a streaming answer, the phone layout, the colour scheme, and axe-core's findings on
 * the chat and metrics pages. Each layout runs the same story in its own browser; questions name the layout so the
 * response cache (shared by the whole e2e run) never answers one layout with another's words.
 */
const baseUrl = inject("baseUrl");

const LAYOUTS = [
  { name: "desktop-light", viewport: { width: 1280, height: 800 }, colorScheme: "light", phone: false },
  { name: "desktop-dark", viewport: { width: 1280, height: 800 }, colorScheme: "dark", phone: false },
  { name: "phone-light", viewport: { width: 390, height: 844 }, colorScheme: "light", phone: true },
  { name: "phone-dark", viewport: { width: 390, height: 844 }, colorScheme: "dark", phone: true },
] as const;

/** Not the chart "Chart: a value": chat.e2e.test.ts expects to be the first to ask about that one. */
const EXAMPLE_TITLE = "Shapes";

/** Relative luminance of an element's computed background colour (0 black … 1 white). */
function backgroundLuminance(locator: Locator): Promise<number> {
  return locator.evaluate((element) => {
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = 1;
    const context = canvas.getContext("2d")!;
    context.fillStyle = getComputedStyle(element).backgroundColor;
    context.fillRect(0, 0, 1, 1);
    const [r, g, b] = Array.from(context.getImageData(0, 0, 1, 1).data).map((v) => {
      const c = v / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  });
}

/** The answer in an /api/chat SSE body: every `token` event's text, in order. */
function tokenText(sseBody: string): string {
  return sseBody
    .split("\n\n")
    .filter((message) => message.startsWith("event: token\n"))
    .map((message) => (JSON.parse(message.slice(message.indexOf("data: ") + 6)) as { text: string }).text)
    .join("");
}

/** Puts a file on the page the way a drag from the desktop does: dragenter/dragover/drop on `target`. */
async function dropFile(target: Locator, name: string, bytes: Buffer): Promise<void> {
  await target.evaluate(
    (element, [fileName, base64]) => {
      const data = new DataTransfer();
      data.items.add(
        new File([Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))], fileName, { type: "image/png" }),
      );
      for (const type of ["dragenter", "dragover", "drop"]) {
        element.dispatchEvent(new DragEvent(type, { dataTransfer: data, bubbles: true, cancelable: true }));
      }
    },
    [name, bytes.toString("base64")] as const,
  );
}

describe.each(LAYOUTS)("chat page at $name", (layout) => {
  let browser: BrowserSession;
  let page: Page;
  const chatRequests: ChatRequest[] = [];

  const shot = (step: string) => screenshot(page, `ux-${layout.name}-${step}`);
  const log = (): Locator => page.getByRole("log", { name: "Conversation" });
  const ask = (text: string) => send(page, `${text} (${layout.name})`);
  const cacheHitQuestion = `What is this chart about? (${layout.name})`;

  async function attachExample(): Promise<void> {
    await page.getByRole("button", { name: `Attach example: ${EXAMPLE_TITLE}` }).click();
    await page.getByRole("button", { name: `Remove ${EXAMPLE_TITLE}` }).waitFor();
  }

  beforeAll(async () => {
    browser = await openBrowser({ viewport: layout.viewport, colorScheme: layout.colorScheme });
    page = browser.page;
    page.on("request", (request: Request) => {
      if (request.url().endsWith("/api/chat") && request.method() === "POST")
        chatRequests.push(request.postDataJSON() as ChatRequest);
    });

    await page.goto(baseUrl);
    await setMaxNewTokens(page, 24);
  });
  afterAll(() => browser.close());

  it("follows the colour scheme, fits the viewport, and offers the examples in the empty conversation", async () => {
    const luminance = await backgroundLuminance(page.locator("body"));
    if (layout.colorScheme === "dark") expect(luminance).toBeLessThan(0.1);
    else expect(luminance).toBeGreaterThan(0.8);

    const viewportHeight = layout.viewport.height;
    const logBox = (await log().boundingBox())!;
    const composerBox = (await page.getByTestId("composer").boundingBox())!;
    expect(composerBox.y + composerBox.height).toBeLessThanOrEqual(viewportHeight);
    expect(logBox.height).toBeGreaterThan(viewportHeight * (layout.phone ? 0.45 : 0.4));
    expect(
      await log()
        .getByRole("button", { name: `Attach example: ${EXAMPLE_TITLE}` })
        .isVisible(),
    ).toBe(true);
    expect(await page.getByTestId("composer").getByRole("button", { name: "Attach images" }).isVisible()).toBe(true);
    expect(await page.getByRole("complementary", { name: "Images" }).isVisible()).toBe(!layout.phone);
    // The conversation scrolls from the keyboard: it can take focus.
    expect(await log().getAttribute("tabindex")).toBe("0");
    await shot("01-empty");
  });

  it("sends an image without text", async () => {
    await attachExample();
    expect(await questionBox(page).inputValue()).toBe("");
    const sendButton = page.getByRole("button", { name: "Send", exact: true });
    expect(await sendButton.isEnabled()).toBe(true);
    const answer = await send(page, "");
    await waitForStatus(answer, "done");
    const question = page.getByTestId("question").nth(0);
    expect(await question.locator("img").count()).toBe(1);
    expect((await question.textContent())?.trim()).toBe("");
    expect(chatRequests.at(-1)?.message).toMatchObject({
      text: "",
      imageIds: [expect.stringMatching(/^[0-9a-f]{64}$/)],
    });
    await shot("02-image-only");
  });

  it("waits for an image still uploading, showing its progress in the composer, and sends it with the question", async () => {
    // The upload is held back for a moment on its way out (the server answers it as usual), so Send comes first.
    await page.route("**/api/images", async (route) => {
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await route.continue();
    });
    const picture = await img.png(img.patternRgb(90 + layout.name.length, 60));
    await page
      .getByTestId("composer-file-input")
      .setInputFiles({ name: "slow.png", mimeType: "image/png", buffer: picture });
    const before = await answers(page).count();
    await questionBox(page).fill(`What is in the slow picture? (${layout.name})`);
    await page.getByRole("button", { name: "Send", exact: true }).click();
    const pending = page.getByTestId("composer").getByTestId("pending-upload");
    await pending.waitFor();
    expect(await pending.getByRole("progressbar").count()).toBe(1);
    expect(await answers(page).count()).toBe(before);
    await shot("03-upload-pending");

    const answer = await turnAdded(page, before, 20_000);
    await page.unroute("**/api/images");
    await waitForStatus(answer, "done");
    expect(await page.getByTestId("question").nth(before).locator("img").count()).toBe(1);
    expect(chatRequests.at(-1)?.message.imageIds).toHaveLength(1);
  });

  it("follows a streaming answer, offers a jump to the latest text when scrolled up, and Stop only stops", async () => {
    await setMaxNewTokens(page, 4096);
    const answer = await ask("Describe everything in great detail");
    await expect.poll(async () => (await answerText(answer)).length, { timeout: 30_000 }).toBeGreaterThan(400);
    await log().evaluate((element) => element.scrollTo(0, 0));
    const jump = page.getByRole("button", { name: "Jump to latest" });
    await jump.waitFor();
    await jump.click();
    await expect
      .poll(() => log().evaluate((element) => element.scrollHeight - element.scrollTop - element.clientHeight))
      .toBeLessThan(100);

    const draft = "my next question, not to be sent yet";
    await questionBox(page).fill(draft);
    const countBefore = await answers(page).count();
    await page.getByRole("button", { name: "Stop" }).click();
    await waitForStatus(answer, "stopped", 5_000);
    await page.waitForTimeout(1_000);
    expect(await answers(page).count()).toBe(countBefore);
    expect(await questionBox(page).inputValue()).toBe(draft);
    await shot("04-stopped-draft-kept");

    const second = await ask("Another long description");
    await expect.poll(async () => (await answerText(second)).length, { timeout: 30_000 }).toBeGreaterThan(20);
    await questionBox(page).focus();
    await page.keyboard.press("Escape");
    await waitForStatus(second, "stopped", 5_000);
    await setMaxNewTokens(page, 24);
  });

  it("Regenerate samples anew without the response cache, and says so", async () => {
    const answer = answers(page).last();
    const count = await answers(page).count();
    const regenerate = page.getByRole("button", { name: "Regenerate" });
    expect(await regenerate.getAttribute("title")).toMatch(/response cache/i);
    await regenerate.click();
    await waitForStatus(answer, "done");
    expect(await answers(page).count()).toBe(count);
    const request = chatRequests.at(-1)!;
    // The server replaces the session's last turn (the answers so far were each its own turn).
    expect(request.keepTurns).toBe(count - 1);
    expect(request.cache?.l3).toBe(false);
    expect(request.params?.temperature).toBeGreaterThan(0);
    expect(Number.isInteger(request.params?.seed)).toBe(true);
    expect(await answer.getByTestId("regenerated-note").textContent()).toMatch(/new sample.*response cache/i);
    expect(await answer.getByTestId("badge-response").textContent()).toBe("response cache skipped");
  });

  it("an answer from the response cache reads 'from response cache in N ms', without a speed", async () => {
    const text = cacheHitQuestion;
    for (const expected of ["miss", "hit"]) {
      await page.getByRole("button", { name: "New chat" }).click();
      await expect.poll(() => answers(page).count()).toBe(0);
      await attachExample();
      const answer = await send(page, text);
      await waitForStatus(answer, "done");
      if (expected === "miss") {
        expect(await answer.getByTestId("badge-response").textContent()).toBe("response cache miss");
        expect(await answer.getByTestId("badge-speed").textContent()).toMatch(/tok\/s$/);
      } else {
        expect(await answer.getByTestId("badge-response").textContent()).toMatch(/^from response cache in \d+ ms$/);
        expect(await answer.getByTestId("badge-speed").count()).toBe(0);
        expect(await answer.getByTestId("badge-prefix").count()).toBe(0);
      }
    }
    await shot("05-response-cache-hit");
  });

  it("copies an answer, and edits the last question and resends it, reusing the prompt prefix", async () => {
    const first = answers(page).last();
    await first.getByRole("button", { name: "Copy answer" }).click();
    await first.getByText("Copied").waitFor();
    // The answer's Markdown source as the server streams it (the page shows it rendered): the page's request for it,
    // sent again, is answered from the response cache with the same text.
    const request = chatRequests.findLast((r) => r.message.text === cacheHitQuestion)!;
    const again = await fetch(`${baseUrl}/api/chat`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(request),
    });
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(tokenText(await again.text()));

    const followUp = await ask("And the colours?");
    await waitForStatus(followUp, "done");
    const count = await answers(page).count();
    await page.getByRole("button", { name: "Edit question" }).last().click();
    const editor = page.getByRole("textbox", { name: "Edit question" });
    await editor.fill(`And the axis labels? (${layout.name})`);
    await page.getByRole("button", { name: "Resend" }).click();
    const edited = answers(page).last();
    await waitForStatus(edited, "done");
    expect(await answers(page).count()).toBe(count);
    expect(await page.getByTestId("question").last().textContent()).toContain(`And the axis labels? (${layout.name})`);
    const [reused, total] = await prefixReuse(edited);
    expect(reused).toBeGreaterThan(0);
    expect(reused).toBeLessThan(total);
    expect(await edited.getByTestId("edit-note").textContent()).toMatch(/edited/i);
    await shot("06-edited");
  });

  it("edits the first of three questions: says the later turns go, replaces them, and reuses the image's prefix", async () => {
    await page.getByRole("button", { name: "New chat" }).click();
    await expect.poll(() => answers(page).count()).toBe(0);
    await attachExample();
    for (const question of ["What shapes are there?", "Which is largest?", "Which colours?"])
      await waitForStatus(await ask(question), "done");
    // The first question started the session; the later ones name it.
    const [asked, { sessionId }] = chatRequests.slice(-3);
    expect(sessionId).toBeDefined();

    await page.getByRole("button", { name: "Edit question" }).first().click();
    expect(await page.getByTestId("edit-replaces-note").textContent()).toMatch(
      /replaces the 2 later questions and their answers/,
    );
    const reworded = `How many shapes are there? (${layout.name})`;
    await page.getByRole("textbox", { name: "Edit question" }).fill(reworded);
    await shot("06b-edit-first-question");
    await page.getByRole("button", { name: "Resend" }).click();
    await expect.poll(() => answers(page).count()).toBe(1);
    const edited = answers(page).first();
    await waitForStatus(edited, "done");
    const request = chatRequests.at(-1)!;
    expect(request).toMatchObject({ sessionId, keepTurns: 0, message: { text: reworded } });
    expect(request.message.imageIds).toEqual(asked.message.imageIds);
    expect(await page.getByTestId("question").first().textContent()).toContain(reworded);
    // The question's image comes before its text: the reworded question reuses the template and image tokens.
    const [reused, total] = await prefixReuse(edited);
    expect(reused).toBeGreaterThan(0);
    expect(reused).toBeLessThan(total);
    expect(await edited.getByTestId("edit-note").textContent()).toBe(
      `Edited and resent: ${formatCount(reused)} of ${formatCount(total)} prompt tokens came from the prefix cache.`,
    );
    await shot("06c-edited-first-question");

    // The server's session now holds the edited turn alone: a follow-up's prompt is as long as that conversation
    // asked afresh with every cache off.
    const followUp = await ask("And their sizes?");
    await waitForStatus(followUp, "done");
    const [, followUpTotal] = await prefixReuse(followUp);
    const fresh = async (body: ChatRequest) => {
      const response = await fetch(`${baseUrl}/api/chat`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ ...body, params: { maxNewTokens: 24 }, cache: { l1: false, l2: false, l3: false } }),
      });
      const events = await response.text();
      return {
        sessionId: /"sessionId":"([^"]+)"/.exec(events)![1] as ChatRequest["sessionId"],
        promptTokens: Number(/"promptTokens":(\d+)/.exec(events)![1]),
      };
    };
    const first = await fresh({ message: request.message });
    const second = await fresh({ sessionId: first.sessionId, message: chatRequests.at(-1)!.message });
    expect(second.promptTokens).toBe(followUpTotal);
  });

  it("opens an attached image full size", async () => {
    await page
      .getByTestId("question")
      .first()
      .getByRole("button", { name: /^View full size/ })
      .click();
    const viewer = page.getByRole("dialog", { name: /full size/i });
    await viewer.waitFor();
    const image = viewer.locator("img");
    await expect
      .poll(() => image.evaluate((el: HTMLImageElement) => el.complete && el.naturalWidth))
      .toBeGreaterThan(100);
    await shot("07-image-viewer");
    await page.keyboard.press("Escape");
    await expect.poll(() => viewer.isVisible()).toBe(false);
  });

  it("uploads a file dropped anywhere on the page, without repeating it as an upload card", async () => {
    const name = `dropped-${layout.name}.png`;
    await dropFile(log(), name, await img.png(img.patternRgb(70 + layout.name.length, 50)));
    await page.getByRole("button", { name: `Remove ${name}` }).waitFor({ timeout: 20_000 });
    expect(await page.locator('[data-testid="upload-card"][data-state="stored"]').count()).toBe(0);
    if (!layout.phone) expect(await page.getByTestId("gallery-item").filter({ hasText: name }).count()).toBe(1);
  });

  it("on a phone, opens the session's images from the composer and attaches an earlier one again", async () => {
    const imagesButton = page.getByTestId("composer").getByRole("button", { name: "Images", exact: true });
    expect(await imagesButton.isVisible()).toBe(layout.phone);
    if (!layout.phone) return;
    expect(await page.getByRole("button", { name: `Remove ${EXAMPLE_TITLE}` }).count()).toBe(0);
    await imagesButton.click();
    expect(await imagesButton.getAttribute("aria-expanded")).toBe("true");
    const item = page.getByTestId("composer").getByTestId("gallery-item").filter({ hasText: EXAMPLE_TITLE });
    await item.getByRole("button", { name: `Attach ${EXAMPLE_TITLE}` }).click();
    await page.getByRole("button", { name: `Remove ${EXAMPLE_TITLE}` }).waitFor();
    expect(await item.getByTestId("image-status-chip").isVisible()).toBe(true);
    await shot("07b-phone-images");
    await imagesButton.click();
    expect(await page.getByTestId("composer").getByTestId("gallery-item").count()).toBe(0);
  });

  it("has no serious accessibility findings after a conversation", async () => {
    expect(await seriousAccessibilityFindings(page)).toEqual([]);
    await shot("08-conversation");
  });

  it("keeps a chosen theme across a reload", async () => {
    const other = layout.colorScheme === "dark" ? "light" : "dark";
    await page.getByLabel("Theme").selectOption(other);
    const luminance = () => backgroundLuminance(page.locator("body"));
    await expect.poll(luminance).toSatisfy((value: number) => (other === "dark" ? value < 0.1 : value > 0.8));
    await page.reload();
    await expect.poll(luminance).toSatisfy((value: number) => (other === "dark" ? value < 0.1 : value > 0.8));
    expect(await page.getByLabel("Theme").inputValue()).toBe(other);
    await page.getByLabel("Theme").selectOption("system");
    await expect
      .poll(luminance)
      .toSatisfy((value: number) => (layout.colorScheme === "dark" ? value < 0.1 : value > 0.8));
  });

  it("the metrics page follows the scheme, its TTFT labels do not overlap, and axe finds nothing serious", async () => {
    await page.goto(`${baseUrl}/metrics`);
    const chart = page.getByTestId("chart-ttft");
    const labels = chart.getByTestId("x-label");
    await expect.poll(() => labels.count(), { timeout: 10_000 }).toBeGreaterThan(1);
    const boxes = await labels.evaluateAll((elements) =>
      elements.map((element) => {
        const box = element.getBoundingClientRect();
        return { left: box.left, right: box.right };
      }),
    );
    for (let i = 1; i < boxes.length; i++) expect(boxes[i].left).toBeGreaterThanOrEqual(boxes[i - 1].right);
    const luminance = await backgroundLuminance(page.locator("body"));
    if (layout.colorScheme === "dark") expect(luminance).toBeLessThan(0.1);
    else expect(luminance).toBeGreaterThan(0.8);
    expect(await seriousAccessibilityFindings(page)).toEqual([]);
    await shot("09-metrics");
  });

  it("has a favicon", async () => {
    const href = await page.locator('link[rel="icon"]').first().getAttribute("href");
    expect(href).not.toBeNull();
    const response = await fetch(new URL(href!, baseUrl));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^image\//);
  });
});

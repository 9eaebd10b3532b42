import type { Locator, Page } from "playwright-core";
import { expect } from "vitest";
import { SEND_DEBOUNCE_MS } from "@/lib/client/clientConfig";

/** Sets "Max new tokens" in the chat page's settings panel (opened for it, folded again after). */
export async function setMaxNewTokens(page: Page, value: number): Promise<void> {
  const settings = page.getByTestId("settings");
  const summary = settings.locator("summary");
  if ((await settings.getAttribute("open")) === null) await summary.click();
  const field = settings.getByLabel("Max new tokens");
  await field.fill(String(value));
  await field.press("Enter");
  await summary.filter({ hasText: `max ${value} tokens` }).waitFor();
  await summary.click();
}

export const answers = (page: Page): Locator => page.getByTestId("answer");
export const questionBox = (page: Page): Locator => page.getByRole("textbox", { name: "Question" });

/** The rendered Markdown of an answer ("Thinking…", "Stopped." and errors are not in it). */
export async function answerText(answer: Locator): Promise<string> {
  const markdown = answer.getByTestId("answer-markdown");
  return (await markdown.count()) === 0 ? "" : ((await markdown.first().textContent()) ?? "");
}

export async function waitForStatus(answer: Locator, status: string, timeout = 30_000): Promise<void> {
  await expect.poll(() => answer.getAttribute("data-status"), { timeout }).toBe(status);
}

/** When each page's Send was last pressed through `send`. */
const lastPress = new WeakMap<Page, number>();

/**
 * Types `text` and presses Send; returns the new answer, named by position so it stays this answer later. A press
 * within SEND_DEBOUNCE_MS of the previous one would be swallowed as a double click (a cached answer can be done that
 * fast), so it waits that out first, as any person would have.
 */
export async function send(page: Page, text: string): Promise<Locator> {
  const before = await answers(page).count();
  await questionBox(page).fill(text);
  const wait = (lastPress.get(page) ?? 0) + SEND_DEBOUNCE_MS - Date.now();
  if (wait > 0) await page.waitForTimeout(wait);
  lastPress.set(page, Date.now());
  const sendButton = page.getByRole("button", { name: "Send", exact: true });
  await sendButton.click();
  // A new turn shows within a frame or two; on a loaded machine rendering can take seconds (poll's default is 1 s).
  const added = () => expect.poll(() => answers(page).count(), { timeout: 10_000 }).toBe(before + 1);
  try {
    await added();
  } catch {
    // Seen in about one full e2e run in three, never with chatPage.e2e.test.ts alone: a press that adds no turn (cause
    // not found yet). Log what the composer said, so the cause can be found, and press once more.
    console.warn(`send: a press added no turn; the composer showed: ${await page.getByTestId("composer").innerText()}`);
    await page.waitForTimeout(SEND_DEBOUNCE_MS);
    lastPress.set(page, Date.now());
    await sendButton.click();
    await added();
  }
  return answers(page).nth(before);
}

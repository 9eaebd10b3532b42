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

/**
 * The numbers of an answer's prefix badge: "prefix 12/345 reused", with " from memory" or " from store" when any
 * were → [12, 345] (tokens reused, prompt tokens).
 */
export async function prefixReuse(answer: Locator): Promise<[number, number]> {
  const label = await answer.getByTestId("badge-prefix").textContent();
  const match = /^prefix ([\d,]+)\/([\d,]+) reused(?: from (?:memory|store))?$/.exec(label ?? "");
  if (match === null) throw new Error(`unexpected prefix badge: ${label}`);
  return [Number(match[1].replaceAll(",", "")), Number(match[2].replaceAll(",", ""))];
}

export async function waitForStatus(answer: Locator, status: string, timeout = 30_000): Promise<void> {
  await expect.poll(() => answer.getAttribute("data-status"), { timeout }).toBe(status);
}

/**
 * When each page last handled a press of Send made through these helpers, on this process's clock, taken once the
 * press had added its turn (the page records the press and adds the turn in one step). Taken before the click instead,
 * it can be a second or more early: a page whose main thread is busy (a loaded machine) handles the click that much
 * later, and when that answer then comes from the response cache at once, the next press — SEND_DEBOUNCE_MS after the
 * early timestamp here — lands within SEND_DEBOUNCE_MS of the first in the page's time and is swallowed as a double
 * click (seen in about one loaded full e2e run in three).
 */
const lastPress = new WeakMap<Page, number>();

/**
 * Waits until the press of Send that made answer number `turnsBefore` (0-based) has added that turn, remembers when
 * (see lastPress) and returns the answer, named by position so it stays this answer later. `timeout`: a question
 * queued behind an upload goes out only when the upload has arrived.
 */
export async function turnAdded(page: Page, turnsBefore: number, timeout = 10_000): Promise<Locator> {
  // A new turn shows within a frame or two; on a loaded machine rendering can take seconds (poll's default is 1 s).
  await expect.poll(() => answers(page).count(), { timeout }).toBe(turnsBefore + 1);
  lastPress.set(page, Date.now());
  return answers(page).nth(turnsBefore);
}

/**
 * Types `text` (empty: an image alone) and presses Send; returns the new answer. A press within SEND_DEBOUNCE_MS of
 * the previous one would be swallowed as a double click (a cached answer can be done that fast), so it waits that out
 * first, as any person would have.
 */
export async function send(page: Page, text: string): Promise<Locator> {
  const before = await answers(page).count();
  await questionBox(page).fill(text);
  const wait = (lastPress.get(page) ?? 0) + SEND_DEBOUNCE_MS - Date.now();
  if (wait > 0) await page.waitForTimeout(wait);
  await page.getByRole("button", { name: "Send", exact: true }).click();
  return turnAdded(page, before);
}

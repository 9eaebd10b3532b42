import type { Page } from "playwright-core";

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

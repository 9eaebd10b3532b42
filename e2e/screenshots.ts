import path from "node:path";
import type { Page } from "playwright-core";

/** Kept as test artifacts: test-results/e2e/<name>.png (the whole page). */
export async function screenshot(page: Page, name: string): Promise<string> {
  const file = path.join(process.cwd(), "test-results", "e2e", `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

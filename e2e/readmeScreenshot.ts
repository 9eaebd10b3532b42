/**
 * Makes the README's pictures of the chat page in use: docs/screenshot.png (desktop, 1280×800) and
 * docs/screenshot-phone.png (a phone, 390×844, dark): the demo model answering two of the Examples row's GUI
 * questions — "where to click", drawn as a labelled box over the dialog, then the disabled button of a second dialog,
 * whose badges show the prefix reused from the first turn.
 *
 *   npx tsx e2e/readmeScreenshot.ts     # runs `next build` first unless .next is newer than every source
 *
 * It runs the same stack as the e2e tests (testStack.ts: the built app, a private redis-server) with the demo model.
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { Locator, Page } from "playwright-core";
import { ensureDemoBundle } from "@/lib/demoModel/bundle";
import { DEMO_EXAMPLES, demoExampleItem } from "@/lib/demoModel/examples";
import { ensureAppBuilt } from "./appServer";
import { openBrowser } from "./browser";
import { setMaxNewTokens } from "./chatPageActions";
import { startTestStack } from "./testStack";

const SHOTS = [
  {
    file: path.join(process.cwd(), "docs", "screenshot.png"),
    viewport: { width: 1280, height: 800 },
    colorScheme: "light",
  },
  {
    file: path.join(process.cwd(), "docs", "screenshot-phone.png"),
    viewport: { width: 390, height: 844 },
    colorScheme: "dark",
  },
] as const;
const LOG_DIR = path.join(process.cwd(), "test-results", "readme-screenshot");
/** The starter questions of the first two examples (the dialogs: where to click, which button is disabled). */
const QUESTIONS = DEMO_EXAMPLES.slice(0, 2).map((example) => demoExampleItem(example).turns[0].question);
/** Short answers, so both turns and their badges fit in the picture. */
const MAX_NEW_TOKENS = 64;

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function askAndWait(page: Page, send: () => Promise<void>): Promise<Locator> {
  const index = await page.getByTestId("answer").count();
  await send();
  const answer = page.getByTestId("answer").nth(index);
  await until(
    "the answer to finish",
    async () => (await answer.count()) === 1 && (await answer.getAttribute("data-status")) === "done",
  );
  return answer;
}

async function takeScreenshot(baseUrl: string, shot: (typeof SHOTS)[number]): Promise<void> {
  const browser = await openBrowser({ viewport: shot.viewport, colorScheme: shot.colorScheme });
  try {
    const { page } = browser;
    await page.goto(baseUrl);
    await setMaxNewTokens(page, MAX_NEW_TOKENS);
    for (const question of QUESTIONS) {
      await page.getByRole("button", { name: question }).click();
      const chips = page.getByTestId("gallery-item").getByTestId("image-status-chip");
      // Each example's features are encoded at upload ("ready"; "cached" when the picture was made before).
      await until("the example's features", async () => {
        const tones = await chips.evaluateAll((all) => all.map((chip) => chip.getAttribute("data-tone")));
        return tones.length > 0 && tones.every((tone) => tone === "ready" || tone === "cached");
      });
      await askAndWait(page, () => page.getByRole("button", { name: "Send", exact: true }).click());
    }
    // Leave the question box unfocused and the conversation at its start, as a reader would after reading it.
    await page.getByRole("textbox", { name: "Question" }).blur();
    await page.getByRole("log", { name: "Conversation" }).evaluate((list) => list.scrollTo(0, 0));

    await mkdir(path.dirname(shot.file), { recursive: true });
    await page.screenshot({ path: shot.file });
    console.log(`readme screenshot: wrote ${path.relative(process.cwd(), shot.file)}`);
  } finally {
    await browser.close();
  }
}

async function main(): Promise<void> {
  await mkdir(LOG_DIR, { recursive: true });
  if ((await ensureAppBuilt(path.join(LOG_DIR, "build.log"))) === "built")
    console.log("readme screenshot: built the app");
  const bundle = await ensureDemoBundle(path.join(process.cwd(), ".cache"));
  const stack = await startTestStack(path.join(LOG_DIR, "server.log"), bundle.dir);
  try {
    for (const shot of SHOTS) await takeScreenshot(stack.baseUrl, shot);
  } finally {
    await stack.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

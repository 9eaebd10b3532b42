/**
 * Makes the README's pictures of the chat page in use: docs/screenshot.png (desktop, 1280×800) and
 * docs/screenshot-phone.png (a phone, 390×844, dark): the demo model answering the Examples row's "where to click"
 * question, its grounding answer drawn as a labelled box over the dialog, with the answer's cache badges.
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
/** The starter question of the first example (a dialog: where to click), answered with a grounding box. */
const QUESTION = demoExampleItem(DEMO_EXAMPLES[0]).turns[0].question;
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
    await page.getByRole("button", { name: QUESTION }).click();
    const chip = page.getByTestId("gallery-item").getByTestId("image-status-chip").first();
    // "ready" on the first picture; the second picture uploads the same example again, whose features are cached.
    await until(
      "the example's features",
      async () =>
        (await chip.count()) === 1 && ["ready", "cached"].includes((await chip.getAttribute("data-tone")) ?? ""),
    );
    const answer = await askAndWait(page, () => page.getByRole("button", { name: "Send", exact: true }).click());
    await until("the grounding box", async () => (await answer.getByTestId("grounding-box").count()) > 0);
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

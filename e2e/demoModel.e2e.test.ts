import path from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureDemoBundle } from "@/lib/demoModel/bundle";
import { DEMO_EXAMPLES, demoExampleItem } from "@/lib/demoModel/examples";
import { DEMO_MODEL_DESCRIPTION } from "@/lib/demoModel/identity";
import { parseGrounding, scoreAnswer } from "@/lib/demoModel/score";
import { openBrowser, type BrowserSession } from "./browser";
import { ARTIFACTS_DIR } from "./globalSetup";
import { screenshot } from "./screenshots";
import { startTestStack, type TestStack } from "./testStack";

/**
 * What `npm run demo` shows a newcomer: the app serving the trained demo model (its own stack, not the random-weight
 * test model the other e2e files share). An example's starter question, sent from the Examples row, gets the right
 * answer in Chromium, and the grounding answer is drawn over the image as a labelled box.
 */
let stack: TestStack;
let browser: BrowserSession;
let page: Page;

const grounding = DEMO_EXAMPLES.map((example) => ({ example, item: demoExampleItem(example) })).find(
  ({ item }) => parseGrounding(item.turns[0].answer) !== null,
);
if (grounding === undefined) throw new Error("lib/demoModel/examples.ts has no grounding example");

beforeAll(async () => {
  const bundle = await ensureDemoBundle(path.join(process.cwd(), ".cache"));
  stack = await startTestStack(path.join(ARTIFACTS_DIR, "demo-model-server.log"), bundle.dir);
  browser = await openBrowser();
  page = browser.page;
  await page.goto(stack.baseUrl);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

describe("the demo model in the chat page", () => {
  it("says in the header what it is", async () => {
    await expect.poll(() => page.getByTestId("header-demo-model").textContent()).toBe(DEMO_MODEL_DESCRIPTION);
  });

  it("answers an example's grounding question right and draws the labelled box", async () => {
    const { example, item } = grounding;
    const [turn] = item.turns;
    const label = parseGrounding(turn.answer)!.label;
    await page.getByRole("button", { name: turn.question }).click();
    await expect.poll(() => page.getByRole("textbox", { name: "Question" }).inputValue()).toBe(turn.question);
    await expect
      .poll(() => page.getByTestId("gallery-item").getByTestId("image-status-chip").getAttribute("data-tone"), {
        timeout: 30_000,
      })
      .toBe("ready");
    await page.getByRole("button", { name: "Send" }).click();

    const answer = page.getByTestId("answer").first();
    await expect.poll(() => answer.getAttribute("data-status"), { timeout: 30_000 }).toBe("done");
    // Right = Qwen3-VL's grounding form with the expected label and a box overlapping the true one by IoU ≥ 0.5.
    const shown = /\{"bbox_2d".*?\}/.exec((await answer.textContent()) ?? "")?.[0] ?? "";
    expect({ example: example.file, shown, ...scoreAnswer(turn.answer, shown) }).toMatchObject({
      example: example.file,
      correct: true,
    });
    const box = page.locator(`[data-testid="grounding-box"][data-label="${label}"]`);
    await expect.poll(() => box.count()).toBeGreaterThan(0);
    expect(await box.first().isVisible()).toBe(true);
    await screenshot(page, "demo-model-grounding");
  });
});

import { mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Page, Route } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HealthResponse } from "@/lib/api/types";
import { startTestRedis, type TestRedis } from "@/tests/support/redisServer";
import * as img from "@/tests/support/testImages";
import { startApp, type RunningApp } from "./appServer";
import { openBrowser, type BrowserSession } from "./browser";
import { answers, questionBox, waitForStatus } from "./chatPageActions";
import { ARTIFACTS_DIR } from "./globalSetup";
import { screenshot } from "./screenshots";

/**
 * The chat page against a server that cannot answer: an app started with an empty model folder (its health says
 * `degraded` with the loader's ENOENT for the bundle's first file), then killed. The page must say so in plain words (details
 * folded), keep Send disabled with the reason, not call an unencoded image "ready", and notice the dead server at the
 * next failed request rather than at the next scheduled health poll. Its own app and redis-server, one per layout.
 */
const LAYOUTS = [
  { name: "desktop-light", viewport: { width: 1280, height: 800 }, colorScheme: "light", phone: false },
  { name: "phone-dark", viewport: { width: 390, height: 844 }, colorScheme: "dark", phone: true },
] as const;

/** Visible text only: the content of a closed <details> is not rendered, so innerText leaves it out. */
const visibleText = (page: Page, testId: string) =>
  page
    .getByTestId(testId)
    .first()
    .evaluate((element) => (element as HTMLElement).innerText);

/** Waits until the app's health reports the failed model load (it answers /api/health before trying to load). */
async function waitForModelError(baseUrl: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const health = (await (await fetch(`${baseUrl}/api/health`)).json()) as HealthResponse;
    if (health.modelError !== undefined) return;
    if (Date.now() > deadline) throw new Error("the app without a model never reported its failed load");
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe.each(LAYOUTS)("failure states at $name", (layout) => {
  let redis: TestRedis;
  let app: RunningApp;
  let cacheDir: string;
  let browser: BrowserSession;
  let page: Page;
  const shot = (step: string) => screenshot(page, `failure-${layout.name}-${step}`);

  beforeAll(async () => {
    redis = await startTestRedis();
    cacheDir = await mkdtemp(path.join(os.tmpdir(), "vlcache-e2e-nomodel-"));
    const emptyModelDir = path.join(cacheDir, "empty-model");
    await mkdir(emptyModelDir);
    app = await startApp(
      { REDIS_URL: redis.url, CACHE_DIR: cacheDir, MODEL_DIR: emptyModelDir, LOG_LEVEL: "info" },
      path.join(ARTIFACTS_DIR, `server-no-model-${layout.name}.log`),
    );
    await waitForModelError(app.baseUrl);
    browser = await openBrowser({ viewport: layout.viewport, colorScheme: layout.colorScheme });
    page = browser.page;
  }, 90_000);
  afterAll(async () => {
    await browser.close();
    await app.stop();
    await redis.teardown();
    await rm(cacheDir, { recursive: true, force: true });
  });

  it("a failed answer is told in plain words, the loader's ENOENT path folded away", async () => {
    // The page's health polls are held back, so it does not know yet that no model is loaded and lets the question go.
    const held: Route[] = [];
    await page.route("**/api/health", (route) => void held.push(route));
    try {
      await page.goto(app.baseUrl);
      await questionBox(page).fill("Hello?");
      await page.getByRole("button", { name: "Send", exact: true }).click();
      const answer = answers(page).nth(0);
      await waitForStatus(answer, "failed");
      const shown = await visibleText(page, "answer-error");
      expect(shown).toMatch(/no model/i);
      expect(shown).not.toMatch(/ENOENT|\/[\w.-]+\//);
      const details = answer.getByTestId("answer-error").locator("details");
      await details.locator("summary").click();
      expect(await details.textContent()).toMatch(/ENOENT/);
      await shot("01-answer-failed");
    } finally {
      await page.unroute("**/api/health");
      // A held poll the page has given up on (its 5 s timeout) can no longer be answered.
      for (const route of held) await route.continue().catch(() => undefined);
    }
  });

  it("a banner says no model is loaded, details folded, and Send is disabled with the reason", async () => {
    const banner = page.getByTestId("connection-banner");
    await expect.poll(() => banner.getAttribute("data-state"), { timeout: 15_000 }).toBe("no-model");
    const shown = await visibleText(page, "connection-banner");
    expect(shown).toMatch(/no model is loaded/i);
    expect(shown).not.toMatch(/ENOENT/);
    expect(await banner.locator("details").count()).toBe(1);
    await questionBox(page).fill("Another question");
    expect(await page.getByRole("button", { name: "Send", exact: true }).isDisabled()).toBe(true);
    expect(await page.getByTestId("send-blocked").textContent()).toMatch(/no model is loaded/i);
    await shot("02-no-model-banner");
  });

  it("an uploaded image is not called ready when nothing encoded it", async () => {
    const name = `unencoded-${layout.name}.png`;
    await page
      .getByTestId("composer-file-input")
      .setInputFiles({ name, mimeType: "image/png", buffer: await img.png(img.patternRgb(48, 40)) });
    await page.getByRole("button", { name: `Remove ${name}` }).waitFor({ timeout: 20_000 });
    if (!layout.phone) {
      const chip = page.getByTestId("gallery-item").filter({ hasText: name }).getByTestId("image-status-chip");
      await expect.poll(() => chip.textContent()).toBe("not encoded");
      expect(await chip.getAttribute("data-tone")).toBe("idle");
    }
    await shot("03-unencoded-image");
  });

  it("notices a dead server at the next failed request, well before the next scheduled health poll", async () => {
    await app.stop();
    await page
      .getByTestId("composer-file-input")
      .setInputFiles({ name: "after-death.png", mimeType: "image/png", buffer: await img.png(img.patternRgb(30, 30)) });
    const banner = page.getByTestId("connection-banner");
    // The scheduled poll comes every 10 s while the server is up; the failed upload triggers one at once.
    await expect.poll(() => banner.getAttribute("data-state"), { timeout: 4_000 }).toBe("down");
    expect(await page.getByRole("button", { name: "Send", exact: true }).isDisabled()).toBe(true);
    expect(await page.getByTestId("send-blocked").textContent()).toMatch(/not responding/i);
    await shot("04-server-down");
  });
});

import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";

/**
 * Debian's Chromium (/usr/bin/chromium) driven by playwright-core. Playwright's own browser downloads are not used.
 * Every launch gets a fresh profile directory, removed on close.
 */
export const CHROMIUM_PATH = "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface BrowserSession {
  readonly page: Page;
  readonly context: BrowserContext;
  close(): Promise<void>;
}

export interface BrowserOptions {
  viewport?: { width: number; height: number };
  /** What `prefers-color-scheme` answers; Chromium's default is light. */
  colorScheme?: "light" | "dark";
}

export async function openBrowser({
  viewport = { width: 1100, height: 900 },
  colorScheme = "light",
}: BrowserOptions = {}): Promise<BrowserSession> {
  const profileDir = await mkdtemp(path.join(os.tmpdir(), "vlcache-chromium-"));
  // launchPersistentContext is how playwright takes an explicit --user-data-dir.
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
    colorScheme,
    // Copy buttons write to the clipboard; the tests read it back.
    permissions: ["clipboard-read", "clipboard-write"],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    page,
    context,
    async close() {
      await context.close();
      await rm(profileDir, { recursive: true, force: true });
    },
  };
}

import type { Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { ChatRequest } from "@/lib/api/types";
import { openBrowser, type BrowserSession } from "./browser";
import { answers, answerText, prefixReuse, send, setMaxNewTokens, waitForStatus } from "./chatPageActions";
import { screenshot } from "./screenshots";

/**
 * The chat history kept in the browser (IndexedDB), end to end at a desktop and a phone viewport, each in a fresh
 * browser profile against the running app: a reload reopens the conversation and its follow-up continues the
 * server session (the L2 prefix cache reuses the whole earlier prompt); a rename survives a reload; New chat can be
 * undone; deleting a chat deletes its server session too. Below the desktop breakpoint the list is behind "Chats".
 * Two tabs of one browser share the list: what one starts, renames or deletes shows in the other without a reload.
 */
const baseUrl = inject("baseUrl");

const VIEWPORTS = [
  { name: "desktop", width: 1280, height: 800, phone: false },
  { name: "phone", width: 390, height: 844, phone: true },
];

describe.each(VIEWPORTS)("chat history at $width×$height ($name)", (viewport) => {
  let browser: BrowserSession;
  let page: Page;
  const firstQuestion = `What does the ${viewport.name} page show?`;
  const followUp = "And what colour is it?";
  let firstSession = "";
  let firstAnswer = "";

  beforeAll(async () => {
    browser = await openBrowser({ viewport: { width: viewport.width, height: viewport.height } });
    page = browser.page;
    await page.goto(baseUrl);
    await setMaxNewTokens(page, 12);
  });
  afterAll(() => browser.close());

  const questions = (): Locator => page.getByTestId("question");

  /**
   * Sends a question (chatPageActions' send: it waits out the page's send debounce) and resolves, once the answer
   * has the status `until`, with the answer and the request the page posted. (Chromium keeps no body of a streamed
   * fetch, so the session a stream named is seen in the next request that sends it back.)
   */
  async function ask(text: string, until = "done"): Promise<{ answer: Locator; request: ChatRequest }> {
    const [request, answer] = await Promise.all([
      page.waitForRequest((r) => r.url().endsWith("/api/chat") && r.method() === "POST"),
      send(page, text),
    ]);
    await waitForStatus(answer, until);
    return { answer, request: request.postDataJSON() as ChatRequest };
  }

  /** The list of past chats: the sidebar on a desktop, the drawer behind "Chats" on a phone (opened here). */
  async function historyPanel(): Promise<Locator> {
    if (!viewport.phone) return page.getByRole("complementary", { name: "Chat history" });
    await page.getByRole("button", { name: /^Chats \(\d+\)$/ }).click();
    const drawer = page.getByRole("dialog", { name: "Chat history" });
    await drawer.waitFor();
    return drawer;
  }

  async function closeHistory(): Promise<void> {
    if (!viewport.phone) return;
    await page.keyboard.press("Escape");
    await page.getByRole("dialog", { name: "Chat history" }).waitFor({ state: "hidden" });
  }

  async function listedTitles(): Promise<string[]> {
    const panel = await historyPanel();
    const titles = await panel.getByTestId("history-chat-title").allTextContents();
    await closeHistory();
    return titles;
  }

  async function reload(): Promise<void> {
    await page.reload();
    // The first paint has no turns; the history reopens the conversation once the database is read.
    await page.getByRole("textbox", { name: "Question" }).waitFor();
  }

  it("keeps the chat over a reload, and the follow-up continues the server session, reusing its whole prompt", async () => {
    if (viewport.phone) expect(await page.getByRole("complementary", { name: "Chat history" }).isVisible()).toBe(false);

    const first = await ask(firstQuestion);
    expect(first.request.sessionId).toBeUndefined();
    firstAnswer = await answerText(first.answer);
    const firstBadge = await prefixReuse(first.answer);
    expect(firstAnswer.length).toBeGreaterThan(0);
    expect(await listedTitles()).toEqual([firstQuestion]);

    await reload();
    await expect.poll(() => answers(page).count(), { timeout: 10_000 }).toBe(1);
    expect(await questions().allTextContents()).toEqual([firstQuestion]);
    expect(await answerText(answers(page).nth(0))).toBe(firstAnswer);
    expect(await answers(page).nth(0).getAttribute("data-status")).toBe("done");
    expect(await prefixReuse(answers(page).nth(0))).toEqual(firstBadge);
    expect(await listedTitles()).toEqual([firstQuestion]);
    await screenshot(page, `history-${viewport.name}-after-reload`);

    const second = await ask(followUp);
    firstSession = second.request.sessionId ?? "";
    expect(firstSession).not.toBe("");
    // The server still had that session (a lost one fails the turn), and the follow-up's prompt starts with the
    // whole first prompt, which the first turn left in the prefix cache: more than a new chat could reuse.
    const [reused, total] = await prefixReuse(second.answer);
    expect(reused).toBeGreaterThanOrEqual(firstBadge[1]);
    expect(total).toBeGreaterThan(reused);
    expect(await questions().allTextContents()).toEqual([firstQuestion, followUp]);
  });

  it("keeps a rename over a reload", async () => {
    const panel = await historyPanel();
    await panel.getByRole("button", { name: `Rename ${firstQuestion}` }).click();
    const field = panel.getByRole("textbox", { name: "Chat title" });
    expect(await field.inputValue()).toBe(firstQuestion);
    await field.fill("  Colour   questions ");
    await field.press("Enter");
    await expect.poll(() => panel.getByTestId("history-chat-title").allTextContents()).toEqual(["Colour questions"]);
    await screenshot(page, `history-${viewport.name}-list`);
    await page.emulateMedia({ colorScheme: "dark" });
    await screenshot(page, `history-${viewport.name}-list-dark`);
    await page.emulateMedia({ colorScheme: "light" });
    await closeHistory();

    await reload();
    await expect.poll(() => answers(page).count(), { timeout: 10_000 }).toBe(2);
    expect(await listedTitles()).toEqual(["Colour questions"]);
  });

  it("New chat clears the page and offers Undo, which brings the conversation back", async () => {
    await page.getByRole("button", { name: "New chat" }).click();
    await expect.poll(() => answers(page).count()).toBe(0);
    const toast = page.getByTestId("undo-new-chat");
    expect(await toast.textContent()).toContain("“Colour questions” is kept in your chats.");
    await screenshot(page, `history-${viewport.name}-undo`);
    await toast.getByRole("button", { name: "Undo" }).click();
    await expect.poll(() => questions().allTextContents()).toEqual([firstQuestion, followUp]);
    expect(await toast.count()).toBe(0);
    expect(await answerText(answers(page).nth(0))).toBe(firstAnswer);

    // Continuing the restored conversation still uses its server session.
    const third = await ask("One more?");
    expect(third.request.sessionId).toBe(firstSession);
  });

  it("opens a past chat from the list, and deleting chats deletes their server sessions", async () => {
    await page.getByRole("button", { name: "New chat" }).click();
    const other = await ask("A different question?");
    expect(other.request.sessionId).toBeUndefined();
    expect(await page.getByTestId("undo-new-chat").count()).toBe(0);
    expect(await listedTitles()).toEqual(["A different question?", "Colour questions"]);

    let panel = await historyPanel();
    await panel.getByRole("button", { name: /^Colour questions/ }).click();
    await closeHistory();
    await expect.poll(() => questions().allTextContents()).toEqual([firstQuestion, followUp, "One more?"]);

    // Delete the chat on the page (the page empties), then the other one from the list; each deletes its session.
    /** Deletes a listed chat; resolves with the session id the page deleted on the server (204: it existed). */
    const deleteFromList = async (panel: Locator, title: string): Promise<string> => {
      await panel.getByRole("button", { name: `Delete ${title}` }).click();
      const [serverAnswer] = await Promise.all([
        page.waitForResponse((r) => r.url().includes("/api/sessions/") && r.request().method() === "DELETE"),
        panel.getByRole("button", { name: "Delete", exact: true }).click(),
      ]);
      expect(serverAnswer.status()).toBe(204);
      return decodeURIComponent(serverAnswer.url().split("/api/sessions/")[1]);
    };
    panel = await historyPanel();
    expect(await deleteFromList(panel, "Colour questions")).toBe(firstSession);
    await expect
      .poll(() => panel.getByTestId("history-chat-title").allTextContents())
      .toEqual(["A different question?"]);
    expect(await answers(page).count()).toBe(0);
    const otherSession = await deleteFromList(panel, "A different question?");
    expect(otherSession).not.toBe(firstSession);
    await expect.poll(() => panel.getByTestId("history-chat").count()).toBe(0);
    await closeHistory();

    for (const sessionId of [firstSession, otherSession]) {
      expect((await fetch(`${baseUrl}/api/sessions/${sessionId}`, { method: "DELETE" })).status).toBe(404);
      const chat = await fetch(`${baseUrl}/api/chat`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ sessionId, message: { text: "still there?" } }),
      });
      expect(chat.status).toBe(404);
      expect(((await chat.json()) as { error: { code: string } }).error.code).toBe("session_not_found");
    }

    await reload();
    expect(await listedTitles()).toEqual([]);
    expect(await answers(page).count()).toBe(0);
  });

  it("a reload mid-answer keeps what had streamed, stopped, and the chat goes on in its session", async () => {
    await setMaxNewTokens(page, 4096);
    const streaming = await send(page, "Tell me everything about it.");
    await expect.poll(async () => (await answerText(streaming)).length, { timeout: 30_000 }).toBeGreaterThan(20);
    await reload();

    await expect.poll(() => answers(page).count(), { timeout: 10_000 }).toBe(1);
    const restored = answers(page).nth(0);
    expect(await restored.getAttribute("data-status")).toBe("stopped");
    expect(await restored.getByText("Stopped.").isVisible()).toBe(true);
    expect(await questions().allTextContents()).toEqual(["Tell me everything about it."]);

    await setMaxNewTokens(page, 12);
    const next = await ask("In short?");
    expect(next.request.sessionId).toMatch(/\S/);
    expect(await listedTitles()).toEqual(["Tell me everything about it."]);
  });

  it("a chat whose server session is gone says so, and the next question starts a new session", async () => {
    const last = await ask("Still here?");
    const sessionId = last.request.sessionId ?? "";
    expect(sessionId).not.toBe("");
    // What an expiry (or a server reset) leaves: the browser keeps the chat, the server no longer has its session.
    expect((await fetch(`${baseUrl}/api/sessions/${sessionId}`, { method: "DELETE" })).status).toBe(204);

    await ask("After it expired?", "failed");
    await expect
      .poll(() => page.getByTestId("chat-notice").textContent())
      .toMatch(/^The server no longer has this conversation/);

    const fresh = await ask("From a new session?");
    expect(fresh.request.sessionId).toBeUndefined();
    await reload();
    await expect
      .poll(() => questions().allTextContents(), { timeout: 10_000 })
      .toEqual([
        "Tell me everything about it.",
        "In short?",
        "Still here?",
        "After it expired?",
        "From a new session?",
      ]);
    const continued = await ask("And now?");
    expect(continued.request.sessionId).toMatch(/\S/);
    expect(continued.request.sessionId).not.toBe(sessionId);
  });
});

describe("chat history across two tabs of one browser", () => {
  let browser: BrowserSession;
  let first: Page;
  let second: Page;

  beforeAll(async () => {
    browser = await openBrowser({ viewport: { width: 1280, height: 800 } });
    first = browser.page;
    second = await browser.context.newPage();
    for (const page of [first, second]) {
      await page.goto(baseUrl);
      await page.getByText("Your chats will be listed here, kept in this browser.").waitFor();
      await setMaxNewTokens(page, 12);
    }
  });
  afterAll(() => browser.close());

  const sidebar = (page: Page): Locator => page.getByRole("complementary", { name: "Chat history" });
  const listedTitles = (page: Page): Promise<string[]> =>
    sidebar(page).getByTestId("history-chat-title").allTextContents();
  /** A tab's list follows the other's within this (a notice and one database read; longer on a loaded machine). */
  const SYNC = { timeout: 5_000 };

  it("lists a chat started, renamed or deleted in one tab in the other without a reload, each tab keeping its own conversation", async () => {
    await waitForStatus(await send(first, "Asked in the first tab?"), "done");
    await expect.poll(() => listedTitles(second), SYNC).toEqual(["Asked in the first tab?"]);
    expect(await answers(second).count()).toBe(0);

    await waitForStatus(await send(second, "Asked in the second tab?"), "done");
    await expect.poll(() => listedTitles(first), SYNC).toEqual(["Asked in the second tab?", "Asked in the first tab?"]);
    expect(await first.getByTestId("question").allTextContents()).toEqual(["Asked in the first tab?"]);

    await sidebar(first).getByRole("button", { name: "Rename Asked in the first tab?" }).click();
    const field = sidebar(first).getByRole("textbox", { name: "Chat title" });
    await field.fill("Renamed in the first tab");
    await field.press("Enter");
    await expect
      .poll(() => listedTitles(second), SYNC)
      .toEqual(["Asked in the second tab?", "Renamed in the first tab"]);

    await sidebar(second).getByRole("button", { name: "Delete Asked in the second tab?" }).click();
    await sidebar(second).getByRole("button", { name: "Delete", exact: true }).click();
    await expect.poll(() => listedTitles(first), SYNC).toEqual(["Renamed in the first tab"]);
    expect(await listedTitles(second)).toEqual(["Renamed in the first tab"]);
    expect(await first.getByTestId("question").allTextContents()).toEqual(["Asked in the first tab?"]);
  });
});

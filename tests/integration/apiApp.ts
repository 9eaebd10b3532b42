import { mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { ApiErrorBody, ChatRequest, ChatStreamEvent, HealthResponse, ImageUploadResponse } from "@/lib/api/types";
import { decodeChatEvent } from "@/lib/client/chatEvents";
import { createSseParser } from "@/lib/client/sseParser";
import type { ImageId } from "@/lib/ids";
import { ensureAppBuilt, startApp } from "@/e2e/appServer";
import { ensureTestModel } from "@/e2e/testModel";

/**
 * The real app for the HTTP API tests (tests/integration/api-*.test.ts): `next build` once for all of them (and the
 * e2e run after them, see ensureAppBuilt), then `next start` on a free port per app with the given environment, a
 * private CACHE_DIR and, unless the environment says otherwise, the default test model (e2e/testModel.ts) as MODEL_DIR.
 * Server logs go to test-results/api/<name>.log.
 */
export const LOG_DIR = path.join(process.cwd(), "test-results", "api");

export async function buildOnce(): Promise<void> {
  await mkdir(LOG_DIR, { recursive: true });
  await ensureAppBuilt(path.join(LOG_DIR, "build.log"));
}

export interface ApiApp {
  readonly baseUrl: string;
  readonly logFile: string;
  /** The app's health once its model has loaded (or failed to). */
  readonly health: HealthResponse;
  stop(): Promise<void>;
}

const MODEL_WAIT_MS = 120_000;

export async function startApiApp(name: string, env: Record<string, string>): Promise<ApiApp> {
  await mkdir(LOG_DIR, { recursive: true });
  const logFile = path.join(LOG_DIR, `${name}.log`);
  const cacheDir = await mkdtemp(path.join(os.tmpdir(), `vlcache-api-${name}-`));
  const modelDir: Record<string, string> = "MODEL_DIR" in env ? {} : { MODEL_DIR: await ensureTestModel() };
  const app = await startApp({ CACHE_DIR: cacheDir, LOG_LEVEL: "info", ...modelDir, ...env }, logFile);
  const stop = async () => {
    await app.stop();
    await rm(cacheDir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + MODEL_WAIT_MS;
    for (;;) {
      const health = await fetchHealth(app.baseUrl);
      if (health !== null && health.status !== "starting") return { baseUrl: app.baseUrl, logFile, health, stop };
      if (Date.now() > deadline)
        throw new Error(`${name}: the model did not load within ${MODEL_WAIT_MS / 1000} s; see ${logFile}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * GET /api/health, or null when the request fails: while a large bundle loads, the server's event loop can stall
 * past its keep-alive timeout, and a poll on the connection it is closing fails with ECONNRESET.
 */
async function fetchHealth(baseUrl: string): Promise<HealthResponse | null> {
  try {
    return (await (await fetch(`${baseUrl}/api/health`)).json()) as HealthResponse;
  } catch {
    return null;
  }
}

export async function uploadImage(
  baseUrl: string,
  file: Buffer,
  headers: Record<string, string> = {},
): Promise<ImageUploadResponse> {
  const form = new FormData();
  form.append("image", new Blob([new Uint8Array(file)]), "image.png");
  const response = await fetch(`${baseUrl}/api/images`, { method: "POST", body: form, headers });
  if (!response.ok) throw new Error(`upload failed: ${response.status} ${await response.text()}`);
  return (await response.json()) as ImageUploadResponse;
}

/** Waits until the upload's background encode (L1 precompute) has finished on that app. */
export async function waitUntilReady(
  baseUrl: string,
  imageId: ImageId,
  headers: Record<string, string> = {},
): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((await (await fetch(`${baseUrl}/api/images/${imageId}`, { headers })).json()).status !== "ready") {
    if (Date.now() > deadline) throw new Error(`image ${imageId} did not become ready`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A chat turn's outcome: the decoded SSE events of a 200 answer, or the status and `{error}` of a refusal. */
export type ChatOutcome =
  | { readonly status: 200; readonly events: ChatStreamEvent[]; readonly headers: Headers }
  | { readonly status: number; readonly error: ApiErrorBody["error"]; readonly headers: Headers };

export async function postChat(
  baseUrl: string,
  body: ChatRequest | unknown,
  headers: Record<string, string> = {},
): Promise<ChatOutcome> {
  const response = await fetch(`${baseUrl}/api/chat`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  if (response.status !== 200)
    return {
      status: response.status,
      error: ((await response.json()) as ApiErrorBody).error,
      headers: response.headers,
    };
  const parser = createSseParser();
  const events: ChatStreamEvent[] = [];
  for (const message of parser.push(await response.text())) {
    const event = decodeChatEvent(message);
    if (event) events.push(event);
  }
  parser.end();
  return { status: 200, events, headers: response.headers };
}

/** A 200 chat turn, taken apart: its meta, the answer (token texts joined) and its done event. */
export function answerOf(outcome: ChatOutcome) {
  if (!("events" in outcome))
    throw new Error(`chat refused: ${outcome.status} ${outcome.error.code}: ${outcome.error.message}`);
  const meta = outcome.events.find((e) => e.type === "meta");
  const done = outcome.events.find((e) => e.type === "done");
  const failed = outcome.events.find((e) => e.type === "error");
  if (failed) throw new Error(`chat failed mid-stream: ${failed.data.code}: ${failed.data.message}`);
  if (!meta || !done)
    throw new Error(`chat stream without meta or done: ${outcome.events.map((e) => e.type).join(",")}`);
  const text = outcome.events.flatMap((e) => (e.type === "token" ? [e.data.text] : [])).join("");
  return { meta: meta.data, text, done: done.data, types: outcome.events.map((e) => e.type) };
}

/** One metric's value summed over its series, from the Prometheus text of GET /api/metrics. */
export async function metricValue(baseUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/api/metrics`)).text();
  return text
    .split("\n")
    .filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(" ") + 1)), 0);
}

import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HealthResponse } from "@/lib/api/types";
import * as img from "@/tests/support/testImages";
import { buildOnce, metricValue, postChat, startApiApp, type ApiApp } from "./apiApp";

/**
 * Soak under store faults: the real app (`next start`, the tiny test model) on its embedded redis-servers, with a few
 * clients uploading, reading images and chatting while the test stalls both servers (SIGSTOP … SIGCONT), kills each
 * with SIGKILL (the app starts it again) and finally restarts the app on the same CACHE_DIR. Every request must either
 * succeed or fail soft — 503 store_unavailable before the stream, or an `error` event store_unavailable after it —
 * within a bound far below the ~40 s a stall used to cost; everything a user was told is stored (a 200/201 upload, a
 * chat turn that ended with `done`) must still be there afterwards; and no session lock may be left behind.
 */
const STORE_TIMEOUT_MS = 300;
/** No request may take longer than this, faults included (a tiny model answering 4 tokens on a loaded 2-core box). */
const REQUEST_BOUND_MS = 15_000;
const STALL_MS = 4_000;
const CLIENTS = 3;

let cacheDir: string;
let app: ApiApp;

const appEnv = () => ({
  CACHE_DIR: cacheDir,
  EMBEDDED_STORE: "redis-server",
  STORE_TIMEOUT_MS: String(STORE_TIMEOUT_MS),
  RATE_LIMIT_PER_MINUTE: "0",
});

beforeAll(async () => {
  await buildOnce();
  cacheDir = await mkdtemp(path.join(os.tmpdir(), "vlcache-faults-"));
  app = await startApiApp("store-faults", appEnv());
}, 600_000);

afterAll(async () => {
  await app?.stop();
  await rm(cacheDir, { recursive: true, force: true });
});

/** The embedded servers' ports, from the app's one store line. */
async function storePorts(logFile: string): Promise<{ user: number; cache: number }> {
  const log = await readFile(logFile, "utf8");
  const line = log.split("\n").findLast((l) => l.includes("store: embedded redis-server"))!;
  const match = /user data on redis:\/\/127\.0\.0\.1:(\d+).*caches on redis:\/\/127\.0\.0\.1:(\d+)/.exec(line)!;
  return { user: Number(match[1]), cache: Number(match[2]) };
}

async function serverPid(client: Redis): Promise<number> {
  const info = await client.info("server");
  return Number(/process_id:(\d+)/.exec(info)![1]);
}

async function health(baseUrl: string): Promise<HealthResponse> {
  return (await (await fetch(`${baseUrl}/api/health`)).json()) as HealthResponse;
}

/** What the clients were told is stored, and how every request ended. */
interface Ledger {
  readonly images: Set<string>;
  /** Session id → turns acknowledged with `done`. */
  readonly sessions: Map<string, number>;
  readonly outcomes: Map<string, number>;
  readonly violations: string[];
  slowestMs: number;
}

const tally = (ledger: Ledger, outcome: string) =>
  ledger.outcomes.set(outcome, (ledger.outcomes.get(outcome) ?? 0) + 1);

/** Runs `request`, checking it ended within the bound; records a violation otherwise. */
async function timed<T>(ledger: Ledger, what: string, request: () => Promise<T>): Promise<T | null> {
  const startedAt = Date.now();
  try {
    return await request();
  } catch (error) {
    ledger.violations.push(`${what}: threw ${(error as Error).message}`);
    return null;
  } finally {
    const ms = Date.now() - startedAt;
    ledger.slowestMs = Math.max(ledger.slowestMs, ms);
    if (ms > REQUEST_BOUND_MS) ledger.violations.push(`${what}: took ${ms} ms`);
  }
}

/** A client told store_unavailable waits this long before its next request, as Retry-After asks (shortened). */
const BACKOFF_MS = 200;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One client: uploads a fresh image, reads it and a known one, starts a chat about it, follows up. Until `stop`. */
async function client(id: number, ledger: Ledger, stop: AbortSignal): Promise<void> {
  for (let round = 0; !stop.aborted; round++) {
    const file = await img.png(img.patternRgb(64 + id, 48 + (round % 40)));
    const upload = await timed(ledger, "upload", async () => {
      const form = new FormData();
      form.append("image", new Blob([new Uint8Array(file)]), "image.png");
      const response = await fetch(`${app.baseUrl}/api/images`, { method: "POST", body: form });
      return { status: response.status, body: await response.json() };
    });
    if (upload === null) continue;
    if (upload.status === 200 || upload.status === 201) {
      ledger.images.add(upload.body.imageId);
      tally(ledger, `upload ${upload.status}`);
    } else if (upload.status === 503 && upload.body.error.code === "store_unavailable") {
      tally(ledger, "upload 503");
      await pause(BACKOFF_MS);
      continue;
    } else {
      ledger.violations.push(`upload answered ${upload.status} ${JSON.stringify(upload.body)}`);
      continue;
    }
    const imageId: string = upload.body.imageId;
    const known = [...ledger.images][round % ledger.images.size];
    for (const readId of [imageId, known]) {
      const read = await timed(ledger, "image GET", () => fetch(`${app.baseUrl}/api/images/${readId}`));
      if (read === null) continue;
      tally(ledger, `image GET ${read.status}`);
      // Never 404 for an image the store acknowledged: unknown and unavailable must not be confused.
      if (read.status !== 200 && read.status !== 503)
        ledger.violations.push(`GET of stored image ${readId} answered ${read.status}`);
      await read.body?.cancel();
    }
    let sessionId: string | undefined;
    for (const text of ["What is in the picture?", "And the colours?"]) {
      const turn = await timed(ledger, "chat", () =>
        postChat(app.baseUrl, {
          ...(sessionId ? { sessionId } : {}),
          message: { text, ...(sessionId ? {} : { imageIds: [imageId] }) },
          params: { maxNewTokens: 4 },
        }),
      );
      if (turn === null) break;
      if (!("events" in turn)) {
        tally(ledger, `chat ${turn.status}`);
        if (turn.status !== 503 || turn.error.code !== "store_unavailable")
          ledger.violations.push(`chat answered ${turn.status} ${turn.error.code}`);
        await pause(BACKOFF_MS);
        break;
      }
      const meta = turn.events.find((e) => e.type === "meta");
      const failed = turn.events.find((e) => e.type === "error");
      if (failed) {
        tally(ledger, "chat error event");
        if (failed.data.code !== "store_unavailable")
          ledger.violations.push(`chat stream failed with ${failed.data.code}: ${failed.data.message}`);
        await pause(BACKOFF_MS);
        break;
      }
      if (!meta || !turn.events.some((e) => e.type === "done")) {
        ledger.violations.push(`chat stream without meta or done: ${turn.events.map((e) => e.type).join(",")}`);
        break;
      }
      tally(ledger, "chat done");
      sessionId = meta.data.sessionId;
      ledger.sessions.set(sessionId, (ledger.sessions.get(sessionId) ?? 0) + 1);
    }
  }
}

/** Everything the ledger says is stored is there (read over HTTP and straight from the user data server). */
async function expectNothingLost(ledger: Ledger, userPort: number): Promise<void> {
  for (const imageId of ledger.images) {
    const response = await fetch(`${app.baseUrl}/api/images/${imageId}?raw=1`);
    expect({ imageId, status: response.status }).toEqual({ imageId, status: 200 });
    await response.body?.cancel();
  }
  const direct = new Redis(userPort, "127.0.0.1");
  try {
    for (const [sessionId, turns] of ledger.sessions) {
      const stored = await direct.get(`vlc:v1:public:session:${sessionId}`);
      expect(stored, `session ${sessionId}`).not.toBeNull();
      expect(JSON.parse(stored!).turns.length, `turns of session ${sessionId}`).toBeGreaterThanOrEqual(turns);
    }
  } finally {
    direct.disconnect();
  }
}

async function sessionLocks(port: number): Promise<string[]> {
  const direct = new Redis(port, "127.0.0.1");
  try {
    return await direct.keys("*session-lock*");
  } finally {
    direct.disconnect();
  }
}

describe("store faults under traffic", () => {
  it("loses nothing a user stored through stalls, kills and restarts, answers soft within the bound, and leaves no lock", async () => {
    const ledger: Ledger = {
      images: new Set(),
      sessions: new Map(),
      outcomes: new Map(),
      violations: [],
      slowestMs: 0,
    };
    const ports = await storePorts(app.logFile);
    const user = new Redis(ports.user, "127.0.0.1", { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    const cache = new Redis(ports.cache, "127.0.0.1", { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    user.on("error", () => undefined);
    cache.on("error", () => undefined);
    const restartsBefore = await metricValue(app.baseUrl, "vlcache_store_restarts_total");
    const stop = new AbortController();
    const traffic = Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i, ledger, stop.signal)));
    const waitHealthy = () =>
      expect.poll(async () => (await health(app.baseUrl)).status, { timeout: 20_000, interval: 100 }).toBe("ok");
    try {
      await pause(1_500);
      // A stall: both servers keep their connections open and answer nothing.
      const pids = [await serverPid(user), await serverPid(cache)];
      for (const pid of pids) process.kill(pid, "SIGSTOP");
      try {
        await expect
          .poll(async () => (await health(app.baseUrl)).status, { timeout: 5_000, interval: 100 })
          .toBe("degraded");
        await pause(STALL_MS);
      } finally {
        for (const pid of pids) process.kill(pid, "SIGCONT");
      }
      await waitHealthy();
      await pause(1_000);
      // A crash of each server: the app starts it again, the user data server from its append-only file.
      for (const server of [user, cache]) {
        process.kill(await serverPid(server), "SIGKILL");
        await pause(300);
        await waitHealthy();
        await pause(1_000);
      }
    } finally {
      stop.abort();
      await traffic;
    }
    user.disconnect();
    cache.disconnect();

    expect(ledger.violations).toEqual([]);
    expect(ledger.outcomes.get("chat done") ?? 0).toBeGreaterThan(0);
    expect(ledger.images.size).toBeGreaterThan(CLIENTS);
    expect(await metricValue(app.baseUrl, "vlcache_store_restarts_total")).toBe(restartsBefore + 2);
    await expectNothingLost(ledger, ports.user);
    await expect.poll(() => sessionLocks(ports.user), { timeout: 5_000, interval: 100 }).toEqual([]);

    // The app itself restarts on the same CACHE_DIR: what users stored is still there.
    await app.stop();
    app = await startApiApp("store-faults-restarted", appEnv());
    expect((await health(app.baseUrl)).status).toBe("ok");
    await expectNothingLost(ledger, (await storePorts(app.logFile)).user);
    console.info(
      `store faults: ${JSON.stringify(Object.fromEntries(ledger.outcomes))}; slowest request ${ledger.slowestMs} ms`,
    );
  }, 240_000);
});

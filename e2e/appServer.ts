import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, existsSync, readdirSync, statSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { freeLoopbackPort } from "@/lib/cache/store/embeddedRedisServer";

/**
 * Builds the app and runs it as a child process, the way `npm start` does (the app's HTTP server, server.ts, around
 * Next.js), for the e2e and HTTP API tests.
 *
 * Both run with this Node directly (not via npx or npm: they do not pass SIGTERM on, which would orphan the server).
 * Output goes to a log file so the test report stays readable.
 */
const NEXT_BIN = path.join(process.cwd(), "node_modules", "next", "dist", "bin", "next");
const SERVER_ARGS = ["--import", "tsx", path.join(process.cwd(), "server.ts")];

export interface RunningApp {
  readonly baseUrl: string;
  /** The app's process (for its memory, see scripts/bench-http.ts). */
  readonly pid: number;
  stop(): Promise<void>;
}

function runToLog(args: string[], env: NodeJS.ProcessEnv, logFile: string): ChildProcess {
  const log = createWriteStream(logFile);
  const child = spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  return child;
}

export async function buildApp(logFile: string): Promise<void> {
  const child = runToLog([NEXT_BIN, "build"], { ...process.env, NEXT_TELEMETRY_DISABLED: "1" }, logFile);
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  if (code !== 0) throw new Error(`next build failed with code ${code}; see ${logFile}`);
}

/** What a production build is made from; a change to any of them (tests aside) makes `.next` stale. */
const BUILD_INPUTS = [
  "app",
  "components",
  "lib",
  "public",
  "instrumentation.ts",
  "next.config.ts",
  "postcss.config.mjs",
  "package-lock.json",
];
const BUILD_LOCK = path.join(process.cwd(), ".cache", "next-build.lock");

function newestInputMtime(entry: string): number {
  if (!existsSync(entry)) return 0;
  const stat = statSync(entry);
  if (!stat.isDirectory()) return /\.test\.tsx?$/.test(entry) ? 0 : stat.mtimeMs;
  return readdirSync(entry).reduce((newest, name) => Math.max(newest, newestInputMtime(path.join(entry, name))), 0);
}

/** True when `.next` was built after the last change to any build input. */
export function isBuildFresh(): boolean {
  const buildId = path.join(process.cwd(), ".next", "BUILD_ID");
  if (!existsSync(buildId)) return false;
  const builtAt = statSync(buildId).mtimeMs;
  return BUILD_INPUTS.every((entry) => newestInputMtime(path.join(process.cwd(), entry)) < builtAt);
}

/**
 * `next build` unless `.next` is fresh, so test files (and the e2e setup after them) share one build. A lock folder
 * keeps parallel test files from building at once: the second waits, then finds the build fresh. A lock left by a
 * process that died is taken over.
 */
export async function ensureAppBuilt(logFile: string): Promise<"fresh" | "built"> {
  await mkdir(path.dirname(BUILD_LOCK), { recursive: true });
  for (;;) {
    try {
      await mkdir(BUILD_LOCK);
      break;
    } catch {
      const owner = Number(await readFile(path.join(BUILD_LOCK, "pid"), "utf8").catch(() => "NaN"));
      if (Number.isInteger(owner) && !isAlive(owner)) await rm(BUILD_LOCK, { recursive: true, force: true });
      else await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  try {
    await writeFile(path.join(BUILD_LOCK, "pid"), String(process.pid));
    if (isBuildFresh()) return "fresh";
    await buildApp(logFile);
    return "built";
  } finally {
    await rm(BUILD_LOCK, { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function startApp(env: Record<string, string>, logFile: string): Promise<RunningApp> {
  const port = await freeLoopbackPort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const child = runToLog(
    SERVER_ARGS,
    { ...process.env, ...env, HOST: "127.0.0.1", PORT: String(port), NEXT_TELEMETRY_DISABLED: "1" },
    logFile,
  );
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));

  const deadline = Date.now() + 60_000;
  for (;;) {
    const early = await Promise.race([exited, new Promise<"running">((r) => setTimeout(() => r("running"), 250))]);
    if (early !== "running") throw new Error(`the app exited with code ${early}; see ${logFile}`);
    const health = await fetch(`${baseUrl}/api/health`).catch(() => null);
    if (health?.ok) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`the app did not answer /api/health within 60 s; see ${logFile}`);
    }
  }

  return {
    baseUrl,
    pid: child.pid!,
    async stop() {
      child.kill("SIGTERM");
      const timeout = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 10_000).unref());
      if ((await Promise.race([exited, timeout])) === "timeout") child.kill("SIGKILL");
    },
  };
}

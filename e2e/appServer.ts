import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import path from "node:path";
import { freeLoopbackPort } from "@/lib/cache/store/embeddedRedisServer";

/**
 * Builds the app and runs `next start` as a child process, for the e2e tests.
 *
 * Next.js is started through its own bin script with this Node (not via npx: npx does not pass SIGTERM on, which
 * would orphan the server). Output goes to a log file so the test report stays readable.
 */
const NEXT_BIN = path.join(process.cwd(), "node_modules", "next", "dist", "bin", "next");

export interface RunningApp {
  readonly baseUrl: string;
  stop(): Promise<void>;
}

function runToLog(args: string[], env: NodeJS.ProcessEnv, logFile: string): ChildProcess {
  const log = createWriteStream(logFile);
  const child = spawn(process.execPath, [NEXT_BIN, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  return child;
}

export async function buildApp(logFile: string): Promise<void> {
  const child = runToLog(["build"], { ...process.env, NEXT_TELEMETRY_DISABLED: "1" }, logFile);
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  if (code !== 0) throw new Error(`next build failed with code ${code}; see ${logFile}`);
}

export async function startApp(env: Record<string, string>, logFile: string): Promise<RunningApp> {
  const port = await freeLoopbackPort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const child = runToLog(
    ["start", "-H", "127.0.0.1", "-p", String(port)],
    { ...process.env, ...env, NEXT_TELEMETRY_DISABLED: "1" },
    logFile,
  );
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));

  const deadline = Date.now() + 60_000;
  for (;;) {
    const early = await Promise.race([exited, new Promise<"running">((r) => setTimeout(() => r("running"), 250))]);
    if (early !== "running") throw new Error(`next start exited with code ${early}; see ${logFile}`);
    const health = await fetch(`${baseUrl}/api/health`).catch(() => null);
    if (health?.ok) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`the app did not answer /api/health within 60 s; see ${logFile}`);
    }
  }

  return {
    baseUrl,
    async stop() {
      child.kill("SIGTERM");
      const timeout = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 10_000).unref());
      if ((await Promise.race([exited, timeout])) === "timeout") child.kill("SIGKILL");
    },
  };
}

import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { accessSync, constants as fsConstants, rmSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import path from "node:path";

/**
 * A private redis-server child process: loopback only, no persistence, data dir below the project's cache folder.
 *
 * Lifecycle: `startRedisServer` resolves once the server logs "Ready to accept connections" and rejects (with the
 * server's last log lines) when it exits first or is not ready in time. `stop()` shuts it down and removes the data
 * dir; it is idempotent.
 *
 * Invariant: the server never outlives the Node process that started it, even when that process is killed with
 * SIGKILL. redis-server is launched through a small shell watchdog whose stdin is a pipe from this process; the kernel
 * closes the pipe when this process ends in any way, the watchdog reads EOF and terminates the server. `stop()` uses
 * the same path (it closes the pipe), so there is one way down.
 */
export interface EmbeddedRedisServer {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** e.g. "7.0.15", from the server's start-up log. */
  readonly version: string;
  stop(): Promise<void>;
}

export interface StartRedisServerOptions {
  /** Absolute path of the redis-server binary (see `findRedisServerBinary`). */
  binary: string;
  /** The data dir is created as a fresh temporary folder inside this one. */
  parentDir: string;
  /** Fixed port (tests restarting a server on its old port); default: a free loopback port. */
  port?: number;
  readyTimeoutMs?: number;
}

const READY_LINE = "Ready to accept connections";
const LOG_TAIL_LINES = 20;
const STOP_TIMEOUT_MS = 5_000;
const PORT_ATTEMPTS = 3;

// $1.. = redis-server and its arguments. fd 3 keeps our stdin (the pipe): a background job's own stdin is /dev/null.
const WATCHDOG = `exec 3<&0
"$@" </dev/null &
server=$!
( cat <&3 >/dev/null; kill -TERM "$server" 2>/dev/null ) &
exec 3<&-
wait "$server"`;

/** Finds redis-server on PATH (the same lookup a shell does); null when absent. */
export function findRedisServerBinary(pathEnv: string | undefined = process.env.PATH): string | null {
  for (const dir of (pathEnv ?? "").split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, "redis-server");
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return null;
}

/** A TCP port that was free on 127.0.0.1 a moment ago (the caller retries if another process takes it first). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

export async function startRedisServer(options: StartRedisServerOptions): Promise<EmbeddedRedisServer> {
  await mkdir(options.parentDir, { recursive: true });
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < (options.port ? 1 : PORT_ATTEMPTS); attempt++) {
    const port = options.port ?? (await freeLoopbackPort());
    const dataDir = await mkdtemp(path.join(options.parentDir, "redis-"));
    try {
      return await launch(options.binary, port, dataDir, options.readyTimeoutMs ?? 10_000);
    } catch (error) {
      await rm(dataDir, { recursive: true, force: true });
      lastError = error as Error;
      // Only a lost race for the port is worth another try.
      if (!/address already in use/i.test(lastError.message)) break;
    }
  }
  throw lastError ?? new Error("redis-server did not start");
}

function launch(binary: string, port: number, dataDir: string, readyTimeoutMs: number): Promise<EmbeddedRedisServer> {
  const args = [
    "--port", String(port),
    "--bind", "127.0.0.1",
    "--protected-mode", "yes",
    "--save", "",
    "--appendonly", "no",
    "--dir", dataDir,
    "--daemonize", "no",
    "--loglevel", "notice",
    "--logfile", "",
  ];
  const child: ChildProcessWithoutNullStreams = spawn("sh", ["-c", WATCHDOG, "redis-watchdog", binary, ...args], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const tail: string[] = [];
  let version = "unknown";
  let pending = "";
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  // The server writes nothing there (no persistence), so the folder can go even while it shuts down; this covers a
  // process that exits without calling stop() (Next.js exits on SIGTERM).
  const removeDataDirOnExit = () => rmSync(dataDir, { recursive: true, force: true });
  process.once("exit", removeDataDirOnExit);

  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (reason: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      process.off("exit", removeDataDirOnExit);
      child.stdin.end();
      reject(new Error(`redis-server on port ${port} ${reason}: ${tail.join(" | ")}`));
    };
    const timer = setTimeout(() => fail(`not ready within ${readyTimeoutMs} ms`), readyTimeoutMs);

    // The pipes are drained for the whole life of the server; a full pipe would block redis-server's logging.
    const onOutput = (chunk: Buffer) => {
      pending += chunk.toString("utf8");
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        tail.push(line.trim());
        if (tail.length > LOG_TAIL_LINES) tail.shift();
        const versionMatch = /Redis version=([\d.]+)/.exec(line);
        if (versionMatch) version = versionMatch[1];
        if (!settled && line.includes(READY_LINE)) {
          settled = true;
          clearTimeout(timer);
          resolve(handle());
        }
      }
    };
    child.stdout.on("data", onOutput);
    child.stderr.on("data", onOutput);
    child.once("error", (error) => fail(`could not be spawned (${error.message})`));
    void exited.then((code) => fail(`exited with code ${code}`));

    let stopping: Promise<void> | undefined;
    const handle = (): EmbeddedRedisServer => ({
      url: `redis://127.0.0.1:${port}`,
      port,
      dataDir,
      version,
      stop: () =>
        (stopping ??= (async () => {
          process.off("exit", removeDataDirOnExit);
          child.stdin.end();
          const timeout = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), STOP_TIMEOUT_MS).unref());
          if ((await Promise.race([exited, timeout])) === "timeout") child.kill("SIGKILL");
          await rm(dataDir, { recursive: true, force: true });
        })()),
    });
  });
}

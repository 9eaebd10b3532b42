import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { accessSync, constants as fsConstants, rmSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import path from "node:path";

/**
 * A private redis-server child process: loopback only, with a memory budget and its policy, either without
 * persistence (a fresh temporary data dir, removed on stop) or with an append-only file in a given folder that a
 * later server on that folder loads again.
 *
 * Lifecycle: `startRedisServer` resolves once the server logs "Ready to accept connections" (after loading its
 * append-only file) and rejects (with the server's last log lines) when it exits first or is not ready in time.
 * `exited` settles when the server process ends, however it ends. `stop()` shuts it down (a persistent server writes
 * its file out first) and removes a temporary data dir; it is idempotent. Restarting a server that died is the
 * caller's business (supervisedRedisServer.ts).
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
  /** The redis-server process (not its watchdog), from the start-up log; for operators and fault tests. */
  readonly pid: number;
  /** Settles with the exit code (null: killed by a signal) when the server has ended. */
  readonly exited: Promise<number | null>;
  stop(): Promise<void>;
}

export interface StartRedisServerOptions {
  /** Absolute path of the redis-server binary (see `findRedisServerBinary`). */
  binary: string;
  /** The data dir is created as a fresh temporary folder inside this one. */
  parentDir: string;
  /** Fixed port (a restart on the old port, so clients reconnect by themselves); default: a free loopback port. */
  port?: number;
  readyTimeoutMs?: number;
  /**
   * Keep the data in an append-only file in this folder (fsync every second), loaded again by the next server started
   * on it; `parentDir` is then unused. Default: no persistence, a fresh temporary data dir inside `parentDir`.
   */
  persistentDir?: string;
  /** `maxmemory` in bytes; default: none. */
  maxMemoryBytes?: number;
  /** `maxmemory-policy`: `noeviction` refuses writes past the budget (OOM replies), `allkeys-lru` evicts. */
  evictionPolicy?: "noeviction" | "allkeys-lru";
  /** More `--name value` arguments, after the ones above (tests start cluster nodes with them). */
  extraArgs?: readonly string[];
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
      probe.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

export async function startRedisServer(options: StartRedisServerOptions): Promise<EmbeddedRedisServer> {
  const persistent = options.persistentDir !== undefined;
  await mkdir(options.persistentDir ?? options.parentDir, { recursive: true });
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < (options.port ? 1 : PORT_ATTEMPTS); attempt++) {
    const port = options.port ?? (await freeLoopbackPort());
    const dataDir = options.persistentDir ?? (await mkdtemp(path.join(options.parentDir, "redis-")));
    try {
      return await launch(options, port, { path: dataDir, temporary: !persistent });
    } catch (error) {
      if (!persistent) await rm(dataDir, { recursive: true, force: true });
      lastError = error as Error;
      // Only a lost race for the port is worth another try.
      if (!/address already in use/i.test(lastError.message)) break;
    }
  }
  throw lastError ?? new Error("redis-server did not start");
}

function launch(
  options: StartRedisServerOptions,
  port: number,
  data: { path: string; temporary: boolean },
): Promise<EmbeddedRedisServer> {
  const dataDir = data.path;
  const readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
  const args = [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--protected-mode",
    "yes",
    "--save",
    "",
    "--appendonly",
    data.temporary ? "no" : "yes",
    "--appendfsync",
    "everysec",
    "--dir",
    dataDir,
    "--daemonize",
    "no",
    "--loglevel",
    "notice",
    "--logfile",
    "",
    ...(options.maxMemoryBytes === undefined ? [] : ["--maxmemory", String(options.maxMemoryBytes)]),
    ...(options.evictionPolicy === undefined ? [] : ["--maxmemory-policy", options.evictionPolicy]),
    ...(options.extraArgs ?? []),
  ];
  const child: ChildProcessWithoutNullStreams = spawn(
    "sh",
    ["-c", WATCHDOG, "redis-watchdog", options.binary, ...args],
    {
      stdio: ["pipe", "pipe", "pipe"],
    },
  );
  const tail: string[] = [];
  let version = "unknown";
  let pid = 0;
  let pending = "";
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  // A temporary dir holds nothing the server needs (no persistence), so it can go even while the server shuts down;
  // this covers a process that exits without calling stop() (Next.js exits on SIGTERM). A persistent one stays.
  const removeDataDirOnExit = () => {
    if (data.temporary) rmSync(dataDir, { recursive: true, force: true });
  };
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
        const versionMatch = /Redis version=([\d.]+).*\bpid=(\d+)/.exec(line);
        if (versionMatch) [version, pid] = [versionMatch[1], Number(versionMatch[2])];
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
      pid,
      exited,
      stop: () =>
        (stopping ??= (async () => {
          process.off("exit", removeDataDirOnExit);
          child.stdin.end();
          const timeout = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), STOP_TIMEOUT_MS).unref());
          if ((await Promise.race([exited, timeout])) === "timeout") {
            // A server that ignores SIGTERM (one paused with SIGSTOP keeps it pending) must not outlive us either.
            killQuietly(pid);
            child.kill("SIGKILL");
          }
          if (data.temporary) await rm(dataDir, { recursive: true, force: true });
        })()),
    });
  });
}

function killQuietly(pid: number): void {
  try {
    if (pid > 0) process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

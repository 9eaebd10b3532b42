import { setTimeout as sleep } from "node:timers/promises";
import {
  startRedisServer,
  type EmbeddedRedisServer,
  type StartRedisServerOptions,
} from "@/lib/cache/store/embeddedRedisServer";
import type { Logger } from "@/lib/log";
import { counter } from "@/lib/metrics/registry";

/**
 * An embedded redis-server that is started again whenever it dies, for as long as the app runs.
 *
 * Lifecycle: `superviseRedisServer` starts the first server (on a free port, rejecting like startRedisServer) and
 * from then on watches it. When it exits without `stop()` — killed, crashed, out of memory — the supervisor logs it,
 * waits a backoff (RESTART_FIRST_DELAY_MS, doubling per failed or short-lived attempt up to RESTART_MAX_DELAY_MS,
 * back to the first delay after a server ran STABLE_AFTER_MS) and starts a new one on the same port, so clients
 * reconnect by themselves; each restart is counted in `vlcache_store_restarts_total{store}`. A persistent server
 * (`persistentDir`) loads its append-only file again, so what it had stored survives; a temporary one starts empty.
 * `stop()` ends the supervision and the current server; it is idempotent.
 */
export interface SupervisedRedisServer {
  readonly name: "user" | "cache";
  readonly url: string;
  readonly port: number;
  readonly version: string;
  /** The current redis-server process. */
  pid(): number;
  stop(): Promise<void>;
}

export interface SuperviseRedisServerOptions extends Omit<StartRedisServerOptions, "port"> {
  /** Names the server in logs and in the metric's `store` label. */
  readonly name: "user" | "cache";
  readonly logger: Logger;
}

const RESTART_FIRST_DELAY_MS = 200;
const RESTART_MAX_DELAY_MS = 5_000;
const STABLE_AFTER_MS = 30_000;

const restarts = counter<"store">({
  name: "vlcache_store_restarts_total",
  help: "Embedded redis-servers started again after they died, by store (user data or caches).",
  labelNames: ["store"],
});

export async function superviseRedisServer(options: SuperviseRedisServerOptions): Promise<SupervisedRedisServer> {
  const { name, logger, ...serverOptions } = options;
  const log = logger.child({ storeName: name });
  let current: EmbeddedRedisServer = await startRedisServer(serverOptions);
  const { port, url, version } = current;
  const stopping = new AbortController();

  const supervise = async () => {
    let delayMs = RESTART_FIRST_DELAY_MS;
    for (;;) {
      const startedAt = Date.now();
      const exitCode = await current.exited;
      if (stopping.signal.aborted) return;
      // Releases the dead server's watchdog and removes a temporary data dir.
      await current.stop();
      if (Date.now() - startedAt >= STABLE_AFTER_MS) delayMs = RESTART_FIRST_DELAY_MS;
      log.error(
        { exitCode, pid: current.pid, restartInMs: delayMs },
        `embedded redis-server (${name}) died; starting it again`,
      );
      for (;;) {
        try {
          await sleep(delayMs, undefined, { signal: stopping.signal });
        } catch {
          return;
        }
        delayMs = Math.min(delayMs * 2, RESTART_MAX_DELAY_MS);
        try {
          current = await startRedisServer({ ...serverOptions, port });
        } catch (error) {
          log.error(
            { err: (error as Error).message, retryInMs: delayMs },
            `embedded redis-server (${name}) did not start again`,
          );
          continue;
        }
        if (stopping.signal.aborted) {
          await current.stop();
          return;
        }
        restarts.inc({ store: name });
        log.info({ pid: current.pid, url }, `embedded redis-server (${name}) running again`);
        break;
      }
    }
  };
  const supervision = supervise();

  return {
    name,
    url,
    port,
    version,
    pid: () => current.pid,
    async stop() {
      stopping.abort();
      await current.stop();
      await supervision;
    },
  };
}

import pino, { type Logger } from "pino";
import type { LogLevel } from "@/lib/config";

export type { Logger };

/**
 * The app's structured logger: one JSON object per line on stdout (pino), so logs can be grepped by humans and parsed
 * by machines alike. Modules receive a logger (usually a child with `{ module }`) instead of importing a global one,
 * which keeps them testable with a silent or captured logger.
 *
 * `destination` exists for tests that assert on log lines; the app always writes to stdout.
 */
export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = { level, base: { app: "vlcache" }, timestamp: pino.stdTimeFunctions.isoTime };
  return destination ? pino(options, destination) : pino(options);
}

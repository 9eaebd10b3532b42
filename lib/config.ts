import path from "node:path";
import { z } from "zod";

/**
 * Process configuration, read once from environment variables and validated with zod at start-up, so a typo in a
 * variable stops the app with a message naming it instead of surfacing later as odd behaviour.
 *
 * To add a setting: add the variable to `envSchema` (unset and empty both mean "use the default"), map it in
 * `loadConfig`, and document it in README.md's configuration table.
 */

const MIB = 1024 * 1024;

/** An unset variable and an empty one mean the same: take the default. */
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (value === "" ? undefined : value), schema.optional());

const positiveInt = z.coerce.number().int().positive();

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Which store to use when REDIS_URL is unset. `auto`: a private redis-server when the binary exists, else memory. */
export const EMBEDDED_STORES = ["auto", "redis-server", "memory"] as const;
export type EmbeddedStoreChoice = (typeof EMBEDDED_STORES)[number];

export const envSchema = z.object({
  HOST: optional(z.string().min(1)),
  PORT: optional(z.coerce.number().int().min(1).max(65_535)),
  REDIS_URL: optional(z.url({ protocol: /^rediss?$/ })),
  EMBEDDED_STORE: optional(z.enum(EMBEDDED_STORES)),
  IMAGE_TTL_SECONDS: optional(positiveInt),
  MAX_UPLOAD_BYTES: optional(positiveInt),
  MAX_IMAGE_PIXELS: optional(positiveInt),
  MEMORY_STORE_MAX_BYTES: optional(positiveInt),
  CACHE_DIR: optional(z.string().min(1)),
  LOG_LEVEL: optional(z.enum(LOG_LEVELS)),
});

export interface AppConfig {
  host: string;
  port: number;
  /** External Redis; when undefined the app chooses an embedded store (see `embeddedStore`). */
  redisUrl: string | undefined;
  embeddedStore: EmbeddedStoreChoice;
  imageTtlSeconds: number;
  /** Largest accepted image file; the request body may exceed it only by the multipart framing allowance. */
  maxUploadBytes: number;
  /** Largest accepted width × height, checked from the header before decoding (decompression bombs). */
  maxImagePixels: number;
  /** Bound on the in-process store; least recently used entries are evicted past it. */
  memoryStoreMaxBytes: number;
  /** Absolute path of the project's cache folder (embedded redis-server data lives below it). */
  cacheDir: string;
  logLevel: LogLevel;
}

export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid configuration: ${issues.join("; ")}`);
    this.name = "ConfigError";
  }
}

export function loadConfig(env: Record<string, string | undefined> = process.env, cwd = process.cwd()): AppConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`));
  }
  const e = parsed.data;
  return {
    host: e.HOST ?? "127.0.0.1",
    port: e.PORT ?? 3000,
    redisUrl: e.REDIS_URL,
    embeddedStore: e.EMBEDDED_STORE ?? "auto",
    imageTtlSeconds: e.IMAGE_TTL_SECONDS ?? 24 * 60 * 60,
    maxUploadBytes: e.MAX_UPLOAD_BYTES ?? 20 * MIB,
    maxImagePixels: e.MAX_IMAGE_PIXELS ?? 40_000_000,
    memoryStoreMaxBytes: e.MEMORY_STORE_MAX_BYTES ?? 512 * MIB,
    cacheDir: path.resolve(cwd, e.CACHE_DIR ?? ".cache"),
    logLevel: e.LOG_LEVEL ?? "info",
  };
}

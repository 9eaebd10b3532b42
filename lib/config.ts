/**
 * Process configuration, read once from environment variables and validated with zod at start-up, so a typo in a
 * variable stops the app with a message naming it instead of surfacing later as odd behaviour.
 *
 * To add a setting: add the variable to `envSchema` (unset and empty both mean "use the default"), map it in
 * `loadConfig`, and document it in README.md's configuration table.
 */

import { isIP } from "node:net";
import path from "node:path";
import { z } from "zod";
import { parseTenantId, type TenantId } from "@/lib/ids";
import {
  EXECUTION_PROVIDER_CHOICES,
  WEBGPU_BUFFER_CACHES,
  type ExecutionProviderChoice,
  type WebGpuBufferCache,
} from "@/lib/executionProviders";

const MIB = 1024 * 1024;

/** Default deadline of one store operation (STORE_TIMEOUT_MS): a stalled store costs a request this, not a hang. */
export const DEFAULT_STORE_TIMEOUT_MS = 500;

/** An unset variable and an empty one mean the same: take the default. */
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (value === "" ? undefined : value), schema.optional());

/** The entries of a comma-separated list, trimmed; empty entries (`a,,b`, a trailing comma) are skipped. */
function commaSeparated(text: string): string[] {
  return text
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e !== "");
}

const positiveInt = z.coerce.number().int().positive();
const nonNegativeInt = z.coerce.number().int().nonnegative();

/**
 * onnxruntime execution providers the app can be told to use (lib/executionProviders.ts); `auto` picks the fastest
 * here.
 */
export type ExecutionProviderSetting = ExecutionProviderChoice;

/** `API_KEYS=key1=tenant1,key2=tenant2`: each key names the tenant whose caches its requests use. */
const apiKeysSchema = z.string().transform((text, ctx) => {
  const keys = new Map<string, TenantId>();
  const entries = commaSeparated(text);
  for (const [index, entry] of entries.entries()) {
    const separator = entry.lastIndexOf("=");
    const key = entry.slice(0, separator);
    const tenant = parseTenantId(entry.slice(separator + 1));
    if (separator <= 0 || tenant === null) {
      // The message names the entry by position: echoing it would print a secret into the log.
      ctx.addIssue({ code: "custom", message: `entry ${index + 1} is not KEY=TENANT (tenant: a-z, 0-9, _ or -)` });
      return z.NEVER;
    }
    keys.set(key, tenant);
  }
  return keys;
});

/** A secret sent as `Authorization: Bearer …`: one token of visible characters (no spaces or commas). */
const bearerSecretSchema = z.string().regex(/^[^\s,]+$/, "must be one token without spaces or commas");

/**
 * `TRUSTED_PROXIES=127.0.0.1,10.0.0.0/8,::1`: the hops whose `x-forwarded-for` is believed, as addresses or CIDR
 * blocks (lib/server/clientAddress.ts). Kept as validated text; the matcher is built where it is used.
 */
const trustedProxiesSchema = z.string().transform((text, ctx) => {
  const entries = commaSeparated(text);
  for (const entry of entries) {
    const [address, prefix, extra] = entry.split("/");
    const family = isIP(address);
    const bits = family === 4 ? 32 : 128;
    const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits);
    if (family === 0 || extra !== undefined || !prefixOk) {
      ctx.addIssue({ code: "custom", message: `"${entry}" is not an IP address or CIDR block` });
      return z.NEVER;
    }
  }
  return entries;
});

/**
 * `REDIS_CLUSTER_NODES=10.0.0.1:7000,10.0.0.2:7000`: seed nodes of a Redis Cluster (the client learns the rest of the
 * topology from them), as `host:port` pairs; an IPv6 address is written in brackets (`[::1]:7000`).
 */
export interface RedisClusterNode {
  readonly host: string;
  readonly port: number;
}

const redisClusterNodesSchema = z.string().transform((text, ctx) => {
  const entries = commaSeparated(text);
  const nodes: RedisClusterNode[] = [];
  for (const entry of entries) {
    const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:/[\]]+)):(\d{1,5})$/.exec(entry);
    const port = match ? Number(match[3]) : 0;
    if (!match || port < 1 || port > 65_535) {
      ctx.addIssue({
        code: "custom",
        message: `"${entry}" is not host:port (an IPv6 address in brackets: [::1]:7000)`,
      });
      return z.NEVER;
    }
    nodes.push({ host: match[1] ?? match[2], port });
  }
  if (nodes.length === 0) {
    ctx.addIssue({ code: "custom", message: "names no node (host:port,host:port,…)" });
    return z.NEVER;
  }
  return nodes;
});

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Which store to use when REDIS_URL is unset. `auto`: a private redis-server when the binary exists, else memory. */
export const EMBEDDED_STORES = ["auto", "redis-server", "memory"] as const;
export type EmbeddedStoreChoice = (typeof EMBEDDED_STORES)[number];

/** L2_STORE: the L2 store tier on, off, or on exactly when the caches' store is Redis (lib/inference/modelCaches.ts). */
export const L2_STORE_CHOICES = ["auto", "on", "off"] as const;
export type L2StoreChoice = (typeof L2_STORE_CHOICES)[number];

export const envSchema = z.object({
  HOST: optional(z.string().min(1)),
  PORT: optional(z.coerce.number().int().min(1).max(65_535)),
  REDIS_URL: optional(z.url({ protocol: /^rediss?$/ })),
  REDIS_CLUSTER_NODES: optional(redisClusterNodesSchema),
  EMBEDDED_STORE: optional(z.enum(EMBEDDED_STORES)),
  IMAGE_TTL_SECONDS: optional(positiveInt),
  MAX_UPLOAD_BYTES: optional(positiveInt),
  MAX_IMAGE_PIXELS: optional(positiveInt),
  STORE_TIMEOUT_MS: optional(z.coerce.number().int().min(10).max(60_000)),
  USER_STORE_MAX_BYTES: optional(
    z.coerce
      .number()
      .int()
      .min(8 * MIB),
  ),
  CACHE_STORE_MAX_BYTES: optional(
    z.coerce
      .number()
      .int()
      .min(8 * MIB),
  ),
  CACHE_DIR: optional(z.string().min(1)),
  LOG_LEVEL: optional(z.enum(LOG_LEVELS)),
  MODEL_DIR: optional(z.string().min(1)),
  EXECUTION_PROVIDER: optional(z.enum(EXECUTION_PROVIDER_CHOICES)),
  WEBGPU_BUFFER_CACHE: optional(z.enum(WEBGPU_BUFFER_CACHES)),
  MAX_QUEUED_REQUESTS: optional(nonNegativeInt),
  SESSION_TTL_SECONDS: optional(positiveInt),
  SESSION_FIRST_TURN_TTL_SECONDS: optional(positiveInt),
  MAX_JSON_BODY_BYTES: optional(positiveInt),
  MAX_PROMPT_CHARS: optional(positiveInt),
  RATE_LIMIT_PER_MINUTE: optional(nonNegativeInt),
  RATE_LIMIT_BURST: optional(positiveInt),
  API_KEYS: optional(apiKeysSchema),
  ADMIN_API_KEY: optional(bearerSecretSchema),
  METRICS_API_KEY: optional(bearerSecretSchema),
  TRUSTED_PROXIES: optional(trustedProxiesSchema),
  MAX_FAILED_KEYS_PER_MINUTE: optional(nonNegativeInt),
  MAX_IMAGES_PER_REQUEST: optional(positiveInt),
  MAX_REQUEST_PIXELS: optional(positiveInt),
  MAX_DECODING_PIXELS: optional(positiveInt),
  L1_STORAGE_DTYPE: optional(z.enum(["fp32", "fp16", "int8"])),
  L1_TTL_SECONDS: optional(positiveInt),
  L1_MEMORY_BYTES: optional(positiveInt),
  L2_BUDGET_BYTES: optional(positiveInt),
  L2_GPU_BUDGET_BYTES: optional(positiveInt),
  L2_IDLE_TTL_SECONDS: optional(positiveInt),
  L2_STORE: optional(z.enum(L2_STORE_CHOICES)),
  L2_STORE_TTL_SECONDS: optional(positiveInt),
  L3_TTL_SECONDS: optional(positiveInt),
  L3_MEMORY_BYTES: optional(positiveInt),
  L3_NEAR_DUPLICATES: optional(
    z.enum(["true", "false", "1", "0"]).transform((value) => value === "true" || value === "1"),
  ),
});

/** The three cache levels' budgets and lifetimes (lib/inference/modelCaches.ts builds the levels from them). */
export interface CacheSettings {
  /** L1 vision features: storage dtype of the records, Redis TTL, in-process LRU budget. */
  l1: { storage: "fp32" | "fp16" | "int8"; ttlSeconds: number; memoryBytes: number };
  /**
   * L2 prefix KV: the memory tier's byte budget in host memory, byte budget in device memory (used instead when the
   * engine keeps its KV on the device) and idle TTL; the store tier's switch (auto: on when the caches' store is
   * Redis) and the TTL of its KV blocks.
   */
  l2: {
    budgetBytes: number;
    gpuBudgetBytes: number;
    idleTtlSeconds: number;
    store: L2StoreChoice;
    storeTtlSeconds: number;
  };
  /** L3 answers: Redis TTL, in-process fall-back budget, SimHash near-duplicate matching (opt-in). */
  l3: { ttlSeconds: number; memoryBytes: number; nearDuplicates: boolean };
}

export interface AppConfig {
  host: string;
  port: number;
  /**
   * External Redis; when undefined (and `redisClusterNodes` too) the app chooses an embedded store (see
   * `embeddedStore`).
   */
  redisUrl: string | undefined;
  /** Seed nodes of an external Redis Cluster, instead of `redisUrl` (never both); undefined: no cluster. */
  redisClusterNodes: readonly RedisClusterNode[] | undefined;
  embeddedStore: EmbeddedStoreChoice;
  imageTtlSeconds: number;
  /** Largest accepted image file; the request body may exceed it only by the multipart framing allowance. */
  maxUploadBytes: number;
  /** Largest accepted width × height, checked from the header before decoding (decompression bombs). */
  maxImagePixels: number;
  /** Deadline of every store operation; past it the operation fails soft, or with store_unavailable for user data. */
  storeTimeoutMs: number;
  /** Budget of the embedded store's user data (images, sessions): never evicted, new data refused past it. */
  userStoreMaxBytes: number;
  /** Budget of the embedded store's caches (L1, L3): least recently used entries are evicted past it. */
  cacheStoreMaxBytes: number;
  /** Absolute path of the project's cache folder (embedded redis-server data lives below it). */
  cacheDir: string;
  logLevel: LogLevel;
  /**
   * Bundle to serve (absolute); undefined: the seeded random `tiny` test bundle, built under cacheDir on first start.
   */
  modelDir: string | undefined;
  executionProvider: ExecutionProviderSetting;
  /**
   * WebGPU's reuse of freed device buffers; `simple` also pads decode loops' KV to a capacity (kvPadding.ts): about
   * twice the decode speed at 4,000 context tokens, but GPU memory grows with every new prompt length.
   */
  webgpuBufferCache: WebGpuBufferCache;
  /** Generation requests allowed to wait for the engine; one more is refused with 503 + Retry-After. */
  maxQueuedRequests: number;
  /** How long a chat session is kept after its last turn. */
  sessionTtlSeconds: number;
  /** How long a chat that has had only one turn is kept (capped at sessionTtlSeconds); see lib/server/sessions.ts. */
  sessionFirstTurnTtlSeconds: number;
  /** Largest JSON request body (POST /api/chat, /v1/chat/completions with data-URL images); 413 beyond. */
  maxJsonBodyBytes: number;
  /** Largest text a request may add to a conversation, in characters; 413 beyond. */
  maxPromptChars: number;
  /**
   * Per-client token bucket for the generating and uploading routes: refill per minute (0: no limit) and burst size.
   */
  rateLimit: { perMinute: number; burst: number };
  /** API key → tenant; empty when API_KEYS is unset (then no key is needed and the tenant header names the tenant). */
  apiKeys: ReadonlyMap<string, TenantId>;
  /** The key admin routes require; undefined: admin routes are refused. */
  adminApiKey: string | undefined;
  /**
   * The key /api/metrics* require; undefined: they need what every other route needs (an API key when API_KEYS is set).
   */
  metricsApiKey: string | undefined;
  /**
   * Addresses / CIDR blocks of proxies allowed to name the client in x-forwarded-for; empty: the socket's peer is the
   * client.
   */
  trustedProxies: readonly string[];
  /**
   * Refused keys a client address may present per minute before its keys go unchecked for a while (see
   * lib/server/failedKeys.ts); 0: no limit.
   */
  maxFailedKeysPerMinute: number;
  /** Cost bounds of one generation request, whichever API it came through (see lib/inference/requestImages.ts). */
  requestImages: {
    /** Images in one request, counting the whole conversation. */
    maxImages: number;
    /** Sum of width × height over a request's images. */
    maxPixels: number;
    /** Pixels being decoded at once by the whole process (uploads and requests); later decodes wait their turn. */
    decodingPixels: number;
  };
  caches: CacheSettings;
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
  if (e.REDIS_URL !== undefined && e.REDIS_CLUSTER_NODES !== undefined) {
    throw new ConfigError([
      "REDIS_URL and REDIS_CLUSTER_NODES are both set: name one Redis (REDIS_URL) or the seed nodes of one Redis Cluster (REDIS_CLUSTER_NODES), not both",
    ]);
  }
  const maxImagePixels = e.MAX_IMAGE_PIXELS ?? 40_000_000;
  const decodingPixels = e.MAX_DECODING_PIXELS ?? 120_000_000;
  if (decodingPixels < maxImagePixels) {
    throw new ConfigError([
      `MAX_DECODING_PIXELS: ${decodingPixels} is less than MAX_IMAGE_PIXELS (${maxImagePixels}): an image of the largest accepted size could never be decoded`,
    ]);
  }
  return {
    host: e.HOST ?? "127.0.0.1",
    port: e.PORT ?? 3000,
    redisUrl: e.REDIS_URL,
    redisClusterNodes: e.REDIS_CLUSTER_NODES,
    embeddedStore: e.EMBEDDED_STORE ?? "auto",
    imageTtlSeconds: e.IMAGE_TTL_SECONDS ?? 24 * 60 * 60,
    maxUploadBytes: e.MAX_UPLOAD_BYTES ?? 20 * MIB,
    maxImagePixels,
    storeTimeoutMs: e.STORE_TIMEOUT_MS ?? DEFAULT_STORE_TIMEOUT_MS,
    userStoreMaxBytes: e.USER_STORE_MAX_BYTES ?? 1024 * MIB,
    cacheStoreMaxBytes: e.CACHE_STORE_MAX_BYTES ?? 512 * MIB,
    cacheDir: path.resolve(cwd, e.CACHE_DIR ?? ".cache"),
    logLevel: e.LOG_LEVEL ?? "info",
    modelDir: e.MODEL_DIR === undefined ? undefined : path.resolve(cwd, e.MODEL_DIR),
    executionProvider: e.EXECUTION_PROVIDER ?? "auto",
    webgpuBufferCache: e.WEBGPU_BUFFER_CACHE ?? "bucket",
    maxQueuedRequests: e.MAX_QUEUED_REQUESTS ?? 32,
    sessionTtlSeconds: e.SESSION_TTL_SECONDS ?? 24 * 60 * 60,
    sessionFirstTurnTtlSeconds: e.SESSION_FIRST_TURN_TTL_SECONDS ?? 60 * 60,
    maxJsonBodyBytes: e.MAX_JSON_BODY_BYTES ?? 32 * MIB,
    maxPromptChars: e.MAX_PROMPT_CHARS ?? 32_768,
    rateLimit: { perMinute: e.RATE_LIMIT_PER_MINUTE ?? 120, burst: e.RATE_LIMIT_BURST ?? 30 },
    apiKeys: e.API_KEYS ?? new Map(),
    adminApiKey: e.ADMIN_API_KEY,
    metricsApiKey: e.METRICS_API_KEY,
    trustedProxies: e.TRUSTED_PROXIES ?? [],
    maxFailedKeysPerMinute: e.MAX_FAILED_KEYS_PER_MINUTE ?? 10,
    requestImages: {
      maxImages: e.MAX_IMAGES_PER_REQUEST ?? 16,
      maxPixels: e.MAX_REQUEST_PIXELS ?? 100_000_000,
      decodingPixels,
    },
    caches: {
      l1: {
        storage: e.L1_STORAGE_DTYPE ?? "fp32",
        ttlSeconds: e.L1_TTL_SECONDS ?? 24 * 60 * 60,
        memoryBytes: e.L1_MEMORY_BYTES ?? 256 * MIB,
      },
      l2: {
        budgetBytes: e.L2_BUDGET_BYTES ?? 1024 * MIB,
        gpuBudgetBytes: e.L2_GPU_BUDGET_BYTES ?? 4096 * MIB,
        idleTtlSeconds: e.L2_IDLE_TTL_SECONDS ?? 60 * 60,
        store: e.L2_STORE ?? "auto",
        storeTtlSeconds: e.L2_STORE_TTL_SECONDS ?? 60 * 60,
      },
      l3: {
        ttlSeconds: e.L3_TTL_SECONDS ?? 60 * 60,
        memoryBytes: e.L3_MEMORY_BYTES ?? 32 * MIB,
        nearDuplicates: e.L3_NEAR_DUPLICATES ?? false,
      },
    },
  };
}

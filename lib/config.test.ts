import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "@/lib/config";

describe("loadConfig", () => {
  it("has the documented defaults", () => {
    expect(loadConfig({}, "/srv/app")).toEqual({
      host: "127.0.0.1",
      port: 3000,
      redisUrl: undefined,
      redisClusterNodes: undefined,
      embeddedStore: "auto",
      imageTtlSeconds: 86_400,
      maxUploadBytes: 20 * 1024 * 1024,
      maxImagePixels: 40_000_000,
      storeTimeoutMs: 500,
      userStoreMaxBytes: 1024 * 1024 * 1024,
      cacheStoreMaxBytes: 512 * 1024 * 1024,
      cacheDir: path.resolve("/srv/app", ".cache"),
      logLevel: "info",
      modelDir: undefined,
      executionProvider: "auto",
      webgpuBufferCache: "bucket",
      maxQueuedRequests: 32,
      sessionTtlSeconds: 86_400,
      sessionFirstTurnTtlSeconds: 3600,
      maxJsonBodyBytes: 32 * 1024 * 1024,
      maxPromptChars: 32_768,
      rateLimit: { perMinute: 120, burst: 30 },
      apiKeys: new Map(),
      adminApiKey: undefined,
      metricsApiKey: undefined,
      trustedProxies: [],
      maxFailedKeysPerMinute: 10,
      requestImages: { maxImages: 16, maxPixels: 100_000_000, decodingPixels: 120_000_000 },
      caches: {
        l1: { storage: "fp32", ttlSeconds: 86_400, memoryBytes: 256 * 1024 * 1024 },
        l2: {
          budgetBytes: 1024 * 1024 * 1024,
          gpuBudgetBytes: 4 * 1024 * 1024 * 1024,
          idleTtlSeconds: 3600,
          store: "auto",
          storeTtlSeconds: 3600,
        },
        l3: { ttlSeconds: 3600, memoryBytes: 32 * 1024 * 1024, nearDuplicates: false },
      },
    });
  });

  it("reads the cache settings and refuses an unknown feature dtype", () => {
    const config = loadConfig(
      {
        L1_STORAGE_DTYPE: "int8",
        L2_BUDGET_BYTES: "4096",
        L2_GPU_BUDGET_BYTES: "8192",
        L2_IDLE_TTL_SECONDS: "5",
        L2_STORE: "off",
        L2_STORE_TTL_SECONDS: "120",
        L3_NEAR_DUPLICATES: "true",
      },
      "/srv/app",
    );
    expect(config.caches.l1.storage).toBe("int8");
    expect(config.caches.l2).toEqual({
      budgetBytes: 4096,
      gpuBudgetBytes: 8192,
      idleTtlSeconds: 5,
      store: "off",
      storeTtlSeconds: 120,
    });
    expect(() => loadConfig({ L2_STORE: "yes" })).toThrow(/L2_STORE/);
    expect(config.caches.l3.nearDuplicates).toBe(true);
    expect(loadConfig({ L3_NEAR_DUPLICATES: "0" }).caches.l3.nearDuplicates).toBe(false);
    expect(() => loadConfig({ L1_STORAGE_DTYPE: "bf16" })).toThrow(/L1_STORAGE_DTYPE/);
  });

  it("reads the model, limit and API key settings", () => {
    const config = loadConfig(
      {
        MODEL_DIR: "models/qwen3-vl-2b",
        EXECUTION_PROVIDER: "cpu",
        WEBGPU_BUFFER_CACHE: "simple",
        MAX_QUEUED_REQUESTS: "0",
        RATE_LIMIT_PER_MINUTE: "0",
        RATE_LIMIT_BURST: "2",
        API_KEYS: "sk-team-a=team-a, sk=x=public ,",
      },
      "/srv/app",
    );
    expect(config).toMatchObject({
      modelDir: "/srv/app/models/qwen3-vl-2b",
      executionProvider: "cpu",
      webgpuBufferCache: "simple",
      maxQueuedRequests: 0,
      rateLimit: { perMinute: 0, burst: 2 },
    });
    expect([...config.apiKeys]).toEqual([
      ["sk-team-a", "team-a"],
      ["sk=x", "public"],
    ]);
  });

  it("reads the admin and metrics keys, trusted proxies and request image bounds", () => {
    const config = loadConfig({
      ADMIN_API_KEY: "adm-1",
      METRICS_API_KEY: "met-1",
      TRUSTED_PROXIES: "127.0.0.1, 10.0.0.0/8,::1,fd00::/8",
      MAX_FAILED_KEYS_PER_MINUTE: "0",
      MAX_IMAGES_PER_REQUEST: "4",
      MAX_REQUEST_PIXELS: "5000000",
      MAX_DECODING_PIXELS: "50000000",
    });
    expect(config).toMatchObject({
      adminApiKey: "adm-1",
      metricsApiKey: "met-1",
      trustedProxies: ["127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8"],
      maxFailedKeysPerMinute: 0,
      requestImages: { maxImages: 4, maxPixels: 5_000_000, decodingPixels: 50_000_000 },
    });
    for (const entry of ["localhost", "10.0.0.0/33", "::1/129", "10.0.0.1/8/1", "10.0.0.1/x"]) {
      expect(() => loadConfig({ TRUSTED_PROXIES: entry })).toThrow(
        `TRUSTED_PROXIES: "${entry}" is not an IP address or CIDR block`,
      );
    }
    expect(() => loadConfig({ ADMIN_API_KEY: "two words" })).toThrow(/ADMIN_API_KEY/);
    expect(() => loadConfig({ MAX_IMAGE_PIXELS: "60000000", MAX_DECODING_PIXELS: "50000000" })).toThrow(
      "MAX_DECODING_PIXELS: 50000000 is less than MAX_IMAGE_PIXELS (60000000): an image of the largest accepted size could never be decoded",
    );
  });

  it("refuses API_KEYS entries without a valid tenant, without echoing the key", () => {
    for (const value of ["secret-key", "secret-key=Team A", "=team"]) {
      try {
        loadConfig({ API_KEYS: `k=ok,${value}` });
        expect.unreachable(`accepted API_KEYS=${value}`);
      } catch (error) {
        expect((error as ConfigError).issues).toEqual([
          "API_KEYS: entry 2 is not KEY=TENANT (tenant: a-z, 0-9, _ or -)",
        ]);
      }
    }
  });

  it("reads and coerces the variables, treating empty as unset", () => {
    const config = loadConfig(
      {
        PORT: "8080",
        REDIS_URL: "redis://:pw@10.0.0.5:6380/1",
        IMAGE_TTL_SECONDS: "60",
        MAX_UPLOAD_BYTES: "1000",
        MAX_IMAGE_PIXELS: "",
        CACHE_DIR: "/var/cache/vlcache",
        EMBEDDED_STORE: "memory",
        LOG_LEVEL: "warn",
      },
      "/srv/app",
    );
    expect(config).toMatchObject({
      port: 8080,
      redisUrl: "redis://:pw@10.0.0.5:6380/1",
      imageTtlSeconds: 60,
      maxUploadBytes: 1000,
      maxImagePixels: 40_000_000,
      cacheDir: "/var/cache/vlcache",
      embeddedStore: "memory",
      logLevel: "warn",
    });
  });

  it("reads REDIS_CLUSTER_NODES as seed nodes, IPv6 in brackets", () => {
    expect(
      loadConfig({ REDIS_CLUSTER_NODES: "10.0.0.1:7000, redis-b.local:7001,[::1]:7002" }).redisClusterNodes,
    ).toEqual([
      { host: "10.0.0.1", port: 7000 },
      { host: "redis-b.local", port: 7001 },
      { host: "::1", port: 7002 },
    ]);
  });

  it("refuses REDIS_CLUSTER_NODES entries that are not host:port, naming the entry", () => {
    for (const [value, entry] of [
      ["10.0.0.1:7000,10.0.0.2", '"10.0.0.2"'],
      ["redis://10.0.0.1:7000", '"redis://10.0.0.1:7000"'],
      ["10.0.0.1:70000", '"10.0.0.1:70000"'],
      [" , ", "names no node"],
    ]) {
      expect(() => loadConfig({ REDIS_CLUSTER_NODES: value })).toThrow(ConfigError);
      try {
        loadConfig({ REDIS_CLUSTER_NODES: value });
      } catch (error) {
        expect((error as ConfigError).issues).toHaveLength(1);
        expect((error as ConfigError).issues[0]).toMatch(/^REDIS_CLUSTER_NODES: /);
        expect((error as ConfigError).issues[0]).toContain(entry);
      }
    }
  });

  it("refuses REDIS_URL together with REDIS_CLUSTER_NODES", () => {
    expect(() => loadConfig({ REDIS_URL: "redis://10.0.0.5:6379", REDIS_CLUSTER_NODES: "10.0.0.1:7000" })).toThrow(
      /REDIS_URL and REDIS_CLUSTER_NODES are both set/,
    );
  });

  it("names every invalid variable", () => {
    try {
      loadConfig({ PORT: "99999", IMAGE_TTL_SECONDS: "-1", REDIS_URL: "http://x", LOG_LEVEL: "loud" });
      expect.unreachable("loadConfig accepted invalid values");
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const issues = (error as ConfigError).issues.map((issue) => issue.split(":")[0]);
      expect(issues.sort()).toEqual(["IMAGE_TTL_SECONDS", "LOG_LEVEL", "PORT", "REDIS_URL"]);
    }
  });
});

import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "@/lib/config";

describe("loadConfig", () => {
  it("has the documented defaults", () => {
    expect(loadConfig({}, "/srv/app")).toEqual({
      host: "127.0.0.1",
      port: 3000,
      redisUrl: undefined,
      embeddedStore: "auto",
      imageTtlSeconds: 86_400,
      maxUploadBytes: 20 * 1024 * 1024,
      maxImagePixels: 40_000_000,
      memoryStoreMaxBytes: 512 * 1024 * 1024,
      cacheDir: path.resolve("/srv/app", ".cache"),
      logLevel: "info",
    });
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

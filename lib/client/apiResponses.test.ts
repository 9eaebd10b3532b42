import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HealthResponse, MetricsSummary } from "@/lib/api/types";
import type { ImageId } from "@/lib/ids";
import { fetchHealth, fetchImageInfo, fetchMetricsSummary } from "./apiResponses";
import { startScriptedServer, type ScriptedServer } from "@/tests/support/scriptedServer";

const HEALTH: HealthResponse = {
  status: "ok",
  startedAt: 1_700_000_000_000,
  model: { name: "qwen3-vl-2b", isRandomTestModel: false, executionProvider: "cpu" },
  redis: { mode: "external", healthy: true },
};

const level = { hits: 3, misses: 1, bytes: 2048, capacityBytes: null, evictions: 0 };
const SUMMARY: MetricsSummary = {
  timestamp: 1_700_000_100_000,
  startedAt: 1_700_000_000_000,
  levels: { l1: level, l2: { ...level, capacityBytes: 1 << 30 }, l3: level },
  visionEncoderRuns: 2,
  visionEncoderRunsSaved: 5,
  prefixTokensReused: 4096,
  ttft: { upperBoundsMs: [100, 1000], hit: [3, 0, 0], miss: [0, 1, 1] },
  queueLength: 0,
};

const MODEL_ERROR = { code: "bundle_missing_file", message: "cannot load model bundle: /m/config.json: ENOENT" };

/** The path picks the answer; `?variant=` bends it. */
let variant = "good";
let server: ScriptedServer;

beforeAll(async () => {
  server = await startScriptedServer((request, res) => {
    const json = (status: number, body: unknown) =>
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    if (variant === "missing") return json(404, { error: { code: "not_found", message: "No such route" } });
    if (variant === "html") return res.writeHead(200, { "content-type": "text/html" }).end("<html>");
    if (request.url === "/api/health" && variant === "drifted")
      return json(200, { ...HEALTH, redis: { mode: "cluster", healthy: true } });
    if (request.url === "/api/health" && variant === "no-model")
      return json(200, { ...HEALTH, status: "starting", model: null });
    if (request.url === "/api/health" && variant === "model-failed")
      return json(200, { ...HEALTH, status: "degraded", model: null, modelError: MODEL_ERROR });
    if (request.url === "/api/health") return json(200, HEALTH);
    if (request.url === "/api/metrics/summary") return json(200, SUMMARY);
    if (request.url === `/api/images/${"d".repeat(64)}`)
      return json(200, { imageId: "d".repeat(64), width: 4, height: 3, bytes: 99, status: "ready", encodingMs: 412 });
    if (request.url === `/api/images/${"c".repeat(64)}`)
      return json(200, { imageId: "c".repeat(64), width: 4, height: 3, bytes: 99, status: "encoding", extra: 1 });
    json(404, {});
  });
});

afterAll(async () => {
  await server.close();
});

describe("polled API answers", () => {
  it("reads health, metrics summary and image info when the shapes match", async () => {
    variant = "good";
    expect(await fetchHealth(undefined, server.baseUrl)).toEqual(HEALTH);
    variant = "no-model";
    expect(await fetchHealth(undefined, server.baseUrl)).toEqual({ ...HEALTH, status: "starting", model: null });
    variant = "good";
    expect(await fetchMetricsSummary(undefined, server.baseUrl)).toEqual(SUMMARY);
    expect(await fetchImageInfo("c".repeat(64) as ImageId, undefined, server.baseUrl)).toEqual({
      imageId: "c".repeat(64),
      width: 4,
      height: 3,
      bytes: 99,
      status: "encoding",
    });
  });

  it("keeps the optional fields the page shows: a failed model load and an image's encoding time", async () => {
    variant = "model-failed";
    expect(await fetchHealth(undefined, server.baseUrl)).toEqual({
      ...HEALTH,
      status: "degraded",
      model: null,
      modelError: MODEL_ERROR,
    });
    variant = "good";
    expect(await fetchImageInfo("d".repeat(64) as ImageId, undefined, server.baseUrl)).toMatchObject({
      status: "ready",
      encodingMs: 412,
    });
  });

  it("names the field when the server drifts from the contract", async () => {
    variant = "drifted";
    await expect(fetchHealth(undefined, server.baseUrl)).rejects.toMatchObject({ code: "bad_response" });
    await expect(fetchHealth(undefined, server.baseUrl)).rejects.toThrow(/redis\.mode/);
  });

  it("passes on HTTP errors and non-JSON answers as ApiError", async () => {
    variant = "missing";
    await expect(fetchMetricsSummary(undefined, server.baseUrl)).rejects.toMatchObject({
      status: 404,
      code: "not_found",
      message: "No such route.",
    });
    variant = "html";
    await expect(fetchHealth(undefined, server.baseUrl)).rejects.toMatchObject({
      code: "bad_response",
      message: `${server.baseUrl}/api/health did not answer with JSON.`,
    });
  });
});

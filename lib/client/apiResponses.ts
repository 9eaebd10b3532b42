/**
 * Fetches and checks the JSON answers the page polls: GET /api/health and GET /api/metrics/summary. Shapes are
 * checked with zod/mini so a drifting server shows up as a readable error, never as a half-drawn page.
 */
import * as z from "zod/mini";
import type { HealthResponse, ImageInfoResponse, MetricsSummary } from "@/lib/api/types";
import type { ImageId } from "@/lib/ids";
import { EXECUTION_PROVIDERS } from "@/lib/executionProviders";
import { ApiError, apiErrorFromResponse, isAbortError, networkError } from "./apiError";

const count = z.number().check(z.nonnegative());

const healthSchema = z.object({
  status: z.enum(["ok", "starting", "degraded"]),
  modelError: z.optional(z.object({ code: z.string(), message: z.string() })),
  startedAt: z.number(),
  model: z.nullable(
    z.object({
      name: z.string(),
      isRandomTestModel: z.boolean(),
      executionProvider: z.enum(EXECUTION_PROVIDERS),
    }),
  ),
  redis: z.object({ mode: z.enum(["external", "embedded", "memory"]), healthy: z.boolean() }),
});

const levelSchema = z.object({
  hits: count,
  misses: count,
  bytes: count,
  capacityBytes: z.nullable(count),
  evictions: count,
});

const metricsSummarySchema = z.object({
  timestamp: z.number(),
  startedAt: z.number(),
  levels: z.object({ l1: levelSchema, l2: levelSchema, l3: levelSchema }),
  visionEncoderRuns: count,
  visionEncoderRunsSaved: count,
  prefixTokensReused: count,
  ttft: z.object({ upperBoundsMs: z.array(count), hit: z.array(count), miss: z.array(count) }),
  queueLength: count,
});

const imageInfoSchema = z.object({
  imageId: z.string(),
  width: count,
  height: count,
  bytes: count,
  status: z.enum(["encoding", "ready"]),
  encodingMs: z.optional(count),
});

async function getJson<T>(url: string, schema: z.ZodMiniType<T>, signal?: AbortSignal): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, { headers: { accept: "application/json" }, cache: "no-store", signal });
  } catch (error) {
    if (isAbortError(error)) throw error;
    throw networkError();
  }
  if (!response.ok) throw await apiErrorFromResponse(response);
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(response.status, "bad_response", `${url} did not answer with JSON.`);
  }
  const result = schema.safeParse(body);
  if (!result.success)
    throw new ApiError(
      response.status,
      "bad_response",
      `${url} answered an unexpected shape: ${z.prettifyError(result.error)}`,
    );
  return result.data;
}

export function fetchHealth(signal?: AbortSignal, baseUrl = ""): Promise<HealthResponse> {
  return getJson(`${baseUrl}/api/health`, healthSchema, signal);
}

export function fetchMetricsSummary(signal?: AbortSignal, baseUrl = ""): Promise<MetricsSummary> {
  return getJson(`${baseUrl}/api/metrics/summary`, metricsSummarySchema, signal);
}

export async function fetchImageInfo(imageId: ImageId, signal?: AbortSignal, baseUrl = ""): Promise<ImageInfoResponse> {
  const info = await getJson(`${baseUrl}/api/images/${encodeURIComponent(imageId)}`, imageInfoSchema, signal);
  return { ...info, imageId: info.imageId as ImageId };
}

import { describe, expect, it } from "vitest";
import { StoreFullError, StoreUnavailableError } from "@/lib/cache/store/blobStore";
import { InferenceError, QueueFullError } from "@/lib/inference/errors";
import { asRequestError, RequestError, requestErrorResponse } from "./requestError";

describe("asRequestError", () => {
  it("keeps the pipeline's refusals with their status, and a full queue's retry hint", () => {
    expect(asRequestError(new InferenceError("image_not_found", "no image"))).toMatchObject({ status: 404, code: "image_not_found", message: "no image" });
    expect(asRequestError(new QueueFullError(32, 7))).toMatchObject({ status: 503, code: "queue_full", retryAfterSeconds: 7 });
    expect(asRequestError(new InferenceError("store_unavailable", "down"))).toMatchObject({ status: 503, retryAfterSeconds: 2 });
  });

  it("answers the store's strict failures: unavailable is a retryable 503, full a 507", () => {
    expect(asRequestError(new StoreUnavailableError("timed out"))).toMatchObject({ status: 503, code: "store_unavailable", retryAfterSeconds: 2 });
    const full = asRequestError(new StoreFullError("OOM"));
    expect(full).toMatchObject({ status: 507, code: "store_full" });
    expect(full!.retryAfterSeconds).toBeUndefined();
  });

  it("recognises errors of another copy of the same classes (another bundle's modules) by name", () => {
    class ForeignRequestError extends Error {
      constructor(
        readonly status: number,
        readonly code: string,
        message: string,
        readonly retryAfterSeconds?: number,
      ) {
        super(message);
        this.name = "RequestError";
      }
    }
    const converted = asRequestError(new ForeignRequestError(503, "model_loading", "loading", 5));
    expect(converted).toBeInstanceOf(RequestError);
    expect(converted).toMatchObject({ status: 503, code: "model_loading", message: "loading", retryAfterSeconds: 5 });
  });

  it("leaves unexpected errors to the caller", () => {
    expect(asRequestError(new TypeError("x is undefined"))).toBeNull();
    expect(asRequestError("a string")).toBeNull();
  });
});

describe("requestErrorResponse", () => {
  it("answers {error: {code, message}} with the status and Retry-After", async () => {
    const response = requestErrorResponse(new RequestError(429, "rate_limited", "slow down", 3));
    expect(response.status).toBe(429);
    expect(response.headers.get("retry-after")).toBe("3");
    expect(await response.json()).toEqual({ error: { code: "rate_limited", message: "slow down" } });
  });
});

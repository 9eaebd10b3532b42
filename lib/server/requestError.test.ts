import { describe, expect, it } from "vitest";
import { StoreFullError, StoreUnavailableError } from "@/lib/cache/store/blobStore";
import { InferenceError, QueueFullError } from "@/lib/inference/errors";
import { ingestError } from "@/lib/images/ingestErrors";
import { asRequestError, ingestRefusal, RequestError, requestErrorResponse } from "./requestError";

describe("asRequestError", () => {
  it("keeps the pipeline's refusals with their status, and a full queue's retry hint", () => {
    expect(asRequestError(new InferenceError("image_not_found", "no image"))).toMatchObject({
      status: 404,
      code: "image_not_found",
      message: "no image",
    });
    expect(asRequestError(new QueueFullError(32, 7))).toMatchObject({
      status: 503,
      code: "queue_full",
      retryAfterSeconds: 7,
    });
    expect(asRequestError(new InferenceError("store_unavailable", "down"))).toMatchObject({
      status: 503,
      retryAfterSeconds: 2,
    });
  });

  it("answers the store's strict failures: unavailable is a retryable 503, full a 507", () => {
    expect(asRequestError(new StoreUnavailableError("timed out"))).toMatchObject({
      status: 503,
      code: "store_unavailable",
      retryAfterSeconds: 2,
    });
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

  it.each([
    ["invalid_request", 400],
    ["image_not_found", 404],
    ["image_too_large", 413],
    ["invalid_image", 422],
    ["unsupported_media_type", 415],
    ["prompt_too_long", 400],
    ["store_unavailable", 503],
  ] as const)("maps the pipeline's %s to HTTP %i", (code, status) => {
    expect(asRequestError(new InferenceError(code, "m"))?.status).toBe(status);
  });

  it("leaves unexpected errors to the caller", () => {
    expect(asRequestError(new TypeError("x is undefined"))).toBeNull();
    expect(asRequestError("a string")).toBeNull();
  });
});

describe("ingestRefusal", () => {
  it("gives each upload refusal its status", () => {
    expect(ingestRefusal(ingestError.emptyBody())).toMatchObject({ status: 400, code: "empty_body" });
    expect(ingestRefusal(ingestError.payloadTooLarge(10))).toMatchObject({ status: 413, code: "payload_too_large" });
    expect(ingestRefusal(ingestError.unsupported("BMP"))).toMatchObject({
      status: 415,
      code: "unsupported_media_type",
    });
    expect(ingestRefusal(ingestError.notAnImage())).toMatchObject({ status: 422, code: "invalid_image" });
    expect(ingestRefusal(ingestError.tooManyPixels(10, 10, 50))).toMatchObject({
      status: 422,
      code: "too_many_pixels",
    });
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

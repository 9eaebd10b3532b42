import { describe, expect, it } from "vitest";
import type { HealthResponse } from "@/lib/api/types";
import type { Connection } from "./healthConnection";
import { serverProblem } from "./serverProblem";

const healthy: HealthResponse = {
  status: "ok",
  startedAt: 1,
  model: { name: "tiny", isRandomTestModel: true, executionProvider: "cpu" },
  redis: { mode: "external", healthy: true },
};
const up = (change: Partial<HealthResponse>): Connection => ({ state: "up", health: { ...healthy, ...change } });

describe("serverProblem", () => {
  it("says nothing while connecting or healthy", () => {
    expect(serverProblem({ state: "connecting" })).toBeNull();
    expect(serverProblem(up({}))).toBeNull();
  });

  it("blocks sending while the server does not respond, keeping the reason as detail", () => {
    const down: Connection = {
      state: "down",
      failures: 2,
      downSince: 0,
      reason: "Cannot reach the server.",
      answered: false,
      lastHealth: null,
    };
    expect(serverProblem(down)).toEqual({
      kind: "down",
      headline: "The server is not responding.",
      detail: "Cannot reach the server.",
      blocksSending: "The server is not responding.",
    });
  });

  it("puts a failed model load in plain words and folds the loader's message (paths, ENOENT) into the detail", () => {
    const problem = serverProblem(
      up({
        status: "degraded",
        model: null,
        modelError: { code: "bundle_missing_file", message: "cannot load model bundle: /m/config.json: ENOENT" },
      }),
    );
    expect(problem).toMatchObject({ kind: "no-model", blocksSending: "No model is loaded on the server." });
    expect(problem?.headline).not.toMatch(/ENOENT|\//);
    expect(problem?.detail).toBe("bundle_missing_file: cannot load model bundle: /m/config.json: ENOENT");
  });

  it("blocks sending while the model loads", () => {
    expect(serverProblem(up({ status: "starting", model: null }))).toMatchObject({
      kind: "starting",
      blocksSending: "The model is still loading.",
    });
  });

  it("warns without blocking when only the cache store is down", () => {
    expect(serverProblem(up({ status: "degraded", redis: { mode: "embedded", healthy: false } }))).toMatchObject({
      kind: "store-down",
      blocksSending: null,
    });
  });
});

import path from "node:path";
import { readFile } from "node:fs/promises";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseQwen3VLConfig } from "@/lib/model/config";
import { ONNX_FILES, presentOutputNames } from "@/lib/model/engine/bundle";
import type { DecoderSessions } from "@/lib/model/engine/decoderSteps";
import { providerSessionFactory } from "@/lib/model/engine/executionProvider";
import { liveKvBytes } from "@/lib/model/engine/kvCache";
import {
  chooseProvider,
  fastestProvider,
  PROBE_DECODE_STEPS,
  PROBE_PROMPT_TOKENS,
  timeShortRequest,
} from "@/lib/model/engine/providerProbe";
import { fixtureBundle } from "./engineFixtures";

/** `auto`'s comparison of providers: a short request on the bundle's own decoder (real ORT CPU sessions here). */
describe("provider probe", () => {
  let sessions: DecoderSessions;
  let dir: string;

  beforeAll(async () => {
    dir = await fixtureBundle("tiny-deepstack-tied");
    const config = parseQwen3VLConfig(JSON.parse(await readFile(path.join(dir, "config.json"), "utf8")));
    const factory = providerSessionFactory("cpu", { intraOpNumThreads: 1 });
    sessions = {
      embedTokens: await factory.open(path.join(dir, ONNX_FILES.embedTokens)),
      decoder: await factory.open(path.join(dir, ONNX_FILES.decoder), {
        outputsOnDevice: presentOutputNames(config.text.numHiddenLayers),
      }),
      config,
      floatType: "float32",
      deepstack: true,
    };
  });
  afterAll(async () => {
    await sessions?.embedTokens.release();
    await sessions?.decoder.release();
  });

  it("times a short request on the decoder and releases every KV cache it made", async () => {
    const before = liveKvBytes();
    const ms = await timeShortRequest(sessions);
    expect(ms).toBeGreaterThan(0);
    expect(liveKvBytes()).toBe(before);
  });

  it("keeps the fastest provider and says why, listing every provider's time", () => {
    const choice = fastestProvider([
      { provider: "cpu", ms: 1450.4 },
      { provider: "webgpu", ms: 85.2 },
    ]);
    expect(choice.provider).toBe("webgpu");
    expect(choice.why).toBe(
      `fastest on a short request (${PROBE_PROMPT_TOKENS}-token prefill + ${PROBE_DECODE_STEPS} decode steps): webgpu 85 ms, cpu 1450 ms`,
    );
    expect(() => fastestProvider([])).toThrow(RangeError);
  });

  it("probes every candidate that started, keeps the chosen one's decoder and releases every other one", async () => {
    const factory = providerSessionFactory("cpu", { intraOpNumThreads: 1 });
    const decoderFile = path.join(dir, ONNX_FILES.decoder);
    const candidates = [
      { factory, session: await factory.open(decoderFile) },
      { factory, session: await factory.open(decoderFile) },
    ];
    const probed: ort.InferenceSession[] = [];
    const chosen = await chooseProvider("auto", candidates, [], (decoder) => {
      probed.push(decoder);
      return { ...sessions, decoder };
    });
    expect(probed).toEqual(candidates.map((c) => c.session));
    expect(chosen.why).toMatch(
      /^fastest on a short request \(256-token prefill \+ 8 decode steps\): cpu \d+ ms, cpu \d+ ms$/,
    );
    expect(chosen.decoder).toBe(candidates[0].session);
    // The loser's decoder is released: a request on it fails; the chosen one still runs.
    await expect(timeShortRequest({ ...sessions, decoder: candidates[1].session })).rejects.toThrow();
    await expect(timeShortRequest({ ...sessions, decoder: chosen.decoder })).resolves.toBeGreaterThan(0);
    await chosen.decoder.release();
  });
});

import { mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { storedImages } from "@/lib/inference/imageSource";
import { loadInferenceModel } from "@/lib/inference/inferenceModel";
import { InferencePipeline } from "@/lib/inference/pipeline";
import { collect, MAX_IMAGE_PIXELS, startInferenceHarness, type InferenceHarness } from "./inference-support";

/**
 * How generation ends and what it emits, on the tiny-plain-untied fixture with real ORT sessions. The cases are built
 * from the fixture's known greedy answer to text_only, whose tokens decode to
 *   " EXP", " orang", "licts", " Twice", " ряд", " Rubin", " Kyoto", "pes", "methodName", …
 * so a stop string or an EOS id can be placed at a known step.
 */
let h: InferenceHarness;
beforeAll(async () => {
  h = await startInferenceHarness("tiny-plain-untied");
});
afterAll(() => h?.teardown());

const textOnly = () => h.messages(h.reference.text_only);
const greedy = () => h.reference.text_only.greedy;
const decode = (ids: readonly number[]) => h.model.tokenizer.decode(ids, { skipSpecialTokens: true });

describe("seeded sampling", () => {
  const sampled = (seed?: number) =>
    collect(
      h.pipeline().generate({
        messages: textOnly(),
        maxNewTokens: 16,
        temperature: 1,
        topK: 200,
        topP: 0.95,
        repetitionPenalty: 1.1,
        seed,
      }),
    );

  it("gives the same tokens for the same seed, and different tokens for another seed", async () => {
    const [first, again, other] = [await sampled(7), await sampled(7), await sampled(8)];
    expect(first.done.tokenIds).toHaveLength(16);
    expect(again.done.tokenIds).toEqual(first.done.tokenIds);
    expect(again.text).toBe(first.text);
    expect(other.done.tokenIds).not.toEqual(first.done.tokenIds);
    expect([first.done.seed, other.done.seed]).toEqual([7, 8]);
    // Sampling, not greedy: the seeded answers leave the greedy path.
    expect(first.done.tokenIds).not.toEqual(greedy().slice(0, 16));
  });

  it("reports the seed it drew for an unseeded request, which reproduces the answer", async () => {
    const unseeded = await sampled();
    expect(Number.isInteger(unseeded.done.seed)).toBe(true);
    const replayed = await sampled(unseeded.done.seed as number);
    expect(replayed.done.tokenIds).toEqual(unseeded.done.tokenIds);
  });

  it("decodes greedily at temperature 0, whatever the seed and filters", async () => {
    const { done } = await collect(
      h.pipeline().generate({ messages: textOnly(), maxNewTokens: 10, temperature: 0, topK: 3, seed: 5 }),
    );
    expect(done.tokenIds).toEqual(greedy().slice(0, 10));
    expect(done.seed).toBeNull();
  });
});

describe("where an answer ends", () => {
  it("stops after maxNewTokens with finish reason length", async () => {
    const { done, text } = await collect(h.pipeline().generate({ messages: textOnly(), maxNewTokens: 5 }));
    expect(done.finishReason).toBe("length");
    expect(done.tokenIds).toEqual(greedy().slice(0, 5));
    expect(done.usage.completionTokens).toBe(5);
    expect(text).toBe(decode(greedy().slice(0, 5)));
  });

  it("stops at the context limit (prompt + generated tokens)", async () => {
    const promptTokens = h.reference.text_only.input_ids.length;
    const pipeline = h.pipeline({ maxContextTokens: promptTokens + 3 });
    const { done } = await collect(pipeline.generate({ messages: textOnly(), maxNewTokens: 20 }));
    expect(done.finishReason).toBe("length");
    expect(done.tokenIds).toEqual(greedy().slice(0, 3));
  });

  it("stops right before a stop string that spans two tokens and never emits text at or past it", async () => {
    // " Kyoto" + "pes" are greedy steps 6 and 7.
    const full = decode(greedy());
    const stop = "Kyotopes";
    expect(full).toContain(stop);
    const { done, text, events } = await collect(
      h.pipeline().generate({ messages: textOnly(), maxNewTokens: 24, stop: [stop] }),
    );
    expect(done.finishReason).toBe("stop");
    expect(text).toBe(full.slice(0, full.indexOf(stop)));
    expect(text.endsWith(" Rubin ")).toBe(true);
    expect(done.tokenIds).toEqual(greedy().slice(0, 8));
    for (const event of events) if (event.type === "token") expect(event.text).not.toContain("Kyoto");
  });

  it("cuts at the earliest of several stop strings", async () => {
    const full = decode(greedy());
    const { text, done } = await collect(
      h.pipeline().generate({ messages: textOnly(), maxNewTokens: 24, stop: ["Kyoto", "Twice"] }),
    );
    expect(text).toBe(full.slice(0, full.indexOf("Twice")));
    expect(done.finishReason).toBe("stop");
    expect(done.tokenIds).toEqual(greedy().slice(0, 4));
  });

  it("stops at an EOS id of generation_config: the EOS token is counted, its text is not emitted", async () => {
    // The same bundle with generation_config's eos_token_id set to the greedy answer's 7th token (" Kyoto").
    const variant = await mkdtemp(path.join(os.tmpdir(), "vlcache-eos-bundle-"));
    try {
      for (const entry of await readdir(h.bundleDir)) {
        if (entry !== "generation_config.json") await symlink(path.join(h.bundleDir, entry), path.join(variant, entry));
      }
      const generationConfig = JSON.parse(await readFile(path.join(h.bundleDir, "generation_config.json"), "utf8"));
      const eos = greedy()[6];
      await writeFile(
        path.join(variant, "generation_config.json"),
        JSON.stringify({ ...generationConfig, eos_token_id: [eos] }),
      );
      const model = await loadInferenceModel(variant, { executionProvider: "cpu" });
      try {
        expect(model.stopTokenIds.has(eos)).toBe(true);
        expect(model.stopTokenIds.has(h.model.tokenizer.tokenId("<|im_end|>"))).toBe(true);
        const pipeline = new InferencePipeline({
          model,
          images: storedImages(h.store),
          maxImagePixels: MAX_IMAGE_PIXELS,
        });
        const { done, text } = await collect(pipeline.generate({ messages: textOnly(), maxNewTokens: 24 }));
        expect(done.finishReason).toBe("stop");
        expect(done.tokenIds).toEqual(greedy().slice(0, 7));
        expect(done.usage.completionTokens).toBe(7);
        expect(text).toBe(decode(greedy().slice(0, 6)));
      } finally {
        await model.release();
      }
    } finally {
      await rm(variant, { recursive: true, force: true });
    }
  });
});

describe("streamed text", () => {
  it("never splits a multi-byte character and concatenates to the decoded answer (turn1 starts with an emoji)", async () => {
    const turn = h.reference.turn1;
    const { events, text, done } = await collect(
      h.pipeline().generate({ messages: h.messages(turn), maxNewTokens: 24 }),
    );
    expect(done.tokenIds).toEqual(turn.greedy);
    expect(text).toBe(decode(turn.greedy));
    const pieces = events.flatMap((e) => (e.type === "token" ? [e.text] : []));
    expect(pieces.length).toBeGreaterThan(1);
    for (const piece of pieces) expect(piece).not.toContain("\uFFFD");
  });
});

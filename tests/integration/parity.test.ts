import { cp, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatParityTable } from "@/lib/model/parity/report";
import { runParity } from "@/lib/model/parity/runParity";

/**
 * `runParity` against the committed PyTorch fixtures (real conversion, real ORT sessions), plus doctored copies of a
 * fixture's reference to show that a wrong token fails the run and a reference near-tie is forgiven.
 */

const FIXTURES = path.resolve("fixtures/parity");
let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), "vlcache-parity-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

type TurnJson = { greedy: number[]; margins: number[] };
type ReferenceJson = Record<"turn1" | "turn2" | "text_only", TurnJson>;

/** A copy of `fixture` whose reference.json is edited by `edit`; the model folder is linked, not copied. */
async function doctoredFixture(
  fixture: string,
  name: string,
  edit: (reference: ReferenceJson) => void,
): Promise<string> {
  const dir = path.join(scratch, name);
  await cp(path.join(FIXTURES, fixture), dir, { recursive: true, filter: (src) => !src.includes(`${path.sep}model`) });
  await symlink(path.join(FIXTURES, fixture, "model"), path.join(dir, "model"));
  const reference = JSON.parse(await readFile(path.join(dir, "reference.json"), "utf8"));
  edit(reference);
  await writeFile(path.join(dir, "reference.json"), JSON.stringify(reference));
  return dir;
}

describe("runParity", () => {
  it("passes on the DeepStack fixture with every row checked", async () => {
    const run = await runParity(path.join(FIXTURES, "tiny-deepstack-tied"));
    const model = [
      "vision features",
      "vision deepstack",
      "turn1 first logits",
      "greedy turn1",
      "greedy turn2",
      "greedy text_only",
    ];
    expect(run.rows.filter((r) => model.includes(r.check)).map((r) => [r.check, r.pass])).toEqual(
      model.map((check) => [check, true]),
    );
    expect(run.rows.every((r) => r.pass === true)).toBe(true);
    expect(run.passed).toBe(true);
    expect(run.executionProvider).toBe("cpu");
  });

  it("reports DeepStack as n/a for a model without it and still passes", async () => {
    const run = await runParity(path.join(FIXTURES, "tiny-plain-untied"));
    expect(run.rows.find((r) => r.check === "vision deepstack")?.pass).toBeNull();
    expect(run.passed).toBe(true);
  });

  it("fails on a token the reference chose with a clear margin, and says where", async () => {
    const dir = await doctoredFixture("tiny-plain-untied", "wrong-token", (ref) => {
      ref.text_only.greedy[5] = (ref.text_only.greedy[5] + 1) % 151936;
      ref.text_only.margins[5] = 0.5;
    });
    const run = await runParity(dir);
    const row = run.rows.find((r) => r.check === "greedy text_only");
    expect(row).toMatchObject({ pass: false, value: "5/24" });
    expect(row?.note).toMatch(/step 5 gave \d+, reference \d+ \(reference margin 5\.00e-1\)/);
    expect(run.passed).toBe(false);
    expect(formatParityTable(run.rows)).toMatch(
      /^greedy text_only +tokens +5\/24 +identical \(tie < 1e-4 forgiven\) +NO$/m,
    );
  });

  it("forgives a difference at a step where the reference margin is below 1e-4", async () => {
    const dir = await doctoredFixture("tiny-plain-untied", "near-tie", (ref) => {
      ref.turn2.greedy[9] = (ref.turn2.greedy[9] + 1) % 151936;
      ref.turn2.margins[9] = 5e-5;
    });
    const run = await runParity(dir);
    const row = run.rows.find((r) => r.check === "greedy turn2");
    expect(row).toMatchObject({ pass: true, value: "9/24 + tie" });
    expect(row?.note).toMatch(/differs at step 9, where the reference margin is 5\.00e-5 < 1e-4/);
    expect(run.passed).toBe(true);
  });

  it("fails the vision rows when the reference features differ", async () => {
    const dir = await doctoredFixture("tiny-deepstack-tied", "bad-vision", () => undefined);
    const file = path.join(dir, "vision_image_features.npy");
    const bytes = await readFile(file);
    // Add 0.01 to the last float32 of the data.
    const last = bytes.length - 4;
    bytes.writeFloatLE(bytes.readFloatLE(last) + 0.01, last);
    await writeFile(file, bytes);
    const run = await runParity(dir);
    const row = run.rows.find((r) => r.check === "vision features");
    expect(row?.pass).toBe(false);
    expect(Number(row?.value)).toBeGreaterThan(9e-3);
  });
});

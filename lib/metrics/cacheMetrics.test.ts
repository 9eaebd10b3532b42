import { describe, expect, it } from "vitest";
import {
  cacheRequests,
  recordFeatureLookup,
  visionEncoderRunsSaved,
  type FeatureLookupEvent,
} from "@/lib/metrics/cacheMetrics";

async function counts(): Promise<{ hits: number; misses: number; saved: number }> {
  const requests = (await cacheRequests.get()).values.filter((v) => v.labels.level === "l1");
  const sum = (result: string) =>
    requests.filter((v) => v.labels.result === result).reduce((total, v) => total + v.value, 0);
  const saved = (await visionEncoderRunsSaved.get()).values.reduce((total, v) => total + v.value, 0);
  return { hits: sum("hit"), misses: sum("miss"), saved };
}

describe("recordFeatureLookup", () => {
  it.each<[FeatureLookupEvent, { hits: number; misses: number; saved: number }]>([
    [
      { required: true, l1: true, source: "computed" },
      { hits: 0, misses: 1, saved: 0 },
    ],
    [
      { required: true, l1: true, source: "l1" },
      { hits: 1, misses: 0, saved: 1 },
    ],
    [
      { required: true, l1: true, source: "precomputed" },
      { hits: 1, misses: 0, saved: 1 },
    ],
    [
      { required: true, l1: false, source: "computed" },
      { hits: 0, misses: 0, saved: 0 },
    ],
    [
      { required: false, l1: true, source: "l1" },
      { hits: 1, misses: 0, saved: 1 },
    ],
    [
      { required: false, l1: true, source: null },
      { hits: 0, misses: 0, saved: 1 },
    ],
    [
      { required: false, l1: false, source: null },
      { hits: 0, misses: 0, saved: 1 },
    ],
  ])("counts %j as %j", async (event, expected) => {
    const before = await counts();
    recordFeatureLookup(event);
    const after = await counts();
    expect({
      hits: after.hits - before.hits,
      misses: after.misses - before.misses,
      saved: after.saved - before.saved,
    }).toEqual(expected);
  });
});

import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { TTFT_BUCKETS_SECONDS } from "@/lib/metrics/cacheMetrics";
import { buildMetricsSummary } from "@/lib/metrics/summary";

/** A private registry with the cache metrics' names, so the test controls every value. */
function registryWithMetrics() {
  const registry = new Registry();
  const registers = [registry];
  return {
    registry,
    requests: new Counter({
      name: "vlcache_cache_requests_total",
      help: "h",
      labelNames: ["level", "result"],
      registers,
    }),
    bytes: new Gauge({ name: "vlcache_cache_bytes", help: "h", labelNames: ["level"], registers }),
    capacity: new Gauge({ name: "vlcache_cache_capacity_bytes", help: "h", labelNames: ["level"], registers }),
    evictions: new Counter({ name: "vlcache_cache_evictions_total", help: "h", labelNames: ["level"], registers }),
    runs: new Counter({ name: "vlcache_vision_encoder_runs_total", help: "h", registers }),
    saved: new Counter({ name: "vlcache_vision_encoder_runs_saved_total", help: "h", registers }),
    reused: new Counter({ name: "vlcache_prefix_tokens_reused_total", help: "h", registers }),
    ttft: new Histogram({
      name: "vlcache_ttft_seconds",
      help: "h",
      labelNames: ["cache"],
      buckets: TTFT_BUCKETS_SECONDS,
      registers,
    }),
    queue: new Gauge({ name: "vlcache_queue_length", help: "h", registers }),
  };
}

describe("buildMetricsSummary", () => {
  it("reads every level's counters and gauges, with null capacity where none is set", async () => {
    const m = registryWithMetrics();
    m.requests.inc({ level: "l1", result: "hit" }, 3);
    m.requests.inc({ level: "l1", result: "miss" }, 2);
    m.requests.inc({ level: "l3", result: "miss" });
    m.bytes.set({ level: "l1" }, 1000);
    m.bytes.set({ level: "l2" }, 2048);
    m.capacity.set({ level: "l1" }, 4096);
    m.capacity.set({ level: "l2" }, 8192);
    m.evictions.inc({ level: "l2" }, 7);
    m.runs.inc(4);
    m.saved.inc(9);
    m.reused.inc(321);
    m.queue.set(2);

    const summary = await buildMetricsSummary({ startedAt: new Date(1_000), registry: m.registry, now: () => 5_000 });
    expect(summary.timestamp).toBe(5_000);
    expect(summary.startedAt).toBe(1_000);
    expect(summary.levels.l1).toEqual({ hits: 3, misses: 2, bytes: 1000, capacityBytes: 4096, evictions: 0 });
    expect(summary.levels.l2).toEqual({ hits: 0, misses: 0, bytes: 2048, capacityBytes: 8192, evictions: 7 });
    expect(summary.levels.l3).toEqual({ hits: 0, misses: 1, bytes: 0, capacityBytes: null, evictions: 0 });
    expect(summary.visionEncoderRuns).toBe(4);
    expect(summary.visionEncoderRunsSaved).toBe(9);
    expect(summary.prefixTokensReused).toBe(321);
    expect(summary.queueLength).toBe(2);
  });

  it("turns cumulative TTFT buckets into per-bucket counts split by hit and miss", async () => {
    const m = registryWithMetrics();
    m.ttft.observe({ cache: "hit" }, 0.003); // ≤ 5 ms
    m.ttft.observe({ cache: "hit" }, 0.004); // ≤ 5 ms
    m.ttft.observe({ cache: "hit" }, 0.2); // ≤ 250 ms
    m.ttft.observe({ cache: "miss" }, 0.7); // ≤ 1 s
    m.ttft.observe({ cache: "miss" }, 99); // beyond the last bound

    const { ttft } = await buildMetricsSummary({ startedAt: new Date(0), registry: m.registry });
    expect(ttft.upperBoundsMs).toEqual([5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000]);
    expect(ttft.hit).toEqual([2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    expect(ttft.miss).toEqual([0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
  });

  it("reads zeros from a registry where nothing is registered yet", async () => {
    const summary = await buildMetricsSummary({ startedAt: new Date(0), registry: new Registry() });
    expect(summary.levels.l2).toEqual({ hits: 0, misses: 0, bytes: 0, capacityBytes: null, evictions: 0 });
    expect(summary.ttft.hit).toEqual(new Array(13).fill(0));
    expect(summary.queueLength).toBe(0);
  });
});

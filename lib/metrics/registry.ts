import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { CounterConfiguration, GaugeConfiguration, HistogramConfiguration } from "prom-client";

/**
 * The one prom-client registry of the process. Every layer registers its metrics here and /api/metrics serves it.
 *
 * Why globalThis: Next.js compiles instrumentation and each route into separate bundles, and dev mode re-evaluates
 * modules on reload, so a module-level `new Registry()` could exist several times in one process and metrics would
 * be split between copies. Keeping the registry under a global symbol makes it one per process.
 *
 * Metric definitions go through `counter`/`gauge`/`histogram` below for the same reason: a second evaluation of a
 * module returns the already registered metric instead of throwing "metric already registered".
 */
const REGISTRY_KEY = Symbol.for("vlcache.metrics.registry");

type GlobalWithRegistry = typeof globalThis & { [REGISTRY_KEY]?: Registry };

function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

const globalWithRegistry = globalThis as GlobalWithRegistry;
export const metricsRegistry: Registry = (globalWithRegistry[REGISTRY_KEY] ??= createRegistry());

export function counter<L extends string>(config: Omit<CounterConfiguration<L>, "registers">): Counter<L> {
  const existing = metricsRegistry.getSingleMetric(config.name);
  return (existing as Counter<L> | undefined) ?? new Counter<L>({ ...config, registers: [metricsRegistry] });
}

export function gauge<L extends string>(config: Omit<GaugeConfiguration<L>, "registers">): Gauge<L> {
  const existing = metricsRegistry.getSingleMetric(config.name);
  return (existing as Gauge<L> | undefined) ?? new Gauge<L>({ ...config, registers: [metricsRegistry] });
}

export function histogram<L extends string>(config: Omit<HistogramConfiguration<L>, "registers">): Histogram<L> {
  const existing = metricsRegistry.getSingleMetric(config.name);
  return (existing as Histogram<L> | undefined) ?? new Histogram<L>({ ...config, registers: [metricsRegistry] });
}

import path from "node:path";
import * as ort from "onnxruntime-node";
import type { Logger } from "@/lib/log";

import {
  EXECUTION_PROVIDER_RECORDS,
  providerRecord,
  type ExecutionProviderChoice,
  type ExecutionProviderName,
  type WebGpuBufferCache,
} from "@/lib/executionProviders";

export {
  EXECUTION_PROVIDER_CHOICES,
  EXECUTION_PROVIDER_RECORDS,
  EXECUTION_PROVIDERS,
  providerRecord,
  WEBGPU_BUFFER_CACHES,
  type ExecutionProviderChoice,
  type ExecutionProviderName,
  type ExecutionProviderRecord,
  type WebGpuBufferCache,
} from "@/lib/executionProviders";

export interface OpenSessionOptions {
  /** Outputs to keep in device memory when the provider can (`deviceOutputs`); elsewhere they come back to the host. */
  readonly outputsOnDevice?: readonly string[];
}

export interface SessionFactory {
  readonly executionProvider: ExecutionProviderName;
  /** Whether `outputsOnDevice` takes effect on this provider. */
  readonly deviceOutputs: boolean;
  /** A model file, or the bytes of a small model built in memory. */
  open(model: string | Uint8Array, options?: OpenSessionOptions): Promise<ort.InferenceSession>;
}

export interface SessionTuning {
  /** ORT intra-op threads per session; default: ORT's (one per core). Fewer helps when the cores are shared. */
  readonly intraOpNumThreads?: number;
  /** Turns on ORT's profiler: each session writes `PREFIX-<model file>_<time>.json` when it is released. */
  readonly profilePrefix?: string;
  /**
   * WebGPU only: how ORT reuses freed storage buffers (its `storageBufferCacheMode`; default: ORT's, `bucket`).
   * `simple` keeps every freed buffer for a later request of the same size, without a limit: decoding with padded KV
   * (kvPadding.ts) then creates no buffers, but GPU memory never shrinks and grows with every new shape: on an H200,
   * 2b fp32, by 1.2–1.4 GiB per new prompt length of about 3,000 tokens. One setting per process: ORT applies the
   * first WebGPU session's to all.
   */
  readonly webgpuBufferCache?: WebGpuBufferCache;
}

function providerConfig(
  ep: ExecutionProviderName,
  tuning: SessionTuning,
): ort.InferenceSession.ExecutionProviderConfig {
  if (ep !== "webgpu" || tuning.webgpuBufferCache === undefined) return ep;
  // onnxruntime-node passes it on to the provider (its binding reads the option; onnxruntime-common's types lack it).
  const option: ort.InferenceSession.ExecutionProviderOption & { storageBufferCacheMode: WebGpuBufferCache } = {
    name: ep,
    storageBufferCacheMode: tuning.webgpuBufferCache,
  };
  return option;
}

function sessionOptions(
  ep: ExecutionProviderName,
  tuning: SessionTuning,
  options: OpenSessionOptions,
  model: string | Uint8Array,
): ort.InferenceSession.SessionOptions {
  const onDevice = providerRecord(ep).deviceOutputs ? (options.outputsOnDevice ?? []) : [];
  const profileName = typeof model === "string" ? path.basename(model, ".onnx") : "buffer";
  return {
    executionProviders: [providerConfig(ep, tuning)],
    graphOptimizationLevel: "all",
    // Warnings about nodes placed on the CPU by GPU providers are expected for the few shape ops; keep errors only.
    logSeverityLevel: 3,
    ...(tuning.intraOpNumThreads !== undefined ? { intraOpNumThreads: tuning.intraOpNumThreads } : {}),
    ...(tuning.profilePrefix !== undefined
      ? { enableProfiling: true, profileFilePrefix: `${tuning.profilePrefix}-${profileName}` }
      : {}),
    ...(onDevice.length > 0
      ? { preferredOutputLocation: Object.fromEntries(onDevice.map((name) => [name, "gpu-buffer" as const])) }
      : {}),
  };
}

function createSession(
  model: string | Uint8Array,
  options: ort.InferenceSession.SessionOptions,
): Promise<ort.InferenceSession> {
  return typeof model === "string"
    ? ort.InferenceSession.create(model, options)
    : ort.InferenceSession.create(model, options);
}

/** Opens sessions on `provider` (whether it initialises shows on the first `open`). */
export function providerSessionFactory(provider: ExecutionProviderName, tuning: SessionTuning = {}): SessionFactory {
  return {
    executionProvider: provider,
    deviceOutputs: providerRecord(provider).deviceOutputs,
    open: (model, options = {}) => createSession(model, sessionOptions(provider, tuning, options, model)),
  };
}

export class ExecutionProviderUnavailableError extends Error {
  constructor(readonly failures: readonly ProviderFailure[]) {
    super(`no execution provider initialised: ${failures.map((f) => `${f.provider}: ${f.reason}`).join("; ")}`);
    this.name = "ExecutionProviderUnavailableError";
  }
}

export interface ProviderCandidate {
  readonly factory: SessionFactory;
  /** `firstFile` opened on this provider. */
  readonly session: ort.InferenceSession;
}

/**
 * Opens `firstFile` (with `options`) on the chosen provider, or for `auto` on every provider in `autoRank` order, and
 * returns those that initialised (in that order) with what the others said. A session that fails for another reason
 * than the provider (a broken file) fails on CPU too, so the error then lists every provider's reason.
 */
export async function openCandidates(
  choice: ExecutionProviderChoice,
  firstFile: string,
  tuning: SessionTuning = {},
  options: OpenSessionOptions = {},
): Promise<{ candidates: ProviderCandidate[]; failures: ProviderFailure[] }> {
  const names: ExecutionProviderName[] =
    choice === "auto"
      ? [...EXECUTION_PROVIDER_RECORDS].sort((a, b) => a.autoRank - b.autoRank).map((r) => r.name)
      : [choice];
  const candidates: ProviderCandidate[] = [];
  const failures: ProviderFailure[] = [];
  for (const provider of names) {
    const factory = providerSessionFactory(provider, tuning);
    try {
      candidates.push({ factory, session: await factory.open(firstFile, options) });
    } catch (error) {
      failures.push({ provider, reason: firstLine(error) });
    }
  }
  if (candidates.length === 0) throw new ExecutionProviderUnavailableError(failures);
  return { candidates, failures };
}

export interface ProviderFailure {
  readonly provider: ExecutionProviderName;
  readonly reason: string;
}

/** Logs the provider an engine runs on, what was asked for, why this one, and why not the others. */
export function logProviderChoice(
  logger: Logger | undefined,
  chosen: ExecutionProviderName,
  requested: ExecutionProviderChoice,
  why: string,
  failures: readonly ProviderFailure[],
): void {
  logger?.info(
    {
      executionProvider: chosen,
      requested,
      why,
      deviceOutputs: providerRecord(chosen).deviceOutputs,
      unavailable: failures,
    },
    "onnxruntime execution provider selected",
  );
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n")[0].slice(0, 300);
}

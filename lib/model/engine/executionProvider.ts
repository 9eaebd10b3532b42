import path from "node:path";
import * as ort from "onnxruntime-node";
import type { Logger } from "@/lib/log";

/**
 * Which ONNX Runtime execution provider runs the bundle's sessions: one record per provider, the single definition
 * every other list of providers (configuration, API types) derives from.
 *
 * `auto` tries the providers in `autoRank` order and takes the first one whose session actually initialises (CUDA needs
 * onnxruntime-node's separately installed CUDA 12 provider library; WebGPU needs a GPU adapter, e.g. through Vulkan).
 * The choice is made once per engine, on its first session, and logged once with the reason; every later session
 * uses it.
 */
export interface ExecutionProviderRecord {
  readonly name: string;
  /** Position in `auto`'s order of trial (lower first). */
  readonly autoRank: number;
  /**
   * Whether outputs can stay in device memory between runs (ORT's `preferredOutputLocation: "gpu-buffer"`): then the
   * decoder's KV never crosses host memory. onnxruntime-node 1.30 has it for WebGPU only, not for CUDA.
   */
  readonly deviceOutputs: boolean;
  /** Why `auto` ranks it where it does (logged with the choice). */
  readonly why: string;
}

export const EXECUTION_PROVIDER_RECORDS = [
  { name: "cuda", autoRank: 0, deviceOutputs: false, why: "NVIDIA GPU through CUDA 12; outputs return to host memory" },
  { name: "webgpu", autoRank: 1, deviceOutputs: true, why: "any GPU through WebGPU (Vulkan); KV stays in device memory" },
  { name: "cpu", autoRank: 2, deviceOutputs: false, why: "always available" },
] as const satisfies readonly ExecutionProviderRecord[];

export type ExecutionProviderName = (typeof EXECUTION_PROVIDER_RECORDS)[number]["name"];
export type ExecutionProviderChoice = ExecutionProviderName | "auto";
export const EXECUTION_PROVIDERS: readonly ExecutionProviderName[] = EXECUTION_PROVIDER_RECORDS.map((r) => r.name);
export const EXECUTION_PROVIDER_CHOICES: readonly ExecutionProviderChoice[] = [...EXECUTION_PROVIDERS, "auto"];

export function providerRecord(name: ExecutionProviderName): (typeof EXECUTION_PROVIDER_RECORDS)[number] {
  const record = EXECUTION_PROVIDER_RECORDS.find((r) => r.name === name);
  if (record === undefined) throw new RangeError(`unknown execution provider ${name}`);
  return record;
}

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
    executionProviders: [ep],
    graphOptimizationLevel: "all",
    // Warnings about nodes placed on the CPU by GPU providers are expected for the few shape ops; keep errors only.
    logSeverityLevel: 3,
    ...(tuning.intraOpNumThreads !== undefined ? { intraOpNumThreads: tuning.intraOpNumThreads } : {}),
    ...(tuning.profilePrefix !== undefined ? { enableProfiling: true, profileFilePrefix: `${tuning.profilePrefix}-${profileName}` } : {}),
    ...(onDevice.length > 0 ? { preferredOutputLocation: Object.fromEntries(onDevice.map((name) => [name, "gpu-buffer" as const])) } : {}),
  };
}

function createSession(model: string | Uint8Array, options: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> {
  return typeof model === "string" ? ort.InferenceSession.create(model, options) : ort.InferenceSession.create(model, options);
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
  constructor(readonly failures: { provider: ExecutionProviderName; reason: string }[]) {
    super(`no execution provider initialised: ${failures.map((f) => `${f.provider}: ${f.reason}`).join("; ")}`);
    this.name = "ExecutionProviderUnavailableError";
  }
}

/**
 * Opens `firstFile` with the chosen provider (trying candidates in `autoRank` order for `auto`) and returns the
 * session plus a factory bound to the provider that worked. A session that fails for another reason than the
 * provider (a broken file) fails on CPU too, so `auto` reports every provider's reason.
 */
export async function openWithProvider(
  choice: ExecutionProviderChoice,
  firstFile: string,
  logger?: Logger,
  tuning: SessionTuning = {},
): Promise<{ factory: SessionFactory; session: ort.InferenceSession }> {
  const candidates: ExecutionProviderName[] =
    choice === "auto" ? [...EXECUTION_PROVIDER_RECORDS].sort((a, b) => a.autoRank - b.autoRank).map((r) => r.name) : [choice];
  const failures: { provider: ExecutionProviderName; reason: string }[] = [];
  for (const provider of candidates) {
    try {
      const factory = providerSessionFactory(provider, tuning);
      const session = await factory.open(firstFile);
      const record = providerRecord(provider);
      logger?.info(
        { executionProvider: provider, requested: choice, why: record.why, deviceOutputs: record.deviceOutputs, unavailable: failures },
        "onnxruntime execution provider selected",
      );
      return { factory, session };
    } catch (error) {
      failures.push({ provider, reason: firstLine(error) });
    }
  }
  throw new ExecutionProviderUnavailableError(failures);
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n")[0].slice(0, 300);
}

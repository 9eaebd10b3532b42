import * as ort from "onnxruntime-node";
import type { Logger } from "@/lib/log";

/**
 * Which ONNX Runtime execution provider runs the bundle's sessions.
 *
 * `auto` tries CUDA, then WebGPU, then CPU, and takes the first one whose session actually initialises (CUDA needs
 * onnxruntime-node's separately installed CUDA 12 provider library; WebGPU needs a GPU adapter, e.g. through Vulkan).
 * The choice is made once per engine, on its first session, and logged once; every later session uses it.
 */
export const EXECUTION_PROVIDERS = ["cuda", "webgpu", "cpu"] as const;
export type ExecutionProviderName = (typeof EXECUTION_PROVIDERS)[number];
export type ExecutionProviderChoice = ExecutionProviderName | "auto";

export interface SessionFactory {
  readonly executionProvider: ExecutionProviderName;
  open(file: string): Promise<ort.InferenceSession>;
}

export interface SessionTuning {
  /** ORT intra-op threads per session; default: ORT's (one per core). Fewer helps when the cores are shared. */
  readonly intraOpNumThreads?: number;
}

function sessionOptions(ep: ExecutionProviderName, tuning: SessionTuning): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [ep],
    graphOptimizationLevel: "all",
    // Warnings about nodes placed on the CPU by GPU providers are expected for the few shape ops; keep errors only.
    logSeverityLevel: 3,
    ...(tuning.intraOpNumThreads !== undefined ? { intraOpNumThreads: tuning.intraOpNumThreads } : {}),
  };
}

export class ExecutionProviderUnavailableError extends Error {
  constructor(readonly failures: { provider: ExecutionProviderName; reason: string }[]) {
    super(`no execution provider initialised: ${failures.map((f) => `${f.provider}: ${f.reason}`).join("; ")}`);
    this.name = "ExecutionProviderUnavailableError";
  }
}

/**
 * Opens `firstFile` with the chosen provider (trying candidates in order for `auto`) and returns the session plus a
 * factory bound to the provider that worked. A session that fails for another reason than the provider (a broken
 * file) fails on CPU too, so `auto` reports every provider's reason.
 */
export async function openWithProvider(
  choice: ExecutionProviderChoice,
  firstFile: string,
  logger?: Logger,
  tuning: SessionTuning = {},
): Promise<{ factory: SessionFactory; session: ort.InferenceSession }> {
  const candidates: ExecutionProviderName[] = choice === "auto" ? [...EXECUTION_PROVIDERS] : [choice];
  const failures: { provider: ExecutionProviderName; reason: string }[] = [];
  for (const provider of candidates) {
    try {
      const session = await ort.InferenceSession.create(firstFile, sessionOptions(provider, tuning));
      const factory: SessionFactory = {
        executionProvider: provider,
        open: (file) => ort.InferenceSession.create(file, sessionOptions(provider, tuning)),
      };
      logger?.info({ executionProvider: provider, requested: choice, unavailable: failures }, "onnxruntime execution provider selected");
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

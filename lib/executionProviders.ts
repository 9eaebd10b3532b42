/**
 * Which ONNX Runtime execution provider runs the bundle's sessions: one record per provider, the single definition
 * every other list of providers (configuration, API types) derives from. Plain data without imports, so the client
 * bundle can use it too (lib/model/engine/executionProvider.ts opens the sessions and re-exports these for the engine).
 *
 * `auto` opens the bundle's first session on every provider in `autoRank` order (CUDA needs onnxruntime-node's
 * separately installed CUDA 12 provider library; WebGPU needs a GPU adapter, e.g. through Vulkan); when several
 * initialise, the engine times a short request on each and keeps the fastest (lib/model/engine/providerProbe.ts). The
 * choice is made once per engine and logged once with the reason; every later session uses it.
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
  {
    name: "webgpu",
    autoRank: 1,
    deviceOutputs: true,
    why: "any GPU through WebGPU (Vulkan); KV stays in device memory",
  },
  { name: "cpu", autoRank: 2, deviceOutputs: false, why: "always available" },
] as const satisfies readonly ExecutionProviderRecord[];

export type ExecutionProviderName = (typeof EXECUTION_PROVIDER_RECORDS)[number]["name"];
export type ExecutionProviderChoice = ExecutionProviderName | "auto";
export const EXECUTION_PROVIDERS: readonly ExecutionProviderName[] = EXECUTION_PROVIDER_RECORDS.map((r) => r.name);
/** What EXECUTION_PROVIDER accepts. */
export const EXECUTION_PROVIDER_CHOICES: readonly ExecutionProviderChoice[] = ["auto", ...EXECUTION_PROVIDERS];

/**
 * How the WebGPU provider reuses freed device buffers (ORT's `storageBufferCacheMode`): `bucket`, ORT's default, keeps a
 * bounded number per size bucket; `simple` keeps every one by exact size, without a limit
 * (lib/model/engine/executionProvider.ts says what each costs).
 */
export const WEBGPU_BUFFER_CACHES = ["bucket", "simple"] as const;
export type WebGpuBufferCache = (typeof WEBGPU_BUFFER_CACHES)[number];

export function providerRecord(name: ExecutionProviderName): (typeof EXECUTION_PROVIDER_RECORDS)[number] {
  const record = EXECUTION_PROVIDER_RECORDS.find((r) => r.name === name);
  if (record === undefined) throw new RangeError(`unknown execution provider ${name}`);
  return record;
}

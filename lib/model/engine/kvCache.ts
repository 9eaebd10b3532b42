import * as ort from "onnxruntime-node";
import type { TextConfig } from "@/lib/model/config";
import type { FloatType } from "@/lib/model/onnx/graphBuilder";

/**
 * The decoder's key/value cache for one sequence: per layer, keys and values [1, kvHeads, length, headDim] of the
 * first `length` tokens, exactly the `present.{i}.*` tensors a decoder run returned (or empty ones before the first).
 * Invariant: every tensor's third dim equals `length`. Immutable: a run returns a new cache, so a cached prefix (L2)
 * can be resumed any number of times.
 */
export interface KvLayer {
  readonly key: ort.Tensor;
  readonly value: ort.Tensor;
}

export interface KvCache {
  readonly length: number;
  readonly layers: readonly KvLayer[];
}

export function emptyKvCache(text: TextConfig, floatType: FloatType): KvCache {
  const dims = [1, text.numKeyValueHeads, 0, text.headDim];
  const empty = () => new ort.Tensor(floatType, floatType === "float16" ? new Uint16Array(0) : new Float32Array(0), dims);
  return { length: 0, layers: Array.from({ length: text.numHiddenLayers }, () => ({ key: empty(), value: empty() })) };
}

/** Reads the `present.{i}.key|value` outputs of a decoder run as the cache of `length` tokens. */
export function kvCacheFromOutputs(outputs: ort.InferenceSession.OnnxValueMapType, numLayers: number, length: number): KvCache {
  const layers: KvLayer[] = [];
  for (let i = 0; i < numLayers; i++) {
    const key = outputs[`present.${i}.key`] as ort.Tensor;
    const value = outputs[`present.${i}.value`] as ort.Tensor;
    if (key.dims[2] !== length || value.dims[2] !== length) {
      throw new Error(`present.${i} holds ${key.dims[2]} positions, expected ${length}`);
    }
    layers.push({ key, value });
  }
  const kv: KvCache = { length, layers };
  trackKvCache(kv);
  return kv;
}

/**
 * Live-KV accounting. Every cache a decoder run returns is counted as live until `releaseKvCache`, so a request that
 * forgets to release a superseded or abandoned cache shows up as bytes that never return to the baseline
 * (`liveKvBytes`), instead of as memory the GC may or may not have reclaimed yet.
 *
 * Ownership rule: whoever receives a cache from a decoder run (prefill, decodeStep) owns it and releases it once no
 * further run will read it; a cache passed as `past` stays owned by the caller. Releasing disposes the tensors (their
 * data is dropped); releasing twice, or releasing an empty cache, does nothing.
 */
const liveCaches = new WeakMap<KvCache, number>();
let liveBytes = 0;

function trackKvCache(kv: KvCache): void {
  const bytes = kv.layers.reduce((sum, layer) => sum + tensorBytes(layer.key) + tensorBytes(layer.value), 0);
  liveCaches.set(kv, bytes);
  liveBytes += bytes;
}

function tensorBytes(tensor: ort.Tensor): number {
  return (tensor.data as ArrayBufferView).byteLength;
}

export function releaseKvCache(kv: KvCache): void {
  const bytes = liveCaches.get(kv);
  if (bytes === undefined) return;
  liveCaches.delete(kv);
  liveBytes -= bytes;
  for (const layer of kv.layers) {
    layer.key.dispose();
    layer.value.dispose();
  }
}

/** Bytes of decoder-returned KV caches not yet released. */
export function liveKvBytes(): number {
  return liveBytes;
}

/**
 * The cache of the first `length` tokens of `kv` (a prefix to store or resume from). Copies: the result shares no
 * memory with `kv`. Layout per tensor: [1, kvHeads, length, headDim], so each head's first `length` rows.
 */
export function truncateKvCache(kv: KvCache, length: number): KvCache {
  if (!Number.isInteger(length) || length < 0 || length > kv.length) {
    throw new RangeError(`cannot truncate a ${kv.length}-token KV cache to ${length} tokens`);
  }
  const cut = (tensor: ort.Tensor): ort.Tensor => {
    const [batch, heads, total, headDim] = tensor.dims;
    const data = tensor.data as Float32Array | Uint16Array;
    const out = data instanceof Uint16Array ? new Uint16Array(batch * heads * length * headDim) : new Float32Array(batch * heads * length * headDim);
    for (let h = 0; h < batch * heads; h++) {
      out.set(data.subarray(h * total * headDim, (h * total + length) * headDim), h * length * headDim);
    }
    return new ort.Tensor(tensor.type as "float32" | "float16", out, [batch, heads, length, headDim]);
  };
  return { length, layers: kv.layers.map((layer) => ({ key: cut(layer.key), value: cut(layer.value) })) };
}

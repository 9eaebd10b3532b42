/**
 * The decoder's key/value cache for one sequence: per layer, keys and values [1, kvHeads, capacity, headDim] whose
 * first `length` positions hold the first `length` tokens, exactly the `present.{i}.*` tensors a decoder run returned
 * (or empty ones before the first). Invariant: every tensor's third dim is the same capacity ≥ `length`; positions
 * [length, capacity) are padding whose contents mean nothing (kvPadding.ts: only a decode loop holds padded caches;
 * everything handed to a cache tier or a caller is exact, capacity = length). Immutable: a run returns a new cache,
 * so a cached prefix (L2) can be resumed any number of times.
 *
 * Where the tensors live: in host memory on the CPU provider; on a provider whose outputs can stay on the device
 * (WebGPU, see executionProvider.ts) they are device buffers (`tensor.location === "gpu-buffer"`): their data cannot be
 * read from JS, only fed to another run (kvOps.ts cuts, joins and downloads them with small graphs).
 */

import * as ort from "onnxruntime-node";
import type { TextConfig } from "@/lib/model/config";
import type { FloatType } from "@/lib/model/onnx/graphBuilder";

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
  const empty = () =>
    new ort.Tensor(floatType, floatType === "float16" ? new Uint16Array(0) : new Float32Array(0), dims);
  return { length: 0, layers: Array.from({ length: text.numHiddenLayers }, () => ({ key: empty(), value: empty() })) };
}

/**
 * Reads `{prefix}.{i}.key|value` outputs of a run (the decoder's `present`, kvOps' `out`) as the cache of `length`
 * tokens in tensors of `capacity` positions.
 */
export function kvCacheFromOutputs(
  outputs: ort.InferenceSession.OnnxValueMapType,
  numLayers: number,
  length: number,
  prefix = "present",
  capacity = length,
): KvCache {
  const layers: KvLayer[] = [];
  for (let i = 0; i < numLayers; i++) {
    const key = outputs[`${prefix}.${i}.key`] as ort.Tensor;
    const value = outputs[`${prefix}.${i}.value`] as ort.Tensor;
    if (key.dims[2] !== capacity || value.dims[2] !== capacity) {
      throw new Error(`${prefix}.${i} holds ${key.dims[2]} positions, expected ${capacity}`);
    }
    layers.push({ key, value });
  }
  const kv: KvCache = { length, layers };
  trackKvCache(kv);
  return kv;
}

/**
 * Live-KV accounting and lifetime. Every cache a run returns is counted as live until its last reference is released,
 * so a request that forgets to release a superseded or abandoned cache shows up as bytes that never return to the
 * baseline (`liveKvBytes`, and `liveDeviceKvBytes` for the part in device memory), instead of as memory the GC may or
 * may not have reclaimed yet. Device tensors are freed only by `dispose()`, never by the GC, so this is what keeps GPU
 * memory bounded.
 *
 * Ownership rule: whoever receives a cache from a run (prefill, decodeStep, kvOps) owns one reference and releases it
 * once no further run will read it; a cache passed as `past` stays owned by the caller. `retainKvCache` adds a
 * reference (L2 keeps device KV that way without copying it). When the last reference goes, the tensors are
 * disposed, exactly once. Releasing an untracked cache (an empty one, or one built from arrays) does nothing.
 */
interface Tracked {
  readonly bytes: number;
  readonly device: boolean;
  references: number;
}

const liveCaches = new WeakMap<KvCache, Tracked>();
let liveBytes = 0;
let liveDeviceBytes = 0;

function trackKvCache(kv: KvCache): void {
  const bytes = kvCacheBytes(kv);
  const device = isDeviceKvCache(kv);
  liveCaches.set(kv, { bytes, device, references: 1 });
  liveBytes += bytes;
  if (device) liveDeviceBytes += bytes;
}

const ELEMENT_BYTES: Partial<Record<ort.Tensor.Type, number>> = { float32: 4, float16: 2 };

/** Bytes of a KV tensor from its dims and type (a device tensor's data cannot be read). */
export function kvTensorBytes(tensor: ort.Tensor): number {
  const size = ELEMENT_BYTES[tensor.type];
  if (size === undefined) throw new RangeError(`KV tensors must be float32 or float16, got ${tensor.type}`);
  return tensor.dims.reduce((a, b) => a * b, 1) * size;
}

export function kvCacheBytes(kv: KvCache): number {
  return kv.layers.reduce((sum, layer) => sum + kvTensorBytes(layer.key) + kvTensorBytes(layer.value), 0);
}

/** Positions the cache's tensors hold: `length`, or more for a padded cache. */
export function kvCapacity(kv: KvCache): number {
  return kv.layers[0]?.key.dims[2] ?? kv.length;
}

/** Whether the cache's tensors are device buffers (then its data is read only through kvOps). */
export function isDeviceKvCache(kv: KvCache): boolean {
  return kv.layers[0]?.key.location === "gpu-buffer";
}

/** Adds a reference to a cache a run returned (throws for a released or untracked one: it may be gone already). */
export function retainKvCache(kv: KvCache): void {
  const tracked = liveCaches.get(kv);
  if (tracked === undefined) throw new Error("retainKvCache: the cache is released or was never returned by a run");
  tracked.references += 1;
}

export function releaseKvCache(kv: KvCache): void {
  const tracked = liveCaches.get(kv);
  if (tracked === undefined) return;
  tracked.references -= 1;
  if (tracked.references > 0) return;
  liveCaches.delete(kv);
  liveBytes -= tracked.bytes;
  if (tracked.device) liveDeviceBytes -= tracked.bytes;
  for (const layer of kv.layers) {
    layer.key.dispose();
    layer.value.dispose();
  }
}

/** Bytes of run-returned KV caches not yet released (host and device). */
export function liveKvBytes(): number {
  return liveBytes;
}

/** The part of `liveKvBytes` held in device memory. */
export function liveDeviceKvBytes(): number {
  return liveDeviceBytes;
}

/**
 * The cache of the first `length` tokens of host-memory `kv` (a prefix to store or resume from). Copies: the result
 * shares no memory with `kv` and is exact (capacity = length). Layout per tensor: [1, kvHeads, capacity, headDim], so
 * each head's first `length` rows.
 * Device caches are cut with kvOps.ts instead.
 */
export function truncateKvCache(kv: KvCache, length: number): KvCache {
  if (!Number.isInteger(length) || length < 0 || length > kv.length) {
    throw new RangeError(`cannot truncate a ${kv.length}-token KV cache to ${length} tokens`);
  }
  if (isDeviceKvCache(kv)) throw new RangeError("truncateKvCache: device KV is cut with kvOps");
  const cut = (tensor: ort.Tensor): ort.Tensor => {
    const [batch, heads, total, headDim] = tensor.dims;
    const data = tensor.data as Float32Array | Uint16Array;
    const out =
      data instanceof Uint16Array
        ? new Uint16Array(batch * heads * length * headDim)
        : new Float32Array(batch * heads * length * headDim);
    for (let h = 0; h < batch * heads; h++) {
      out.set(data.subarray(h * total * headDim, (h * total + length) * headDim), h * length * headDim);
    }
    return new ort.Tensor(tensor.type as "float32" | "float16", out, [batch, heads, length, headDim]);
  };
  return { length, layers: kv.layers.map((layer) => ({ key: cut(layer.key), value: cut(layer.value) })) };
}

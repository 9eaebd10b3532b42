import type { SegmentValue } from "@/lib/cache/prefixTree";

/**
 * The L2 value: the keys and values of a run of consecutive prompt positions, for every decoder layer, as plain typed
 * arrays the cache owns (never the decoder's own output tensors, which their owner disposes).
 *
 * Layout: per layer one key and one value array shaped [kvHeads, length, headDim] — the decoder's
 * `present.{i}.key|value` [B = 1, kvHeads, T, headDim] without the batch axis, cut along the sequence axis T. Halves
 * (fp16 bundles) are kept as their raw 16-bit patterns, so a segment is exactly the bytes the decoder produced.
 *
 * Invariants: every array of a segment holds kvHeads · length · headDim elements; `bytes` is the sum of the arrays'
 * byte lengths; `split(at)` returns two new segments whose lengths add up to `length` and whose bytes add up to
 * `bytes`, and `concatKvSegments(split(at))` reproduces the original element for element. Segments are never mutated
 * after construction, so one stored segment can be read by any number of requests at once.
 */
export type KvArray = Float32Array | Uint16Array;

export interface KvLayerArrays {
  /** [kvHeads, length, headDim] */
  readonly key: KvArray;
  /** [kvHeads, length, headDim] */
  readonly value: KvArray;
}

/** Arrays shaped [kvHeads, length, headDim] per layer, as read from or handed to the decoder. */
export interface KvArrays {
  readonly kvHeads: number;
  readonly headDim: number;
  readonly length: number;
  readonly layers: readonly KvLayerArrays[];
}

export class KvSegment implements SegmentValue<KvSegment>, KvArrays {
  readonly bytes: number;

  private constructor(
    readonly kvHeads: number,
    readonly headDim: number,
    readonly length: number,
    readonly layers: readonly KvLayerArrays[],
  ) {
    let bytes = 0;
    for (const layer of layers) {
      for (const array of [layer.key, layer.value]) {
        if (array.length !== kvHeads * length * headDim) {
          throw new RangeError(
            `KvSegment: an array holds ${array.length} values, [${kvHeads}, ${length}, ${headDim}] needs ${kvHeads * length * headDim}`,
          );
        }
        bytes += array.byteLength;
      }
    }
    this.bytes = bytes;
  }

  /** Copies positions [start, end) of `source` into a new segment. */
  static slice(source: KvArrays, start: number, end: number): KvSegment {
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end <= start || end > source.length) {
      throw new RangeError(`KvSegment.slice: [${start}, ${end}) is empty or outside the ${source.length} positions`);
    }
    const { kvHeads, headDim } = source;
    const cut = (array: KvArray) => sliceSequence(array, kvHeads, source.length, headDim, start, end);
    return new KvSegment(
      kvHeads,
      headDim,
      end - start,
      source.layers.map((layer) => ({ key: cut(layer.key), value: cut(layer.value) })),
    );
  }

  split(at: number): readonly [KvSegment, KvSegment] {
    if (!Number.isInteger(at) || at <= 0 || at >= this.length) {
      throw new RangeError(`KvSegment.split: ${at} is not strictly inside the ${this.length} positions`);
    }
    return [KvSegment.slice(this, 0, at), KvSegment.slice(this, at, this.length)];
  }
}

/** Positions of `segments`, in order, as one run: arrays [kvHeads, Σ length, headDim] per layer. */
export function concatKvSegments(segments: readonly KvArrays[]): KvArrays {
  if (segments.length === 0) throw new RangeError("concatKvSegments: no segments");
  const { kvHeads, headDim } = segments[0];
  const layerCount = segments[0].layers.length;
  for (const segment of segments) {
    if (segment.kvHeads !== kvHeads || segment.headDim !== headDim || segment.layers.length !== layerCount) {
      throw new RangeError("concatKvSegments: segments of different shapes");
    }
  }
  const length = segments.reduce((sum, segment) => sum + segment.length, 0);
  const join = (parts: readonly KvArray[]): KvArray => {
    const out = allocLike(parts[0], kvHeads * length * headDim);
    let offset = 0;
    parts.forEach((part, s) => {
      if (part.constructor !== out.constructor)
        throw new RangeError("concatKvSegments: segments of different element types");
      const width = segments[s].length * headDim;
      for (let h = 0; h < kvHeads; h++)
        out.set(part.subarray(h * width, (h + 1) * width), h * length * headDim + offset);
      offset += width;
    });
    return out;
  };
  const layers = Array.from({ length: layerCount }, (_, i) => ({
    key: join(segments.map((segment) => segment.layers[i].key)),
    value: join(segments.map((segment) => segment.layers[i].value)),
  }));
  return { kvHeads, headDim, length, layers };
}

function allocLike(array: KvArray, length: number): KvArray {
  return array instanceof Float32Array ? new Float32Array(length) : new Uint16Array(length);
}

/** Positions [start, end) of an array [kvHeads, length, headDim], as a new array [kvHeads, end − start, headDim]. */
function sliceSequence(
  array: KvArray,
  kvHeads: number,
  length: number,
  headDim: number,
  start: number,
  end: number,
): KvArray {
  if (array.length !== kvHeads * length * headDim) {
    throw new RangeError(
      `KvSegment: an array holds ${array.length} values, [${kvHeads}, ${length}, ${headDim}] needs ${kvHeads * length * headDim}`,
    );
  }
  const width = (end - start) * headDim;
  const out = allocLike(array, kvHeads * width);
  for (let h = 0; h < kvHeads; h++) {
    const from = (h * length + start) * headDim;
    out.set(array.subarray(from, from + width), h * width);
  }
  return out;
}

/**
 * A deliberately naive Qwen3-VL vision tower in plain TypeScript, written step by step after transformers'
 * Qwen3VLVisionModel.forward (not after our graph): fast_pos_embed_interpolate samples the raster h×w grid and then
 * permutes it into merge-window order, rot_pos_emb builds (row, col) ids with its block loops, and attention runs
 * separately on each cu_seqlens chunk (one per frame). Used as an oracle for the ONNX graph on tiny random weights;
 * the fixtures (real PyTorch outputs) are the final word.
 */

import type { VisionConfig } from "@/lib/model/config";

export type Weights = (name: string) => Float32Array;

export interface VisionReferenceOutput {
  imageFeatures: Float32Array; // [N/m², out]
  deepstack: Float32Array[]; // each [N/m², out]
}

export function referenceVisionForward(
  v: VisionConfig,
  w: Weights,
  pixelValues: Float32Array,
  grids: [number, number, number][],
): VisionReferenceOutput {
  const D = v.hiddenSize;
  const K = v.inChannels * v.temporalPatchSize * v.patchSize * v.patchSize;
  const N = pixelValues.length / K;
  const m = v.spatialMergeSize;

  // patch_embed: Conv3d with stride = kernel over each patch.
  let hidden = linearRows(
    pixelValues,
    N,
    K,
    w("model.visual.patch_embed.proj.weight"),
    w("model.visual.patch_embed.proj.bias"),
    D,
  );

  // fast_pos_embed_interpolate.
  const side = Math.round(Math.sqrt(v.numPositionEmbeddings));
  const table = w("model.visual.pos_embed.weight");
  const pos = new Float32Array(N * D);
  let offset = 0;
  for (const [t, h, wd] of grids) {
    const hs = torchLinspace(0, side - 1, h);
    const ws = torchLinspace(0, side - 1, wd);
    const raster = new Float32Array(h * wd * D);
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < wd; j++) {
        const hf = Math.trunc(hs[i]);
        const wf = Math.trunc(ws[j]);
        const hc = Math.min(hf + 1, side - 1);
        const wc = Math.min(wf + 1, side - 1);
        const dh = Math.fround(hs[i] - hf);
        const dw = Math.fround(ws[j] - wf);
        const corners: [number, number][] = [
          [hf * side + wf, Math.fround(Math.fround(1 - dh) * Math.fround(1 - dw))],
          [hf * side + wc, Math.fround(Math.fround(1 - dh) * dw)],
          [hc * side + wf, Math.fround(dh * Math.fround(1 - dw))],
          [hc * side + wc, Math.fround(dh * dw)],
        ];
        for (let d = 0; d < D; d++) {
          let s = 0;
          for (const [idx, weight] of corners) s += table[idx * D + d] * weight;
          raster[(i * wd + j) * D + d] = s;
        }
      }
    }
    // repeat over t, view(t, h/m, m, w/m, m, D).permute(0, 1, 3, 2, 4, 5)
    for (let f = 0; f < t; f++) {
      for (let br = 0; br < h / m; br++) {
        for (let bc = 0; bc < wd / m; bc++) {
          for (let ir = 0; ir < m; ir++) {
            for (let ic = 0; ic < m; ic++) {
              const src = ((br * m + ir) * wd + (bc * m + ic)) * D;
              pos.set(raster.subarray(src, src + D), offset * D);
              offset++;
            }
          }
        }
      }
    }
  }
  hidden = hidden.map((x, i) => x + pos[i]);

  // rot_pos_emb: (row, col) per patch, freq_table[pos_ids].flatten(1), emb = cat(rot, rot).
  const headDim = D / v.numHeads;
  const dim = headDim / 2;
  const invFreq = Array.from({ length: dim / 2 }, (_, i) =>
    Math.fround(1 / Math.fround(10000 ** Math.fround((2 * i) / dim))),
  );
  const posIds: [number, number][] = [];
  for (const [t, h, wd] of grids) {
    const coords: [number, number][] = [];
    for (let br = 0; br < h / m; br++)
      for (let bc = 0; bc < wd / m; bc++)
        for (let ir = 0; ir < m; ir++) for (let ic = 0; ic < m; ic++) coords.push([br * m + ir, bc * m + ic]);
    for (let f = 0; f < t; f++) posIds.push(...coords);
  }
  const emb = posIds.map(([r, c]) => {
    const rot = [...invFreq.map((f) => Math.fround(r * f)), ...invFreq.map((f) => Math.fround(c * f))];
    return [...rot, ...rot];
  });
  const cos = emb.map((e) => e.map(Math.cos));
  const sin = emb.map((e) => e.map(Math.sin));

  // cu_seqlens: one chunk of h·w per frame.
  const chunks: [number, number][] = [];
  let start = 0;
  for (const [t, h, wd] of grids) {
    for (let f = 0; f < t; f++) {
      chunks.push([start, start + h * wd]);
      start += h * wd;
    }
  }

  const deepstack: Float32Array[] = [];
  for (let layer = 0; layer < v.depth; layer++) {
    const p = `model.visual.blocks.${layer}`;
    const n1 = layerNorm(hidden, N, D, w(`${p}.norm1.weight`), w(`${p}.norm1.bias`));
    const qkv = linearRows(n1, N, D, w(`${p}.attn.qkv.weight`), w(`${p}.attn.qkv.bias`), 3 * D);
    const attnOut = new Float32Array(N * D);
    const rotate = (which: number, n: number, head: number): number[] => {
      const x = Array.from({ length: headDim }, (_, k) => qkv[n * 3 * D + which * D + head * headDim + k]);
      return x.map(
        (xk, k) => xk * cos[n][k] + (k < headDim / 2 ? -x[k + headDim / 2] : x[k - headDim / 2]) * sin[n][k],
      );
    };
    for (const [s, e] of chunks) {
      for (let head = 0; head < v.numHeads; head++) {
        const qs: number[][] = [];
        const ks: number[][] = [];
        for (let n = s; n < e; n++) {
          qs.push(rotate(0, n, head));
          ks.push(rotate(1, n, head));
        }
        for (let i = 0; i < e - s; i++) {
          const scores = ks.map((k) => k.reduce((acc, kk, d) => acc + kk * qs[i][d], 0) / Math.sqrt(headDim));
          const max = Math.max(...scores);
          const exps = scores.map((x) => Math.exp(x - max));
          const total = exps.reduce((a, b) => a + b, 0);
          for (let d = 0; d < headDim; d++) {
            let acc = 0;
            for (let j = 0; j < e - s; j++)
              acc += (exps[j] / total) * qkv[(s + j) * 3 * D + 2 * D + head * headDim + d];
            attnOut[(s + i) * D + head * headDim + d] = acc;
          }
        }
      }
    }
    const proj = linearRows(attnOut, N, D, w(`${p}.attn.proj.weight`), w(`${p}.attn.proj.bias`), D);
    hidden = hidden.map((x, i) => x + proj[i]);
    const n2 = layerNorm(hidden, N, D, w(`${p}.norm2.weight`), w(`${p}.norm2.bias`));
    const up = linearRows(
      n2,
      N,
      D,
      w(`${p}.mlp.linear_fc1.weight`),
      w(`${p}.mlp.linear_fc1.bias`),
      v.intermediateSize,
    ).map(geluTanh);
    const down = linearRows(
      up,
      N,
      v.intermediateSize,
      w(`${p}.mlp.linear_fc2.weight`),
      w(`${p}.mlp.linear_fc2.bias`),
      D,
    );
    hidden = hidden.map((x, i) => x + down[i]);
    const j = v.deepstackVisualIndexes.indexOf(layer);
    if (j >= 0) deepstack.push(patchMerger(v, w, `model.visual.deepstack_merger_list.${j}`, hidden, N, true));
  }
  return { imageFeatures: patchMerger(v, w, "model.visual.merger", hidden, N, false), deepstack };
}

function patchMerger(
  v: VisionConfig,
  w: Weights,
  p: string,
  x: Float32Array,
  N: number,
  postShuffle: boolean,
): Float32Array {
  const D = v.hiddenSize;
  const merged = D * v.spatialMergeSize ** 2;
  const rows = (N * D) / merged;
  const normed = postShuffle
    ? layerNorm(x, rows, merged, w(`${p}.norm.weight`), w(`${p}.norm.bias`))
    : layerNorm(x, N, D, w(`${p}.norm.weight`), w(`${p}.norm.bias`));
  const up = linearRows(normed, rows, merged, w(`${p}.linear_fc1.weight`), w(`${p}.linear_fc1.bias`), merged).map(
    geluErf,
  );
  return linearRows(up, rows, merged, w(`${p}.linear_fc2.weight`), w(`${p}.linear_fc2.bias`), v.outHiddenSize);
}

/** x [rows, inF] · Wᵀ + b with W [outF, inF]. */
function linearRows(
  x: Float32Array,
  rows: number,
  inF: number,
  weight: Float32Array,
  bias: Float32Array,
  outF: number,
): Float32Array {
  const out = new Float32Array(rows * outF);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      let acc = bias[o];
      for (let i = 0; i < inF; i++) acc += x[r * inF + i] * weight[o * inF + i];
      out[r * outF + o] = acc;
    }
  }
  return out;
}

function layerNorm(x: Float32Array, rows: number, n: number, weight: Float32Array, bias: Float32Array): Float32Array {
  const out = new Float32Array(rows * n);
  for (let r = 0; r < rows; r++) {
    const row = x.subarray(r * n, (r + 1) * n);
    const mean = row.reduce((a, b) => a + b, 0) / n;
    const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
    for (let i = 0; i < n; i++) out[r * n + i] = ((row[i] - mean) / Math.sqrt(variance + 1e-6)) * weight[i] + bias[i];
  }
  return out;
}

/** torch.linspace(start, end, steps) for float32 on CPU: first half from the start, second half from the end. */
function torchLinspace(start: number, end: number, steps: number): Float32Array {
  const out = new Float32Array(steps);
  if (steps === 1) {
    out[0] = start;
    return out;
  }
  const step = Math.fround((end - start) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++) out[i] = i < halfway ? start + step * i : end - step * (steps - i - 1);
  return out;
}

function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
}

function geluErf(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

/** erf to ~1e-7 (Abramowitz–Stegun 7.1.26 is too coarse here; this is the series/continued-fraction pair). */
function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // Maclaurin series converges fast on this range.
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 60; n++) {
      term *= (-ax * ax) / n;
      sum += term / (2 * n + 1);
    }
    return Math.sign(x) * ((2 / Math.sqrt(Math.PI)) * sum);
  }
  // erfc continued fraction (Lentz) for the tail.
  let f = ax;
  let c = ax;
  let d = 0;
  for (let n = 1; n < 60; n++) {
    const an = n / 2;
    d = ax + an * d;
    d = 1 / d;
    c = ax + an / c;
    f *= c * d;
  }
  const erfc = Math.exp(-ax * ax) / (f * Math.sqrt(Math.PI));
  return Math.sign(x) * (1 - erfc);
}

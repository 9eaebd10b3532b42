"""A faster training forward for the demo model: the same maths as transformers' Qwen3-VL forward, batched.

Why: transformers' Qwen3-VL forward walks the batch in Python, image by image: the vision tower's position embeddings
(`fast_pos_embed_interpolate`, with a `.tolist()` per image), its rotary positions (`rot_pos_emb`), its attention
(one SDPA call per image in every block, forward and backward) and the text model's M-RoPE positions
(`get_rope_index`, with `.item()` per sample). At batch 128 that is thousands of tiny kernels and host syncs per step.
Here everything that depends only on the image grids and token ids (interpolation indices and weights, rotary and
M-RoPE positions, the padded layout of the patches) is computed on the CPU by the loader workers (`batch_layout`), and
the GPU runs the vision attention once per block over all images padded to the longest one, with a key mask
(`hidden_states_fast`). The weights are the model's own modules; train.py checks, before training, that this forward
equals the model's on real batches and uses it only then.

`allowed_vocab_loss` is the cross-entropy of the tied output head over the full vocabulary, computed from the rows
that can be non-zero: the other rows are exactly zero, so their logits are exactly 0 and they add
(V - n_allowed) * e^0 to the softmax's denominator.

Shapes: N = image patches of the whole batch, I = images, L = patches of the longest image, B = samples, S = tokens.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F

MERGE = 2
POS_GRID = 32  # sqrt(num_position_embeddings): the vision tower's learned position grid is 32 x 32
IMAGE_PAD = 151655


def _merge_order(a: np.ndarray, h: int, w: int) -> np.ndarray:
    """[h * w, ...] in row-major patch order -> the processor's order (2 x 2 merge windows, window-major)."""
    rest = a.shape[1:]
    return a.reshape(h // MERGE, MERGE, w // MERGE, MERGE, *rest).swapaxes(1, 2).reshape(h * w, *rest)


@functools.lru_cache(maxsize=None)
def _pos_interpolation(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Bilinear interpolation of the 32 x 32 learned position grid to h x w, as fast_pos_embed_interpolate does it:
    indices [4, h * w] into the grid and weights [4, h * w] (float32), in the processor's patch order."""
    hi = torch.linspace(0, POS_GRID - 1, h)
    wi = torch.linspace(0, POS_GRID - 1, w)
    hf, wf = hi.int(), wi.int()
    hc, wc = (hf + 1).clip(max=POS_GRID - 1), (wf + 1).clip(max=POS_GRID - 1)
    dh, dw = hi - hf, wi - wf
    bh, bhc = hf * POS_GRID, hc * POS_GRID
    index = torch.stack([(bh[:, None] + wf[None]), (bh[:, None] + wc[None]), (bhc[:, None] + wf[None]), (bhc[:, None] + wc[None])])
    weight = torch.stack([(1 - dh)[:, None] * (1 - dw)[None], (1 - dh)[:, None] * dw[None], dh[:, None] * (1 - dw)[None], dh[:, None] * dw[None]])
    index = index.reshape(4, h * w).numpy().T
    weight = weight.reshape(4, h * w).numpy().T
    return _merge_order(index, h, w).T, _merge_order(weight, h, w).T


@functools.lru_cache(maxsize=None)
def _rope_rows_cols(h: int, w: int) -> np.ndarray:
    """[h * w, 2] (row, column) of each patch in the processor's order: the vision tower's 2-D rotary positions."""
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    return _merge_order(np.stack([rows.ravel(), cols.ravel()], 1), h, w)


def _mrope_positions(ids: list[int], grid: list[int]) -> np.ndarray:
    """[3, len(ids)] M-RoPE positions (t, h, w) of one sample with one image, as get_rope_index gives them: text
    before the image counts 0, 1, ...; the image's merged tokens take (offset, offset + row, offset + col); text after
    it continues from the largest position so far + 1."""
    n = len(ids)
    first = ids.index(IMAGE_PAD)
    gh, gw = grid[1] // MERGE, grid[2] // MERGE
    pos = np.empty((3, n), dtype=np.int64)
    pos[:, :first] = np.arange(first)
    rows, cols = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
    end = first + gh * gw
    pos[0, first:end] = first
    pos[1, first:end] = first + rows.ravel()
    pos[2, first:end] = first + cols.ravel()
    nxt = first + max(gh, gw)
    pos[:, end:] = nxt + np.arange(n - end)
    return pos


def batch_layout(grids: list[list[int]], ids: list[list[int]], seq_len: int) -> dict[str, torch.Tensor]:
    """Everything the fast forward needs that depends only on the grids and token ids (CPU, in the loader workers).
    One image per sample, in the first user turn."""
    sizes = [g[1] * g[2] for g in grids]
    longest = max(sizes)
    interp = [_pos_interpolation(g[1], g[2]) for g in grids]
    pad_index = np.concatenate([i * longest + np.arange(n) for i, n in enumerate(sizes)])
    key_valid = np.arange(longest)[None, :] < np.array(sizes)[:, None]
    positions = np.ones((3, len(ids), seq_len), dtype=np.int64)  # padding positions are 1, as in get_rope_index
    for r, (row, g) in enumerate(zip(ids, grids)):
        positions[:, r, : len(row)] = _mrope_positions(row, g)
    return {
        "vision_pos_index": torch.from_numpy(np.concatenate([i for i, _ in interp], 1).astype(np.int64)),  # [4, N]
        "vision_pos_weight": torch.from_numpy(np.concatenate([w for _, w in interp], 1).astype(np.float32)),  # [4, N]
        "vision_rope_pos": torch.from_numpy(np.concatenate([_rope_rows_cols(g[1], g[2]) for g in grids]).astype(np.int64)),  # [N, 2]
        "vision_pad_index": torch.from_numpy(pad_index.astype(np.int64)),  # [N] into [I * L]
        "vision_key_valid": torch.from_numpy(key_valid),  # [I, L]
        "position_ids": torch.from_numpy(positions),  # [3, B, S]
    }


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), -1)


def _vision(visual, pixel_values: torch.Tensor, layout: dict) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Qwen3VLVisionModel.forward over all images at once: ([N / 4, out_hidden] merged features, DeepStack features)."""
    x = visual.patch_embed(pixel_values)  # [N, Dv]
    pe = visual.pos_embed(layout["vision_pos_index"]) * layout["vision_pos_weight"][:, :, None]  # [4, N, Dv]
    x = (x + (pe[0] + pe[1] + pe[2] + pe[3])).to(pixel_values.dtype)
    freqs = (layout["vision_rope_pos"].float()[:, :, None] * visual.rotary_pos_emb.inv_freq[None, None, :]).flatten(1)  # [N, hd/2]
    emb = torch.cat((freqs, freqs), -1)
    cos, sin = emb.cos()[:, None, :], emb.sin()[:, None, :]  # [N, 1, hd]
    pad_index, key_valid = layout["vision_pad_index"], layout["vision_key_valid"]
    n_images, longest = key_valid.shape
    mask = key_valid[:, None, None, :]  # [I, 1, 1, L]

    def padded(t: torch.Tensor) -> torch.Tensor:  # [N, H, hd] -> [I, H, L, hd]
        out = t.new_zeros(n_images * longest, *t.shape[1:]).index_copy(0, pad_index, t)
        return out.view(n_images, longest, *t.shape[1:]).transpose(1, 2)

    deepstack = []
    for layer, blk in enumerate(visual.blocks):
        attn = blk.attn
        n = x.shape[0]
        q, k, v = attn.qkv(blk.norm1(x)).reshape(n, 3, attn.num_heads, -1).unbind(1)  # each [N, H, hd]
        qf, kf = q.float(), k.float()
        q = (qf * cos + _rotate_half(qf) * sin).to(q.dtype)
        k = (kf * cos + _rotate_half(kf) * sin).to(k.dtype)
        o = F.scaled_dot_product_attention(padded(q), padded(k), padded(v), attn_mask=mask, scale=attn.scaling)  # [I, H, L, hd]
        o = o.transpose(1, 2).reshape(n_images * longest, -1).index_select(0, pad_index)  # [N, H * hd]
        x = x + attn.proj(o)
        x = x + blk.mlp(blk.norm2(x))
        if layer in visual.deepstack_visual_indexes:
            deepstack.append(visual.deepstack_merger_list[visual.deepstack_visual_indexes.index(layer)](x))
    return visual.merger(x), deepstack


def hidden_states_fast(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, pixel_values: torch.Tensor, layout: dict) -> torch.Tensor:
    """Final (normed) hidden states [B, S, H], as Qwen3VLModel.forward gives them for right-padded samples with one
    image each."""
    merged, deepstack = _vision(model.model.visual, pixel_values, layout)
    lm = model.model.language_model
    embeds = lm.embed_tokens(input_ids)  # [B, S, H]
    image_mask = input_ids == IMAGE_PAD  # [B, S]
    embeds = embeds.masked_scatter(image_mask[..., None].expand_as(embeds), merged.to(embeds.dtype))
    out = lm(inputs_embeds=embeds, attention_mask=attention_mask, position_ids=layout["position_ids"], use_cache=False,
             visual_pos_masks=image_mask, deepstack_visual_embeds=deepstack)
    return out.last_hidden_state


def allowed_vocab_loss(h: torch.Tensor, weight: torch.Tensor, allowed_ids: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of logits h @ weight.T over the full vocabulary, for h [T, H] and targets [T] (all in
    allowed_ids), given that every row of weight outside allowed_ids is zero."""
    logits = F.linear(h, weight[allowed_ids]).float()  # [T, A]
    zero_rows = weight.shape[0] - allowed_ids.numel()
    lse = torch.logaddexp(torch.logsumexp(logits, -1), torch.tensor(math.log(zero_rows), device=h.device))
    column = torch.searchsorted(allowed_ids, targets)  # allowed_ids is sorted
    return (lse - logits.gather(1, column[:, None]).squeeze(1)).mean()

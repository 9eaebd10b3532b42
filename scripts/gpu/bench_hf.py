"""HF transformers (PyTorch, eager attention) on the checkpoint vlcache's bundles were converted from.

python3 scripts/gpu/bench_hf.py --checkpoint DIR --dtype fp32|bf16 --out ROWS.json [--n 5] [--decode 32]

The HF side of scripts/gpu/bench-vs-hf.ts (which joins the rows into one table): the same shapes as vlcache's run — a
1024x768 image (grid 1x48x64 = 3,072 patches, 768 image tokens) in an 800-token prompt — measured without any cache
across requests, so the same-image and follow-up fields are uncached times:
  vision_ms           model.model.visual on the image's patches
  ttft_cold_ms        one forward of the whole prompt with the image (vision included) to the first token's logits
  ttft_same_image_ms  the same for another question about the same image (a new chat: nothing to reuse)
  ttft_followup_ms    the same for the first chat + a 4-token answer + a follow-up question (about 830 tokens)
  decode_tok_s_N      greedy generate() after an N-token text prompt: (33 - 1) tokens / (time of 33 - time of 1)
  peak_gpu_mb         torch.cuda.max_memory_reserved over the whole run (weights included)
Medians of --n runs, each after a warm-up. Pixel values are random (the weights are random too); M-RoPE positions
need mm_token_type_ids (1 at image tokens), passed to forward.
"""

import argparse
import json
import statistics
import time

import torch
from transformers import Qwen3VLForConditionalGeneration

parser = argparse.ArgumentParser()
parser.add_argument("--checkpoint", required=True)
parser.add_argument("--dtype", choices=["fp32", "bf16"], required=True)
parser.add_argument("--out", required=True)
parser.add_argument("--n", type=int, default=5)
parser.add_argument("--decode", type=int, default=32)
args, _ = parser.parse_known_args()  # the options meant for bench-vs-hf.ts (--cancelled) are ignored

GRID = (1, 48, 64)
MERGE = 2
PATCH_VALUES = 3 * 2 * 16 * 16


def timed(fn, runs):
    """Median milliseconds of `runs` calls after one warm-up, each synchronised with the GPU."""
    fn()
    samples = []
    for _ in range(runs):
        torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main():
    dtype = torch.float32 if args.dtype == "fp32" else torch.bfloat16
    system = "hf-eager-fp32" if args.dtype == "fp32" else "hf-eager-bf16"
    notes = []
    row = {"system": system, "vision_ms": None, "ttft_cold_ms": None, "ttft_same_image_ms": None, "ttft_followup_ms": None,
           "decode_tok_s_800": None, "decode_tok_s_4000": None, "peak_gpu_mb": None}
    try:
        torch.cuda.reset_peak_memory_stats()
        model = Qwen3VLForConditionalGeneration.from_pretrained(args.checkpoint, dtype=dtype, attn_implementation="eager").cuda().eval()
        cfg = model.config
        image_tokens = GRID[0] * GRID[1] * GRID[2] // MERGE**2
        generator = torch.Generator().manual_seed(0)
        pixel_values = torch.randn(GRID[0] * GRID[1] * GRID[2], PATCH_VALUES, generator=generator).to("cuda", dtype)
        grid_thw = torch.tensor([GRID], device="cuda")

        def text(count, salt):
            return [1000 + ((i * 7919 + salt) % 50000) for i in range(count)]

        def image_prompt(before, after, salt):
            return text(before, salt) + [cfg.vision_start_token_id] + [cfg.image_token_id] * image_tokens + [cfg.vision_end_token_id] + text(after, salt + 1)

        cold = image_prompt(16, 14, 0)
        same_image = image_prompt(16, 14, 100)
        followup = cold + text(4, 200) + text(26, 300)
        notes.append(f"prompt tokens: cold {len(cold)}, same image {len(same_image)}, follow-up {len(followup)}")

        def forward(ids):
            input_ids = torch.tensor([ids], device="cuda")
            with torch.inference_mode():
                out = model(
                    input_ids=input_ids,
                    attention_mask=torch.ones_like(input_ids),
                    pixel_values=pixel_values,
                    image_grid_thw=grid_thw,
                    mm_token_type_ids=(input_ids == cfg.image_token_id).long(),
                    logits_to_keep=1,
                )
                return int(out.logits[0, -1].argmax())

        def vision():
            with torch.inference_mode():
                model.model.visual(pixel_values, grid_thw=grid_thw)

        row["vision_ms"] = timed(vision, args.n)
        row["ttft_cold_ms"] = timed(lambda: forward(cold), args.n)
        row["ttft_same_image_ms"] = timed(lambda: forward(same_image), args.n)
        row["ttft_followup_ms"] = timed(lambda: forward(followup), args.n)

        def generate(context, new_tokens):
            input_ids = torch.tensor([text(context, 7)], device="cuda")
            with torch.inference_mode():
                model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), max_new_tokens=new_tokens,
                               min_new_tokens=new_tokens, do_sample=False)

        for context in (800, 4000):
            runs = max(3, args.n // 2)
            first = timed(lambda: generate(context, 1), runs)
            full = timed(lambda: generate(context, args.decode + 1), runs)
            row[f"decode_tok_s_{context}"] = args.decode / ((full - first) / 1000)
        row["peak_gpu_mb"] = torch.cuda.max_memory_reserved() / 2**20
    except Exception as error:  # the row is still written, with what was measured
        notes.append(f"failed: {type(error).__name__}: {error}")
    notes.append(f"torch {torch.__version__}, {torch.cuda.get_device_name()}")
    with open(args.out, "w") as f:
        json.dump({"row": row, "notes": notes}, f, indent=2)
    print(json.dumps({"row": row, "notes": notes}))


main()

"""HF transformers (PyTorch, eager attention) on the checkpoint vlcache's bundles were converted from.

python3 scripts/gpu/bench_hf.py --checkpoint DIR --dtype fp32|bf16 --image PNG --out ROWS.json [--n 5] [--decode 32]

The HF side of scripts/gpu/bench-vs-hf.ts (which joins the rows into one table): the same request as vlcache's run —
the same PNG bytes (--image: the file `bench-vs-hf.ts measure --image-out` or `image` wrote, 1024x768, grid 1x48x64 =
3,072 patches, 768 image tokens) in an 800-token prompt — measured as a user of transformers pays for it, without any
cache across requests, so the same-image and follow-up fields are uncached times and each request processes the image
again:
  ttft_cold_ms        PNG bytes decoded by PIL, Qwen3-VL's image processor (built by hand: no processor files on the
                      GPU machine), then one forward of the whole prompt with the image (vision included) to the first
                      token's logits
  ttft_same_image_ms  the same for another question about the same image (a new chat: nothing to reuse)
  ttft_followup_ms    the same for the first chat + a 4-token answer + a follow-up question (about 830 tokens)
  ttft_*_model_ms     (extra fields) the forward alone, from the processor's pixel values already on the GPU
  image_preprocess_ms (extra field) the PNG decode and the image processor alone
  vision_ms           model.model.visual on the image's patches (already on the GPU)
  decode_tok_s_N      greedy generate() after an N-token text prompt: (33 - 1) tokens / (time of 33 - time of 1)
  peak_gpu_mb         torch.cuda.max_memory_reserved over the whole run (weights included)
Medians of --n runs, each after a warm-up. The processor is transformers' torchvision one on the GPU when it imports
(`Qwen2VLImageProcessorFast`, or in transformers 5 `Qwen2VLImageProcessor`, with device="cuda"), else the PIL / NumPy
one; the notes say which. Its grid must be GRID, or the row fails. M-RoPE positions need mm_token_type_ids (1 at image
tokens), passed to forward.
"""

import argparse
import hashlib
import io
import json
import statistics
import sys
import time

import torch
import transformers
from PIL import Image
from transformers import Qwen3VLForConditionalGeneration

parser = argparse.ArgumentParser()
parser.add_argument("--checkpoint", required=True)
parser.add_argument("--dtype", choices=["fp32", "bf16"], required=True)
parser.add_argument("--image", required=True)
parser.add_argument("--out", required=True)
parser.add_argument("--n", type=int, default=5)
parser.add_argument("--decode", type=int, default=32)
args, _ = parser.parse_known_args()  # the options meant for bench-vs-hf.ts (--cancelled) are ignored

GRID = (1, 48, 64)
MERGE = 2
# The 2b preset's (Qwen3-VL's released) pixel bounds, as in the bundles' preprocessor: 1024x768 stays 1024x768.
MIN_PIXELS = 65536
MAX_PIXELS = 16777216
PROCESSOR_SETTINGS = dict(patch_size=16, merge_size=2, temporal_patch_size=2, image_mean=[0.5] * 3, image_std=[0.5] * 3,
                          min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)


def image_processor():
    """Qwen3-VL's image processor, the torchvision one on the GPU first (what a user with torchvision gets), else the
    PIL / NumPy one. Returns (process(image) -> BatchFeature, description). transformers 4 names the torchvision class
    Qwen2VLImageProcessorFast and the NumPy one Qwen2VLImageProcessor; transformers 5 names them Qwen2VLImageProcessor
    (torchvision) and Qwen2VLImageProcessorPil. Without torchvision its class is a placeholder that raises when built."""
    tried = []
    for name in ("Qwen2VLImageProcessorFast", "Qwen2VLImageProcessor", "Qwen2VLImageProcessorPil"):
        try:
            processor = getattr(transformers, name)(**PROCESSOR_SETTINGS)
            on_gpu = getattr(processor, "backend", None) == "torchvision" or name.endswith("Fast")
            kwargs = {"return_tensors": "pt", **({"device": "cuda"} if on_gpu else {})}
            process = lambda image, processor=processor, kwargs=kwargs: processor(images=image, **kwargs)  # noqa: E731
            process(Image.new("RGB", (64, 64)))
            where = "torchvision, device=cuda" if on_gpu else "PIL / NumPy on the CPU"
            return process, f"image processor: transformers.{name} ({where}){'; not usable: ' + '; '.join(tried) if tried else ''}"
        except Exception as error:  # the next candidate
            tried.append(f"{name}: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}")
    raise RuntimeError("no Qwen2-VL image processor could be built: " + "; ".join(tried))


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
           "decode_tok_s_800": None, "decode_tok_s_4000": None, "peak_gpu_mb": None,
           "ttft_cold_model_ms": None, "ttft_same_image_model_ms": None, "ttft_followup_model_ms": None,
           "image_preprocess_ms": None}
    image_sha256 = None
    failure = None
    try:
        # The stored image's bytes, in memory as vlcache's store holds them: the request decodes them each time.
        with open(args.image, "rb") as f:
            png = f.read()
        image_sha256 = hashlib.sha256(png).hexdigest()
        process, description = image_processor()
        notes.append(description)
        torch.cuda.reset_peak_memory_stats()
        model = Qwen3VLForConditionalGeneration.from_pretrained(args.checkpoint, dtype=dtype, attn_implementation="eager").cuda().eval()
        cfg = model.config
        image_tokens = GRID[0] * GRID[1] * GRID[2] // MERGE**2

        def preprocess():
            """PNG bytes -> (pixel_values, image_grid_thw) on the GPU in the model's dtype, as a user's request makes them."""
            features = process(Image.open(io.BytesIO(png)).convert("RGB"))
            grid = tuple(int(x) for x in features["image_grid_thw"][0])
            if grid != GRID:
                raise RuntimeError(f"the image processor made grid {grid} of the image, not {GRID}: the rows would not compare")
            return features["pixel_values"].to("cuda", dtype), features["image_grid_thw"].to("cuda")

        pixel_values, grid_thw = preprocess()

        def text(count, salt):
            return [1000 + ((i * 7919 + salt) % 50000) for i in range(count)]

        def image_prompt(before, after, salt):
            return text(before, salt) + [cfg.vision_start_token_id] + [cfg.image_token_id] * image_tokens + [cfg.vision_end_token_id] + text(after, salt + 1)

        cold = image_prompt(16, 14, 0)
        same_image = image_prompt(16, 14, 100)
        followup = cold + text(4, 200) + text(26, 300)
        notes.append(f"prompt tokens: cold {len(cold)}, same image {len(same_image)}, follow-up {len(followup)}")

        def forward(ids, pixels, grid):
            input_ids = torch.tensor([ids], device="cuda")
            with torch.inference_mode():
                out = model(
                    input_ids=input_ids,
                    attention_mask=torch.ones_like(input_ids),
                    pixel_values=pixels,
                    image_grid_thw=grid,
                    mm_token_type_ids=(input_ids == cfg.image_token_id).long(),
                    logits_to_keep=1,
                )
                return int(out.logits[0, -1].argmax())

        def request(ids):
            """What a user of transformers pays per request: the image decoded and processed again, then the forward."""
            return forward(ids, *preprocess())

        def vision():
            with torch.inference_mode():
                model.model.visual(pixel_values, grid_thw=grid_thw)

        row["vision_ms"] = timed(vision, args.n)
        row["image_preprocess_ms"] = timed(preprocess, args.n)
        for field, ids in (("ttft_cold", cold), ("ttft_same_image", same_image), ("ttft_followup", followup)):
            row[f"{field}_ms"] = timed(lambda ids=ids: request(ids), args.n)
            row[f"{field}_model_ms"] = timed(lambda ids=ids: forward(ids, pixel_values, grid_thw), args.n)

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
        failure = f"failed: {type(error).__name__}: {error}"
        notes.append(failure)
    notes.append(f"torch {torch.__version__}, transformers {transformers.__version__}, {torch.cuda.get_device_name()}")
    result = {"row": row, "notes": notes, "image_sha256": image_sha256}
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result))
    if failure is not None:
        print(f"bench_hf.py: {system} {failure}", file=sys.stderr)
        sys.exit(1)


main()

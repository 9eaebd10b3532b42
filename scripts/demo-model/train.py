"""Trains vlcache's demo model: a small Qwen3-VL (the real architecture, DeepStack on, the real Qwen3 tokenizer and the
Qwen3-VL chat format) on synthetic images from render.py, then evaluates it and writes a compact checkpoint.

Run where torch and transformers >= 5 (with Qwen3-VL) are installed (scripts/demo-model/README.md has the command):

    python3 train.py --tokenizer tokenizer.json --out OUT [--seconds 360 | --steps N] [--max-seconds S] [--init-from DIR]
                     [--test-dir DIR] [--smoke-first] [--profile] [--stock-forward]

Writes into OUT:
  model.safetensors.gz   bf16 weights, tied embeddings, gzip (the repository's copy); partial.safetensors.gz while
                         training (overwritten every --save-every seconds, so a run cut short still leaves weights)
  config.json            the transformers config of the checkpoint
  train_log.json         the training curve (step, seconds, loss, learning rate) and the run's settings
  eval.json              exact-match and grounding results per family: on a held-out set from this renderer, and on
                         --test-dir (the Node-rendered test set, manifest.json + images) when given
  log.txt                everything printed

Determinism: sample i of the training stream is render.make_sample(Random(seed * 1_000_003 + i)); the model is
initialised from torch.manual_seed(seed), or from the checkpoint --init-from names (a folder with config.json and
model.safetensors.gz, e.g. models/vlcache-demo: training continues from those weights with a fresh optimiser; give a
new --seed so the stream holds samples the earlier run did not see). With --seconds the number of steps is fixed after
100 steps from the measured speed and recorded in train_log.json; pass it back as --steps to repeat a run.
--max-seconds stops training at that wall time whatever the plan (the checkpoint is written right after).

Speed: loader workers send each image as uint8 patches in the processor's order, [N, C, P, P]; the GPU rescales,
normalises and repeats them over the temporal patch (fast_pixel_values). Workers that sent float32 pixel values
(8x the bytes) kept the first run data-bound. The training forward is fast_forward.py's batched one (the same maths as
transformers' image-by-image forward, 3.7x faster per step), used only when check_fast_forward finds it equal to
transformers' forward; --profile times the loader and both forwards. Every run checks the fast paths first.

Compactness: the checkpoint must ship inside the repository, and the 151,936 x hidden embedding (tied with lm_head) is
most of it. Rows of tokens that no training text can contain start at zero and their gradient is masked, so they stay
exactly zero (their logits are 0) and the file compresses to a fraction of its size.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import random
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import transformers
from PIL import Image, ImageOps
from tokenizers import Tokenizer
from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

sys.path.insert(0, str(Path(__file__).resolve().parent))
import render  # noqa: E402
from fast_forward import allowed_vocab_loss, batch_layout, hidden_states_fast  # noqa: E402

IM_START, IM_END = 151644, 151645
VISION_START, VISION_END, IMAGE_PAD, VIDEO_PAD = 151652, 151653, 151655, 151656
PAD_ID = 151643  # <|endoftext|>
VOCAB_SIZE = 151936
PATCH, MERGE, TEMPORAL = 16, 2, 2

# Dimensions: vocabulary x hidden dominates the size (151,936 x 96 x 2 bytes = 29 MB in bf16), so the text hidden size
# is small; head_dim 32 with mrope_section [6, 5, 5] (sums to head_dim / 2, split t/h/w like the released [24, 20, 20]).
TEXT = dict(hidden_size=96, intermediate_size=384, num_hidden_layers=6, num_attention_heads=4, num_key_value_heads=2,
            head_dim=32, rope_theta=5_000_000.0, mrope_section=[6, 5, 5])
VISION = dict(depth=6, hidden_size=128, intermediate_size=512, num_heads=4, num_position_embeddings=1024,
              deepstack_visual_indexes=[1, 3])

LOG_LINES: list[str] = []


def log(msg: str) -> None:
    LOG_LINES.append(msg)
    print(msg, flush=True)


def build_config() -> Qwen3VLConfig:
    t, v = TEXT, VISION
    text_config = dict(
        vocab_size=VOCAB_SIZE, hidden_size=t["hidden_size"], intermediate_size=t["intermediate_size"],
        num_hidden_layers=t["num_hidden_layers"], num_attention_heads=t["num_attention_heads"],
        num_key_value_heads=t["num_key_value_heads"], head_dim=t["head_dim"], hidden_act="silu",
        max_position_embeddings=32768, rms_norm_eps=1e-6, attention_bias=False, tie_word_embeddings=True,
        rope_parameters=dict(rope_type="default", rope_theta=t["rope_theta"], mrope_section=t["mrope_section"], mrope_interleaved=True),
        bos_token_id=151643, eos_token_id=IM_END,
    )
    vision_config = dict(
        depth=v["depth"], hidden_size=v["hidden_size"], hidden_act="gelu_pytorch_tanh", intermediate_size=v["intermediate_size"],
        num_heads=v["num_heads"], in_channels=3, patch_size=PATCH, spatial_merge_size=MERGE, temporal_patch_size=TEMPORAL,
        out_hidden_size=t["hidden_size"], num_position_embeddings=v["num_position_embeddings"],
        deepstack_visual_indexes=v["deepstack_visual_indexes"],
    )
    return Qwen3VLConfig(text_config=text_config, vision_config=vision_config, image_token_id=IMAGE_PAD, video_token_id=VIDEO_PAD,
                         vision_start_token_id=VISION_START, vision_end_token_id=VISION_END, tie_word_embeddings=True)


# ------------------------------------------------------------------------------------------------------------------
# Encoding: image preprocessing (transformers' own Qwen2-VL processor) and the Qwen3-VL chat format
# ------------------------------------------------------------------------------------------------------------------


class Encoder:
    def __init__(self, tokenizer_path: str) -> None:
        self.tok = Tokenizer.from_file(tokenizer_path)
        cls = getattr(transformers, "Qwen2VLImageProcessorPil", None) or transformers.Qwen2VLImageProcessor
        self.proc = cls(patch_size=PATCH, merge_size=MERGE, temporal_patch_size=TEMPORAL, image_mean=[0.5] * 3, image_std=[0.5] * 3,
                        min_pixels=render.TASKS["image"]["minPixels"], max_pixels=render.TASKS["image"]["maxPixels"])
        self.proc_min_pixels, self.proc_max_pixels = render.TASKS["image"]["minPixels"], render.TASKS["image"]["maxPixels"]
        self.user = self.ids("user\n")
        self.assistant = self.ids("assistant\n")
        self.newline = self.ids("\n")

    def ids(self, text: str) -> list[int]:
        return self.tok.encode(text, add_special_tokens=False).ids

    def image_patches(self, img: Image.Image) -> tuple[np.ndarray, list[int]]:
        """The processor's work up to rescaling, on uint8: smart_resize, bicubic resize, patches in the processor's order
        [N, C, P, P] (N = grid_h * grid_w, merge-window-major). fast_pixel_values completes it on the GPU."""
        img = img.convert("RGB")
        h, w = smart_resize(img.height, img.width, PATCH * MERGE, self.proc_min_pixels, self.proc_max_pixels)
        if (w, h) != img.size:
            img = img.resize((w, h), Image.BICUBIC)
        gh, gw = h // PATCH, w // PATCH
        a = np.asarray(img).transpose(2, 0, 1).reshape(3, gh // MERGE, MERGE, PATCH, gw // MERGE, MERGE, PATCH)
        a = a.transpose(1, 4, 2, 5, 0, 3, 6).reshape(gh * gw, 3, PATCH, PATCH)
        return np.ascontiguousarray(a), [1, gh, gw]

    def image(self, img: Image.Image) -> tuple[np.ndarray, list[int]]:
        out = self.proc(images=[img.convert("RGB")], return_tensors="np")
        return np.asarray(out["pixel_values"], dtype=np.float32), [int(x) for x in np.asarray(out["image_grid_thw"])[0]]

    def prompt(self, grid: list[int], history: list[tuple[str, str]], question: str) -> list[int]:
        """Token ids of the chat up to the open assistant turn: the image in the first user turn, earlier turns with
        their answers. Pieces meet at special tokens or newlines, where Qwen's pre-tokenizer splits anyway, so this
        equals tokenising the rendered template (checked in --smoke-first against the whole string)."""
        n_image = grid[0] * grid[1] * grid[2] // (MERGE * MERGE)
        ids: list[int] = []
        turns = history + [(question, None)]
        for i, (q, a) in enumerate(turns):
            ids += [IM_START] + self.user
            if i == 0:
                ids += [VISION_START] + [IMAGE_PAD] * n_image + [VISION_END]
            ids += self.ids(q) + [IM_END] + self.newline + [IM_START] + self.assistant
            if a is not None:
                ids += self.ids(a) + [IM_END] + self.newline
        return ids

    def rendered(self, grid: list[int], history: list[tuple[str, str]], question: str) -> str:
        n_image = grid[0] * grid[1] * grid[2] // (MERGE * MERGE)
        out = ""
        for i, (q, a) in enumerate(history + [(question, None)]):
            image = "<|vision_start|>" + "<|image_pad|>" * n_image + "<|vision_end|>" if i == 0 else ""
            out += f"<|im_start|>user\n{image}{q}<|im_end|>\n<|im_start|>assistant\n"
            if a is not None:
                out += f"{a}<|im_end|>\n"
        return out

    def training_example(self, grid: list[int], turns: list[tuple[str, str]]) -> tuple[list[int], list[int]]:
        """(ids, labels): labels are -100 except on each answer and its <|im_end|>."""
        ids: list[int] = []
        labels: list[int] = []
        for i, (q, a) in enumerate(turns):
            prefix = self.prompt(grid, [], q) if i == 0 else [IM_START] + self.user + self.ids(q) + [IM_END] + self.newline + [IM_START] + self.assistant
            answer = self.ids(a) + [IM_END]
            ids += prefix + answer + self.newline
            labels += [-100] * len(prefix) + answer + [-100]
        return ids, labels


def smart_resize(height: int, width: int, factor: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """transformers' Qwen2-VL smart_resize: both sides multiples of factor, area within [min_pixels, max_pixels]."""
    h_bar, w_bar = round(height / factor) * factor, round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar, w_bar = math.ceil(height * beta / factor) * factor, math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def fast_pixel_values(patches: torch.Tensor) -> torch.Tensor:
    """uint8 patches [N, C, P, P] -> the processor's pixel values [N, C * T * P * P]: rescale 1/255, normalise with
    mean = std = 0.5, the one frame repeated over the temporal patch (T is inside C in the processor's layout)."""
    x = patches.float() * (1 / 255)
    x = (x - 0.5) / 0.5
    n = x.shape[0]
    return x.unsqueeze(2).expand(n, 3, TEMPORAL, PATCH, PATCH).reshape(n, 3 * TEMPORAL * PATCH * PATCH)


class SyntheticStream(torch.utils.data.Dataset):
    def __init__(self, enc: Encoder, seed: int, length: int, fast: bool) -> None:
        self.enc, self.seed, self.length, self.fast = enc, seed, length, fast

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict:
        s = render.make_sample(random.Random(self.seed * 1_000_003 + i))
        pixels, grid = self.enc.image_patches(s.image) if self.fast else self.enc.image(s.image)
        ids, labels = self.enc.training_example(grid, [(t.question, t.answer) for t in s.turns])
        return {"ids": ids, "labels": labels, "pixels": pixels, "grid": grid}


def collate(items: list[dict]) -> dict:
    n = max(len(it["ids"]) for it in items)
    ids = torch.full((len(items), n), PAD_ID, dtype=torch.long)
    labels = torch.full((len(items), n), -100, dtype=torch.long)
    mask = torch.zeros((len(items), n), dtype=torch.long)
    for r, it in enumerate(items):
        ids[r, : len(it["ids"])] = torch.tensor(it["ids"])
        labels[r, : len(it["labels"])] = torch.tensor(it["labels"])
        mask[r, : len(it["ids"])] = 1
    return {
        "input_ids": ids, "labels": labels, "attention_mask": mask,
        "pixels": torch.from_numpy(np.concatenate([it["pixels"] for it in items])),
        "image_grid_thw": torch.tensor([it["grid"] for it in items]),
        **batch_layout([it["grid"] for it in items], [it["ids"] for it in items], n),
    }


# ------------------------------------------------------------------------------------------------------------------
# Model helpers
# ------------------------------------------------------------------------------------------------------------------


def hidden_states(model, input_ids, attention_mask, pixel_values, image_grid_thw) -> torch.Tensor:
    """Final (normed) hidden states [B, S, H]; logits are taken only where needed (the full [B, S, 151936] is huge)."""
    if hasattr(model.model, "rope_deltas"):
        model.model.rope_deltas = None
    out = model.model(input_ids=input_ids, attention_mask=attention_mask, pixel_values=pixel_values, image_grid_thw=image_grid_thw,
                      mm_token_type_ids=(input_ids == IMAGE_PAD).long(), use_cache=False)
    return out.last_hidden_state


def to_device(batch: dict, device: str, fast_image_path: bool) -> dict:
    """The collated batch on the device, with pixel_values completed there (fast image path) or as sent."""
    batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
    pixels = batch.pop("pixels")
    batch["pixel_values"] = fast_pixel_values(pixels) if fast_image_path else pixels
    return batch


def batch_loss(model, batch: dict, allowed_ids: torch.Tensor, fast_forward: bool, autocast: bool) -> torch.Tensor:
    """Mean cross-entropy over the answer tokens. fast_forward: fast_forward.py's batched forward and the loss over the
    trainable vocabulary rows; else transformers' own forward and the full-vocabulary loss. Same maths (checked)."""
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
        if fast_forward:
            h = hidden_states_fast(model, batch["input_ids"], batch["attention_mask"], batch["pixel_values"], batch)
        else:
            h = hidden_states(model, batch["input_ids"], batch["attention_mask"], batch["pixel_values"], batch["image_grid_thw"])
        targets = batch["labels"][:, 1:]
        sel = targets != -100
        answer_states = h[:, :-1][sel]  # [T, H]
        if fast_forward:
            return allowed_vocab_loss(answer_states, model.lm_head.weight, allowed_ids, targets[sel])
        logits = model.lm_head(answer_states)
    return F.cross_entropy(logits.float(), targets[sel])


def allowed_tokens(enc: Encoder) -> torch.Tensor:
    """Tokens any training text can contain: every question and answer from tasks.json, the chat format's pieces."""
    allowed = torch.zeros(VOCAB_SIZE, dtype=torch.bool)
    for text in render.all_texts():
        allowed[enc.ids(text)] = True
    allowed[enc.user + enc.assistant + enc.newline + [IM_START, IM_END, VISION_START, VISION_END, IMAGE_PAD]] = True
    return allowed


def save_checkpoint(model, out_dir: Path, name: str) -> int:
    """A bf16 copy (the training weights stay fp32) through save_pretrained (Hub layout, tied lm_head omitted), gzip'd into out_dir/name. Returns the
    uncompressed size."""
    with tempfile.TemporaryDirectory() as tmp:
        stored = Qwen3VLForConditionalGeneration(model.config)
        stored.load_state_dict({k: v.detach().cpu() for k, v in model.state_dict().items()})
        stored.to(torch.bfloat16).save_pretrained(tmp)
        raw = (Path(tmp) / "model.safetensors").read_bytes()
        (out_dir / f"{name}.partial").write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))
        os.replace(out_dir / f"{name}.partial", out_dir / name)
        shutil.copy(Path(tmp) / "config.json", out_dir / "config.json")
    return len(raw)


# ------------------------------------------------------------------------------------------------------------------
# Evaluation: batched greedy decoding by full recompute, exact match and grounding IoU
# ------------------------------------------------------------------------------------------------------------------

BOX_RE = re.compile(r'\{"bbox_2d":\s*\[([^\]]*)\],\s*"label":\s*"([^"]*)"\}')


def parse_box(text: str):
    m = BOX_RE.fullmatch(text.strip())
    if not m:
        return None
    try:
        coords = [float(x) for x in m.group(1).split(",")]
    except ValueError:
        return None
    return (coords, m.group(2)) if len(coords) == 4 else None


def iou(a: list[float], b: list[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def score(expected: str, got: str) -> dict:
    """Grounding answers are right when the label matches and IoU >= 0.5; every other answer must match exactly."""
    want = parse_box(expected)
    if want is None:
        return {"correct": got == expected, "iou": None}
    have = parse_box(got)
    overlap = iou(want[0], have[0]) if have else 0.0
    return {"correct": bool(have) and have[1] == want[1] and overlap >= 0.5, "iou": overlap}


@torch.no_grad()
def greedy(model, enc: Encoder, prompts: list[tuple[list[int], np.ndarray, list[int]]], device: str, max_new: int = 48) -> list[str]:
    """Greedy answers for (ids, pixel_values, grid) prompts, a batch at a time, recomputing the whole sequence each
    step (no KV cache: simple and exactly what the model computes)."""
    answers: list[str] = []
    for start in range(0, len(prompts), 64):
        chunk = prompts[start : start + 64]
        seqs = [list(p[0]) for p in chunk]
        new: list[list[int]] = [[] for _ in chunk]
        done = [False] * len(chunk)
        pv = torch.from_numpy(np.concatenate([p[1] for p in chunk])).to(device)
        grids = torch.tensor([p[2] for p in chunk], device=device)
        for _ in range(max_new):
            n = max(len(s) for s in seqs)
            ids = torch.full((len(seqs), n), PAD_ID, dtype=torch.long)
            mask = torch.zeros((len(seqs), n), dtype=torch.long)
            for r, s in enumerate(seqs):
                ids[r, : len(s)] = torch.tensor(s)
                mask[r, : len(s)] = 1
            h = hidden_states(model, ids.to(device), mask.to(device), pv, grids)
            last = torch.tensor([len(s) - 1 for s in seqs], device=device)
            logits = model.lm_head(h[torch.arange(len(seqs), device=device), last]).float()
            nxt = logits.argmax(-1).tolist()
            for r, t in enumerate(nxt):
                if done[r]:
                    continue
                if t in (IM_END, PAD_ID):
                    done[r] = True
                else:
                    new[r].append(t)
                    seqs[r].append(t)
            if all(done):
                break
        answers += [enc.tok.decode(t, skip_special_tokens=False) for t in new]
    return answers


def evaluate(model, enc: Encoder, items: list[dict], device: str) -> dict:
    """items: {id, family, image (PIL), turns: [{question, answer}]}. Turn 2 is asked after the model's own turn-1
    answer, as a client replaying the chat would. Returns the per-family table and every prediction."""
    model.eval()
    encoded = [enc.image(it["image"]) for it in items]
    predictions: list[dict] = []
    histories: list[list[tuple[str, str]]] = [[] for _ in items]
    max_turns = max(len(it["turns"]) for it in items)
    for turn_index in range(max_turns):
        active = [i for i, it in enumerate(items) if len(it["turns"]) > turn_index]
        prompts = [(enc.prompt(encoded[i][1], histories[i], items[i]["turns"][turn_index]["question"]), *encoded[i]) for i in active]
        answers = greedy(model, enc, prompts, device)
        for i, got in zip(active, answers):
            turn = items[i]["turns"][turn_index]
            histories[i].append((turn["question"], got))
            predictions.append({"id": items[i]["id"], "family": items[i]["family"], "turn": turn_index, "question": turn["question"],
                                "expected": turn["answer"], "got": got, **score(turn["answer"], got)})
    return {"table": table(predictions), "predictions": predictions}


def table(predictions: list[dict]) -> dict:
    out = {}
    for fam in sorted({p["family"] for p in predictions}):
        rows = [p for p in predictions if p["family"] == fam]
        boxes = [p for p in rows if p["iou"] is not None]
        out[fam] = {
            "questions": len(rows), "correct": sum(p["correct"] for p in rows),
            "correctPct": round(100 * sum(p["correct"] for p in rows) / len(rows), 1),
            "boxes": len(boxes), "iouAtLeastHalfPct": round(100 * sum(p["iou"] >= 0.5 for p in boxes) / len(boxes), 1) if boxes else None,
        }
    return out


def python_val_items(n_per_family: int) -> list[dict]:
    items = []
    for fam in render.FAMILIES:
        for k in range(n_per_family):
            s = render.make_sample(random.Random(900_000_000 + 1000 * render.FAMILIES.index(fam) + k), fam)
            items.append({"id": f"{fam}-{k}", "family": fam, "image": s.image,
                          "turns": [{"question": t.question, "answer": t.answer} for t in s.turns]})
    return items


def node_test_items(test_dir: Path, limit: int | None) -> list[dict]:
    """The Node-rendered test set: images are canonicalised as vlcache does (EXIF orientation applied, alpha over
    white, 8-bit RGB)."""
    manifest = json.loads((test_dir / "manifest.json").read_text())
    items = []
    for it in manifest["items"][:limit]:
        with Image.open(test_dir / it["image"]) as im:
            im = ImageOps.exif_transpose(im)
            if im.mode in ("RGBA", "LA", "P"):
                im = im.convert("RGBA")
                bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
                im = Image.alpha_composite(bg, im)
            items.append({"id": it["id"], "family": it["family"], "image": im.convert("RGB"), "turns": it["turns"]})
    return items


# ------------------------------------------------------------------------------------------------------------------
# Checks run before the long training (--smoke-first): they fail fast, before device time is spent
# ------------------------------------------------------------------------------------------------------------------


@torch.no_grad()
def self_checks(model, enc: Encoder, device: str) -> float:
    """Returns the largest difference between the fast image path and the image processor."""
    # 1. Piecewise prompt ids equal tokenising the whole rendered chat.
    for i in range(50):
        s = render.make_sample(random.Random(i))
        _, grid = enc.image(s.image)
        history = [(t.question, t.answer) for t in s.turns[:-1]]
        whole = enc.ids(enc.rendered(grid, history, s.turns[-1].question))
        if enc.prompt(grid, history, s.turns[-1].question) != whole:
            log(f"WARNING: piecewise prompt tokenisation differs from the whole rendered chat for sample {i}")
    # 2. The loader's uint8 patches, completed on the GPU, equal the image processor's pixel values.
    worst = 0.0
    for i in range(40):
        s = render.make_sample(random.Random(i))
        pv, grid = enc.image(s.image)
        patches, fast_grid = enc.image_patches(s.image)
        if fast_grid != grid:
            log(f"WARNING: fast image path grid {fast_grid} != processor grid {grid}")
            return math.inf
        worst = max(worst, (fast_pixel_values(torch.from_numpy(patches).to(device)).cpu() - torch.from_numpy(pv)).abs().max().item())
    log(f"check: fast pixel values vs image processor max diff {worst:.2e} (40 samples)")
    # 3. Last-position logits from hidden_states + lm_head equal the model's own forward.
    s = render.make_sample(random.Random(7), "shapes")
    pv, grid = enc.image(s.image)
    ids = torch.tensor([enc.prompt(grid, [], s.turns[0].question)], device=device)
    kwargs = dict(attention_mask=torch.ones_like(ids), pixel_values=torch.from_numpy(pv).to(device),
                  image_grid_thw=torch.tensor([grid], device=device))
    mine = model.lm_head(hidden_states(model, ids, kwargs["attention_mask"], kwargs["pixel_values"], kwargs["image_grid_thw"])[0, -1]).float()
    if hasattr(model.model, "rope_deltas"):
        model.model.rope_deltas = None
    theirs = model(input_ids=ids, mm_token_type_ids=(ids == IMAGE_PAD).long(), use_cache=False, logits_to_keep=1, **kwargs).logits[0, -1].float()
    diff = (mine - theirs).abs().max().item()
    log(f"check: logits via hidden states vs forward max diff {diff:.2e}")
    if diff >= 1e-3:
        log("WARNING: hidden-state logits differ from the model's forward")
    return worst


@torch.no_grad()
def check_fast_forward(model, enc: Encoder, allowed_ids: torch.Tensor, device: str, fast_image_path: bool) -> bool:
    """fast_forward.py's forward and loss against transformers' forward and the full-vocabulary loss, on a batch of
    every family (padded rows, different grids, two-turn chats): in fp32 without TF32 they must agree to rounding."""
    stream = SyntheticStream(enc, 424_242, 10**6, fast_image_path)
    batch = to_device(collate([stream[i] for i in range(12)]), device, fast_image_path)
    real = batch["attention_mask"].bool()
    tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        theirs = hidden_states(model, batch["input_ids"], batch["attention_mask"], batch["pixel_values"], batch["image_grid_thw"])
        mine = hidden_states_fast(model, batch["input_ids"], batch["attention_mask"], batch["pixel_values"], batch)
        hidden_diff = (mine - theirs)[real].abs().max().item()
        loss_theirs = batch_loss(model, batch, allowed_ids, fast_forward=False, autocast=False).item()
        loss_mine = batch_loss(model, batch, allowed_ids, fast_forward=True, autocast=False).item()
    except Exception as e:  # a transformers version whose internals differ: train with its own forward
        log(f"WARNING: fast forward failed ({type(e).__name__}: {e}); training uses transformers' forward")
        return False
    finally:
        torch.backends.cuda.matmul.allow_tf32 = tf32
    on_cuda = device == "cuda"
    bf16_theirs = batch_loss(model, batch, allowed_ids, fast_forward=False, autocast=on_cuda).item()
    bf16_mine = batch_loss(model, batch, allowed_ids, fast_forward=True, autocast=on_cuda).item()
    ok = hidden_diff < 1e-3 and abs(loss_mine - loss_theirs) < 1e-4 * max(1.0, abs(loss_theirs))
    log(f"check: fast forward vs transformers' forward (fp32, 12 samples): hidden states max diff {hidden_diff:.2e}, "
        f"loss {loss_mine:.6f} vs {loss_theirs:.6f}; with bf16 autocast loss {bf16_mine:.6f} vs {bf16_theirs:.6f}"
        f"{'' if ok else ' -- WARNING: they differ, training uses transformers forward'}")
    return ok


# ------------------------------------------------------------------------------------------------------------------
# Training
# ------------------------------------------------------------------------------------------------------------------


def train(args, out: Path, smoke: bool) -> None:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    enc = Encoder(args.tokenizer)
    model = (load_checkpoint(Path(args.init_from), torch.float32) if args.init_from else Qwen3VLForConditionalGeneration(build_config())).to(device)
    embed = model.model.language_model.embed_tokens.weight
    assert model.lm_head.weight.data_ptr() == embed.data_ptr(), "embeddings must be tied"
    allowed = allowed_tokens(enc).to(device)
    allowed_ids = allowed.nonzero().squeeze(1)  # sorted
    with torch.no_grad():
        if args.init_from:
            assert not embed[~allowed].any(), "the --init-from checkpoint has non-zero rows outside the trainable vocabulary"
        embed[~allowed] = 0.0
    embed.register_hook(lambda g: g * allowed[:, None].to(g.dtype))
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {n_params / 1e6:.2f} M parameters; {int(allowed.sum())} of {VOCAB_SIZE} vocabulary rows trainable; device {device}")
    if args.init_from:
        log(f"initialised from {args.init_from}")
    fast_path_diff = self_checks(model, enc, device)
    # The fast image path only when it reproduces the image processor (up to resampling noise); else the slow one.
    fast = fast_path_diff < 0.05
    log(f"loader image path: {'uint8 patches, completed on the GPU' if fast else 'WARNING: the image processor in the workers'}")
    fast_forward = not args.stock_forward and check_fast_forward(model, enc, allowed_ids, device, fast)
    log(f"training forward: {'fast_forward.py (batched, trainable-vocabulary loss)' if fast_forward else 'transformers (image by image)'}")

    batch_size = 8 if smoke else args.batch
    workers = 2 if smoke else args.workers
    stream = SyntheticStream(enc, args.seed, 10_000_000, fast)
    # One intra-op thread per worker: the image processor's numpy/torch work would otherwise oversubscribe the cores.
    loader = torch.utils.data.DataLoader(stream, batch_size=batch_size, shuffle=False, num_workers=workers, collate_fn=collate,
                                         pin_memory=device == "cuda", prefetch_factor=4, persistent_workers=False, drop_last=True,
                                         worker_init_fn=lambda _: torch.set_num_threads(1))
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.98), weight_decay=0.0, eps=1e-8, fused=device == "cuda")
    if args.profile and not smoke:
        profile(model, opt, loader, allowed_ids, device, fast, fast_forward, out)
        return
    planned = 12 if smoke else args.steps
    warmup = 4 if smoke else args.warmup
    curve: list[dict] = []
    started = time.time()
    last_save = started
    # Summed on the device and read at log time only: a .item() per step would wait for the GPU every step.
    window, window_n = torch.zeros((), device=device), 0
    violations = torch.zeros((), dtype=torch.long, device=device)
    data_wait = 0.0  # seconds spent waiting for the loader: the run is data-bound when this approaches the total
    max_seconds = args.max_seconds or args.seconds * 1.1
    model.train()
    step = 0
    waited_from = time.time()
    for batch in loader:
        data_wait += time.time() - waited_from
        if planned is not None and step >= planned:
            break
        elapsed = time.time() - started
        if planned is None and step == 100:
            # From steps 40-100: the loader's prefetch queue has drained into its steady state by then.
            rate = 60 / (elapsed - t40)
            planned = int(rate * (args.seconds - elapsed)) + step
            log(f"speed {rate:.2f} steps/s at batch {batch_size}: planning {planned} steps for {args.seconds} s")
        if step == 40:
            t40 = elapsed
        if not smoke and elapsed > max_seconds:
            log(f"time limit {max_seconds:.0f} s reached at step {step}")
            break
        total = planned or 10**9
        lr = args.lr * min(1.0, (step + 1) / warmup) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, step / total))))
        for g in opt.param_groups:
            g["lr"] = lr
        batch = to_device(batch, device, fast)
        violations += (~allowed[batch["input_ids"]] & (batch["attention_mask"] > 0)).sum()
        loss = batch_loss(model, batch, allowed_ids, fast_forward, autocast=device == "cuda")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        window += loss.detach()
        window_n += 1
        step += 1
        if step % 25 == 0 or smoke:
            mean = window.item() / window_n
            curve.append({"step": step, "seconds": round(time.time() - started, 1), "loss": round(mean, 4), "lr": lr})
            log(f"step {step}/{planned} {time.time() - started:.0f}s loss {mean:.4f} lr {lr:.2e} waiting for data {data_wait:.0f}s")
            window.zero_()
            window_n = 0
        if not smoke and time.time() - last_save > args.save_every:
            save_checkpoint(model, out, "partial.safetensors.gz")
            write_json(out / "train_log.json", {"curve": curve, "stepsSoFar": step})
            last_save = time.time()
        waited_from = time.time()
    train_seconds = time.time() - started
    violations = int(violations)
    log(f"trained {step} steps in {train_seconds:.0f} s ({step / train_seconds:.2f} steps/s, waiting for data {data_wait:.0f} s); "
        f"{violations} tokens outside the trainable vocabulary")
    assert violations == 0, "training texts used tokens whose embedding rows are frozen at zero"

    size = save_checkpoint(model, out, "model.safetensors.gz")
    gz = (out / "model.safetensors.gz").stat().st_size
    log(f"checkpoint: {size / 1e6:.1f} MB safetensors, {gz / 1e6:.1f} MB gzip")
    (out / "partial.safetensors.gz").unlink(missing_ok=True)
    write_json(out / "train_log.json", {
        "seed": args.seed, "initFrom": args.init_from, "steps": step, "batch": batch_size, "lr": args.lr, "warmup": warmup,
        "seconds": round(train_seconds, 1), "stepsPerSecond": round(step / train_seconds, 2), "fastImagePathMaxDiff": fast_path_diff,
        "fastForward": fast_forward, "familyWeights": dict(zip(render.FAMILIES, render.FAMILY_WEIGHTS)),
        "text": TEXT, "vision": VISION, "parameters": n_params, "trainableVocabularyRows": int(allowed.sum()),
        "safetensorsBytes": size, "gzipBytes": gz, "dataWaitSeconds": round(data_wait, 1), "torch": torch.__version__, "transformers": transformers.__version__,
        "gpu": torch.cuda.get_device_name(0) if device == "cuda" else "cpu", "curve": curve,
    })

    # Evaluate the weights exactly as stored: reload the bf16 checkpoint, compute in fp32. The Node-rendered set first:
    # it is the one the project's numbers are about. eval.json is rewritten after each set, so a run cut short keeps
    # what was measured.
    reloaded = load_checkpoint(out, torch.float32).to(device)
    reloaded.eval()
    results = {"pytorch": f"torch {torch.__version__}, transformers {transformers.__version__}, fp32 compute on the bf16 checkpoint"}
    if args.test_dir:
        t0 = time.time()
        results["nodeRendered"] = evaluate(reloaded, enc, node_test_items(Path(args.test_dir), 12 if smoke else None), device)
        log(f"held-out (Node renderer): {json.dumps(results['nodeRendered']['table'])} in {time.time() - t0:.0f} s")
        write_json(out / "eval.json", results)
    t0 = time.time()
    results["pythonRendered"] = evaluate(reloaded, enc, python_val_items(4 if smoke else args.val_per_family), device)
    log(f"held-out (training renderer): {json.dumps(results['pythonRendered']['table'])} in {time.time() - t0:.0f} s")
    write_json(out / "eval.json", results)


def profile(model, opt, loader, allowed_ids: torch.Tensor, device: str, fast_image_path: bool, fast_forward: bool, out: Path) -> None:
    """--profile: where a training step's time goes. The loader's rate alone; then, on the same batches, the forward,
    backward and optimiser step of each training forward (GPU synchronised between them; medians of 10 steps after 3
    warm-up steps); and torch.profiler's busiest operators (OUT/profile-*.txt)."""
    it = iter(loader)
    batches = [next(it) for _ in range(10)]  # the workers start up meanwhile
    t0 = time.time()
    for _ in range(40):
        next(it)
    rate = 40 / (time.time() - t0)
    log(f"profile: loader alone {rate:.1f} batches/s ({rate * loader.batch_size:.0f} samples/s, {loader.num_workers} workers)")
    del it
    model.train()

    def step(batch: dict, fast: bool) -> list[float]:
        marks = [time.perf_counter()]
        loss = batch_loss(model, batch, allowed_ids, fast, autocast=True)
        torch.cuda.synchronize()
        marks.append(time.perf_counter())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.cuda.synchronize()
        marks.append(time.perf_counter())
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        torch.cuda.synchronize()
        marks.append(time.perf_counter())
        return [1000 * (b - a) for a, b in zip(marks, marks[1:])]

    for fast in [False, True] if fast_forward else [False]:
        name = "fast" if fast else "transformers"
        on_device = [to_device(b, device, fast_image_path) for b in batches]
        torch.cuda.synchronize()
        ms = np.array([step(on_device[i % len(on_device)], fast) for i in range(13)][3:])
        med = np.median(ms, 0)
        log(f"profile: {name} forward: step {np.median(ms.sum(1)):.1f} ms (forward {med[0]:.1f}, backward {med[1]:.1f}, "
            f"clip + optimiser {med[2]:.1f}) at batch {loader.batch_size}")
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]) as prof:
            for b in on_device[:2]:
                step(b, fast)
        events = prof.key_averages()
        kernels = sum(e.count for e in events if getattr(e, "device_type", None) == torch.autograd.DeviceType.CUDA)
        log(f"profile: {name} forward: {kernels / 2:.0f} GPU kernels per step")
        (out / f"profile-{name}.txt").write_text(events.table(sort_by="self_cuda_time_total", row_limit=25) + "\n"
                                                 + events.table(sort_by="self_cpu_time_total", row_limit=25) + "\n")


def load_checkpoint(folder: Path, dtype: torch.dtype) -> Qwen3VLForConditionalGeneration:
    """A checkpoint as this script writes it: folder/config.json and folder/model.safetensors.gz."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "model.safetensors").write_bytes(gzip.decompress((folder / "model.safetensors.gz").read_bytes()))
        shutil.copy(folder / "config.json", Path(tmp) / "config.json")
        return Qwen3VLForConditionalGeneration.from_pretrained(tmp, dtype=dtype, attn_implementation="sdpa")


def write_json(path: Path, value: object) -> None:
    path.write_text(json.dumps(value, indent=1) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tokenizer", required=True, help="Qwen3 tokenizer.json")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seconds", type=float, default=360, help="training time budget (sets the step count after 100 steps)")
    p.add_argument("--max-seconds", type=float, default=None, help="hard stop for training, in seconds (default 1.1 x --seconds)")
    p.add_argument("--init-from", default=None, help="continue from this checkpoint folder (config.json, model.safetensors.gz)")
    p.add_argument("--warmup", type=int, default=250, help="learning-rate warm-up steps")
    p.add_argument("--steps", type=int, default=None, help="fixed step count (overrides --seconds)")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=1.5e-3)
    p.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 4) - 2))
    p.add_argument("--save-every", type=float, default=90)
    p.add_argument("--val-per-family", type=int, default=60)
    p.add_argument("--test-dir", default=None, help="Node-rendered test set (manifest.json + images)")
    p.add_argument("--smoke-first", action="store_true", help="first run every stage on a few samples into OUT/smoke")
    p.add_argument("--profile", action="store_true", help="after the checks, time the loader and the training step, then stop")
    p.add_argument("--stock-forward", action="store_true", help="train with transformers' forward, not fast_forward.py's")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        if args.smoke_first:
            (out / "smoke").mkdir(exist_ok=True)
            t0 = time.time()
            train(args, out / "smoke", smoke=True)
            shutil.rmtree(out / "smoke")
            log(f"smoke run passed in {time.time() - t0:.0f} s")
        train(args, out, smoke=False)
    finally:
        (out / "log.txt").write_text("\n".join(LOG_LINES) + "\n")


if __name__ == "__main__":
    main()

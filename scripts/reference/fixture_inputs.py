"""Deterministic inputs shared by every parity fixture: images, conversations and tokenizer probe texts.

Everything here is drawn with PIL from fixed coordinates (no randomness), so regenerating the fixtures on the same
Pillow version writes byte-identical image files. The three images take three different paths through the Qwen
smart-resize: the screenshot is above max_pixels (downscaled), the chart is rounded to the nearest multiple of 32,
and the photo is below min_pixels (upscaled); the photo is also a JPEG stored sideways with EXIF orientation 6.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

# Pixel budget of the fixture processor: small, so that pixel arrays stay small, and chosen so that each image
# takes a different branch of smart_resize (see module docstring).
MIN_PIXELS = 4096
MAX_PIXELS = 40000

EXIF_ORIENTATION_TAG = 0x0112


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def draw_screenshot() -> Image.Image:
    """A GUI-like window, 320x200: title bar, sidebar, toolbar buttons, text lines and an input box."""
    img = Image.new("RGB", (320, 200), (236, 239, 244))
    d = ImageDraw.Draw(img)
    d.rectangle([0, 0, 319, 22], fill=(46, 52, 64))
    for i, color in enumerate([(191, 97, 106), (235, 203, 139), (163, 190, 140)]):
        d.ellipse([8 + i * 16, 6, 18 + i * 16, 16], fill=color)
    d.text((70, 5), "vlcache - Settings", fill=(229, 233, 240), font=_font(12))
    d.rectangle([0, 23, 74, 199], fill=(216, 222, 233))
    for i, label in enumerate(["General", "Cache", "Models", "Metrics", "About"]):
        y = 32 + i * 22
        if i == 1:
            d.rectangle([4, y - 3, 70, y + 15], fill=(94, 129, 172))
        d.text((10, y), label, fill=(255, 255, 255) if i == 1 else (59, 66, 82), font=_font(11))
    for i, label in enumerate(["Save", "Reset", "Clear L2"]):
        x = 86 + i * 70
        d.rounded_rectangle([x, 30, x + 62, 50], radius=5, fill=(129, 161, 193), outline=(76, 86, 106))
        d.text((x + 8, 34), label, fill=(255, 255, 255), font=_font(11))
    lines = ["L1 vision features: 128 MiB", "L2 prefix tree: 2.4 GiB", "L3 answers: on", "TTL: 3600 s"]
    for i, line in enumerate(lines):
        d.text((88, 62 + i * 18), line, fill=(46, 52, 64), font=_font(11))
    d.rectangle([86, 150, 306, 172], fill=(255, 255, 255), outline=(76, 86, 106))
    d.text((92, 154), "redis://localhost:6379", fill=(76, 86, 106), font=_font(11))
    d.line([86, 184, 306, 184], fill=(191, 97, 106), width=3)
    return img


def draw_chart() -> Image.Image:
    """A bar chart, 150x110: axes, grid lines, five coloured bars and labels."""
    img = Image.new("RGB", (150, 110), (255, 255, 255))
    d = ImageDraw.Draw(img)
    d.text((30, 2), "hits per level", fill=(20, 20, 20), font=_font(10))
    for y in range(25, 95, 14):
        d.line([22, y, 146, y], fill=(225, 225, 225))
    d.line([22, 18, 22, 95], fill=(0, 0, 0), width=1)
    d.line([22, 95, 146, 95], fill=(0, 0, 0), width=1)
    bars = [(62, (94, 129, 172)), (35, (191, 97, 106)), (71, (163, 190, 140)), (18, (235, 203, 139)), (50, (180, 142, 173))]
    for i, (height, color) in enumerate(bars):
        x = 30 + i * 23
        d.rectangle([x, 95 - height, x + 14, 94], fill=color)
        d.text((x + 3, 97), "L" + str(i + 1), fill=(40, 40, 40), font=_font(9))
    for i, tick in enumerate(["80", "40", "0"]):
        d.text((4, 22 + i * 35), tick, fill=(60, 60, 60), font=_font(9))
    return img


def draw_photo_upright() -> Image.Image:
    """A photo-like portrait scene, 36x60 when upright: sky gradient, sun, hills, an arrow pointing up."""
    w, h = 36, 60
    img = Image.new("RGB", (w, h))
    px = img.load()
    for y in range(h):
        for x in range(w):
            px[x, y] = (40 + y * 2, 90 + y * 2, 200 - y) if y < 38 else (60 + x, 120 - (y - 38), 50 + x // 2)
    d = ImageDraw.Draw(img)
    d.ellipse([22, 4, 32, 14], fill=(250, 220, 90))
    d.polygon([(0, 40), (12, 30), (24, 40)], fill=(70, 110, 60))
    d.polygon([(6, 26), (10, 18), (14, 26)], fill=(255, 255, 255))
    d.line([10, 26, 10, 36], fill=(255, 255, 255), width=2)
    return img


def jpeg_with_exif_orientation_6(upright: Image.Image) -> bytes:
    """Stores `upright` rotated a quarter turn counter-clockwise and tags it with EXIF orientation 6 ("rotate 90 CW
    to display"), as a phone camera held in portrait does; exif_transpose therefore gives `upright` back.
    4:4:4 chroma sampling keeps JPEG decoders from disagreeing on chroma upsampling."""
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[EXIF_ORIENTATION_TAG] = 6
    buf = io.BytesIO()
    stored.save(buf, "JPEG", quality=95, subsampling=0, exif=exif.tobytes())
    return buf.getvalue()


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def write_images(folder: Path) -> dict[str, Path]:
    """Writes the fixture images and returns {name: path}; names carry their extension."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "screenshot.png": png_bytes(draw_screenshot()),
        "chart.png": png_bytes(draw_chart()),
        "photo_exif6.jpg": jpeg_with_exif_orientation_6(draw_photo_upright()),
    }
    paths = {}
    for name, data in files.items():
        path = folder / name
        path.write_bytes(data)
        paths[name] = path
    return paths


# turn1 holds these images, in this order (two different grids); turn2 repeats them.
IMAGES_IN_ORDER = ["screenshot.png", "chart.png"]


def image_part(name: str) -> dict:
    return {"type": "image", "image": name}


def text_part(text: str) -> dict:
    return {"type": "text", "text": text}


def turn1_messages() -> list[dict]:
    return [
        {
            "role": "user",
            "content": [
                image_part(IMAGES_IN_ORDER[0]),
                image_part(IMAGES_IN_ORDER[1]),
                text_part("Which cache level has the most hits, and what does the settings window say about L2?"),
            ],
        }
    ]


def turn2_messages(turn1_answer: str) -> list[dict]:
    return turn1_messages() + [
        {"role": "assistant", "content": turn1_answer},
        {"role": "user", "content": [text_part("Now describe only the chart, in one sentence.")]},
    ]


def text_only_messages() -> list[dict]:
    return [
        {"role": "system", "content": "You are a terse assistant."},
        {"role": "user", "content": "List three prime numbers, then explain why 1 is not prime."},
    ]


TOKENIZER_PROBE_TEXTS = [
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "Prices: $3.50, 1,234,567 items (approx. 99.9%) on 2026-11-21 at 07:45.",
    "¿Qué tal? Ça va très bien — naïve façade, Straße, Ωmega.",
    "北京是中国的首都。今天天气很好！",
    "日本語のテキストと한국어 텍스트.",
    "Emoji: 😀👍🏽 🧑‍💻 🇩🇪 ❤️",
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "if (x) {\n\tconsole.log(`x=${x}`);\n}\r\n",
    "multiple   spaces    here\n\n\nand three newlines,  then   tabs\t\tend  ",
    "   leading spaces and trailing   ",
    "<|im_start|>user\nWhat is this?<|im_end|>\n<|im_start|>assistant\n",
    "<|vision_start|><|image_pad|><|image_pad|><|vision_end|>Describe the picture.",
    "don't won't it's we're I'M YOU'LL they'd",
    "a\u00a0b\u200bc e\u0301 ﬁ",
    "https://example.com/path?query=1&x=%20y#frag",
]

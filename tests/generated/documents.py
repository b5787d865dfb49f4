"""Whole documents as a scanner or a phone sees them: dense A4 pages, receipts, Traditional pages,
handwriting-like cards, photographed lines. Each maker returns ``(image, ground_truth)``.

Used by the extraction tests (small variants) and by ``bench/ocr.py`` (A4 at 300 dpi). The ground
truth is the text drawn, lines joined by ``\\n``.
"""
from __future__ import annotations

import functools
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from . import images as gi
from . import texts

A4_300DPI = (2480, 3508)

# Kai (brush-script) font: the closest to handwriting a Debian font package gives (fonts-arphic-ukai).
KAI_CANDIDATES = ("/usr/share/fonts/truetype/arphic/ukai.ttc",)

RECEIPT_LINES = [
    "华夏铁路客运电子客票",
    "车次 G1234 二等座 05车12F号",
    "北京南站 - 上海虹桥",
    "合同编号 HT-2024-0012",
    "票据号码 No.0051971",
    "票价 553.00 元",
    "开票日期 2026-03-18",
    "买受人 王建国",
]


def wrap(text: str, per_line: int) -> list[str]:
    """``text`` cut into lines of ``per_line`` characters (each paragraph starting a new line)."""
    out: list[str] = []
    for para in text.split("\n"):
        para = para.strip()
        out.extend(para[i:i + per_line] for i in range(0, len(para), per_line))
    return [line for line in out if line]


def _page(lines: list[str], size: tuple[int, int], glyph: int, face: str = "SC",
          margin: int | None = None, spacing: float = 0.7) -> Image.Image:
    f = gi.font(glyph, face)
    margin = margin if margin is not None else size[0] // 12
    img = Image.new("L", size, 255)
    draw = ImageDraw.Draw(img)
    step = int(glyph * (1 + spacing))
    for k, line in enumerate(lines):
        draw.text((margin, margin + k * step), line, fill=0, font=f)
    return img


def dense_chinese_a4(n_lines: int = 40, seed: int = 2026) -> tuple[Image.Image, str]:
    """A dense Simplified A4 page at 300 dpi: ``n_lines`` lines of 44-45 characters (42 px glyphs,
    about 10 pt), paragraphs wrapped by the page, as an office scan looks."""
    body = "。".join(texts.record_sentences(400, seed)) + "。"
    per_line = 45
    lines = wrap(body, per_line)[:n_lines]
    return _page(lines, A4_300DPI, 42, margin=200, spacing=0.75), "\n".join(lines)


def contract_a4(n_lines: int = 40, seed: int = 2027) -> tuple[Image.Image, str]:
    """A dense A4 contract page at 300 dpi (42 px glyphs, as ``dense_chinese_a4``) whose every line
    carries numbers: amounts, phone and ID numbers, dates, contract and receipt codes, many with
    repeated digits (``1,280,000``, ``13800138000``), the characters a squeezed reading loses first."""
    rng = random.Random(seed)
    sentences = texts.record_sentences(4 * n_lines, seed)

    def number() -> str:
        kind = rng.randrange(6)
        if kind == 0:
            return f"{rng.randint(1, 9)},{rng.choice(['000', '280', '500', '006'])},{rng.choice(['000', '100', '550'])}元"
        if kind == 1:
            return "1" + rng.choice(["38", "39", "88", "58"]) + "".join(rng.choice("0018") for _ in range(8))
        if kind == 2:
            return f"{rng.randint(2000, 2029)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        if kind == 3:
            return f"HT-{rng.randint(2018, 2026)}-{rng.randint(0, 9999):04d}"
        if kind == 4:
            return "No." + "".join(rng.choice("00112") for _ in range(7))
        return "4403" + "".join(rng.choice("0019") for _ in range(13)) + rng.choice("0123456789X")

    lines = []
    for k in range(n_lines):
        line = ""
        while len(line) < 30:
            line += sentences[(k * 4 + len(line)) % len(sentences)][:rng.randint(3, 8)] + number()
        lines.append(line[:38])
    return _page(lines, A4_300DPI, 42, margin=200, spacing=0.75), "\n".join(lines)


def paragraph_page(text: str, per_line: int, glyph: int = 36, face: str = "SC",
                   size: tuple[int, int] = (1240, 1754)) -> tuple[Image.Image, str]:
    """``text`` wrapped at ``per_line`` characters on an A4 page at 150 dpi."""
    lines = wrap(text, per_line)
    return _page(lines, size, glyph, face, margin=80), "\n".join(lines)


def photographed(img: Image.Image, *, turn: float = 1.5, blur: float = 0.8, noise: int = 18,
                 ink: int = 40, paper: int = 215, quality: int = 70, seed: int = 0) -> Image.Image:
    """``img`` as a phone photo: slightly turned, soft, grey paper, grain, JPEG-compressed."""
    out = gi.low_contrast(img.convert("L"), ink, paper)
    out = gi.rotated(out, turn)
    out = out.filter(ImageFilter.GaussianBlur(blur))
    out = gi.noisy(out, noise, 0.002, seed=seed)
    import io

    buf = io.BytesIO()
    out.convert("RGB").save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def receipt(photo: bool = True) -> tuple[Image.Image, str]:
    """A travel receipt (narrow, numbers and codes), printed and photographed."""
    img = _page(RECEIPT_LINES, (760, 640), 30, margin=40, spacing=0.6)
    return (photographed(img) if photo else img), "\n".join(RECEIPT_LINES)


def noisy_lines(seed: int = 0) -> tuple[Image.Image, str]:
    """Three short printed lines photographed badly (blur, grain, grey paper, JPEG 55)."""
    lines = texts.SCAN_LINES[1:]
    img = gi.render_lines(lines, 30, margin=20, spacing=0.6)
    return photographed(img, turn=2.0, blur=1.1, noise=30, ink=70, paper=190, quality=55, seed=seed), "\n".join(lines)


@functools.cache
def kai_font_path() -> Path | None:
    """The Kai font file, or None when fonts-arphic-ukai is not installed."""
    return next((Path(p) for p in KAI_CANDIDATES if Path(p).is_file()), None)


def hand_lines(lines: list[str], font_at, *, size: int, width: int, height: int, top: int, step: int,
               margin: int, indent: int, rule_gap: int, rng: random.Random) -> Image.Image:
    """Lines "written by hand" on ruled paper: each glyph of ``font_at(size)`` sized, turned, shifted and
    inked a little differently (the imitation both handwriting-like pages use)."""
    img = Image.new("L", (width, height), 250)
    draw = ImageDraw.Draw(img)
    for k, line in enumerate(lines):
        y0 = top + step * k
        draw.line((margin, y0 + size + rule_gap, width - margin, y0 + size + rule_gap), fill=170, width=2)
        x = margin + indent
        for ch in line:
            if ch == " ":
                x += size
                continue
            s = int(size * rng.uniform(0.88, 1.12))
            f = font_at(s)
            glyph = Image.new("L", (s * 2, s * 2), 0)
            ImageDraw.Draw(glyph).text((s // 2, s // 3), ch, fill=255, font=f)
            glyph = glyph.rotate(rng.uniform(-7, 7), resample=Image.Resampling.BICUBIC)
            img.paste(Image.new("L", glyph.size, rng.randint(20, 70)),
                      (x - s // 2, y0 + rng.randint(-4, 4) - s // 3), glyph)
            x += int(f.getlength(ch) * rng.uniform(0.95, 1.15))
    return img


def handwritten_card(seed: int = 1) -> tuple[Image.Image, str] | None:
    """A visitor card filled in by hand, imitated: Kai glyphs each shifted, turned and sized a little at
    random on lined paper. None when the Kai font is missing."""
    path = kai_font_path()
    if path is None:
        return None
    lines = ["姓名 李秀英 电话 13912345678", "意向面积 九十平米 三室两厅", "年级 初二 班级 三班",
             "来访日期 三月十八日 置业顾问 张明"]
    img = hand_lines(lines, lambda s: ImageFont.truetype(str(path), s, index=0), size=44, width=1100,
                     height=120 + 90 * len(lines), top=60, step=90, margin=30, indent=20, rule_gap=14,
                     rng=random.Random(seed))
    return photographed(img, turn=0.8, blur=0.6, noise=12, ink=30, paper=225, quality=80, seed=seed), \
        "\n".join(lines)


def english_page() -> tuple[Image.Image, str]:
    """texts.ENGLISH_LINES on a page (40 px glyphs): words with ordinary spaces between them."""
    img = gi.render_lines(texts.ENGLISH_LINES, 40)
    return img, "\n".join(texts.ENGLISH_LINES)


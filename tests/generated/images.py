"""Text rendered with a CJK font into page images, the ways scans go wrong, and image file formats.

Everything is made in memory from the texts in ``texts.py``; a test writes what it needs into its
own ``tmp_path`` (see ``write``). Images are kept small (under ~1000 px) so OCR stays quick.
"""
from __future__ import annotations

import functools
import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

# Debian/Ubuntu (fonts-noto-cjk, installed by scripts/install-browser.sh), then other layouts.
FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
)
# Faces inside NotoSansCJK-Regular.ttc.
FACES = {"JP": 0, "KR": 1, "SC": 2, "TC": 3, "HK": 4}


@functools.cache
def cjk_font_path() -> Path:
    """The Noto Sans CJK collection; the test fails with a clear message when it is not installed."""
    for candidate in FONT_CANDIDATES:
        if Path(candidate).is_file():
            return Path(candidate)
    if shutil.which("fc-match"):
        found = subprocess.run(["fc-match", "-f", "%{file}", "Noto Sans CJK SC:style=Regular"],
                               capture_output=True, text=True, check=False).stdout.strip()
        if found.endswith("NotoSansCJK-Regular.ttc") and Path(found).is_file():
            return Path(found)
    pytest.fail("No CJK font: the generated test images need Noto Sans CJK (NotoSansCJK-Regular.ttc). "
                "Install Debian's fonts-noto-cjk (./scripts/test does it through scripts/install-browser.sh).",
                pytrace=False)


@functools.cache
def font(size: int, face: str = "SC") -> ImageFont.FreeTypeFont:
    f = ImageFont.truetype(str(cjk_font_path()), size, index=FACES[face])
    assert f.getname()[0] == f"Noto Sans CJK {face}", f.getname()
    return f


def render_lines(lines: list[str], size: int = 48, *, face: str = "SC", margin: int = 40,
                 spacing: float = 0.8, ink: int = 0, paper: int = 255) -> Image.Image:
    """Lines of text, black on white (greyscale "L"), ``size`` px per glyph, one line under another."""
    f = font(size, face)
    widths = [int(f.getlength(line)) for line in lines]
    step = int(size * (1 + spacing))
    img = Image.new("L", (max(widths) + 2 * margin, 2 * margin + step * (len(lines) - 1) + int(size * 1.3)), paper)
    draw = ImageDraw.Draw(img)
    for k, line in enumerate(lines):
        draw.text((margin, margin + k * step), line, fill=ink, font=f)
    return img


def on_page(img: Image.Image, size: tuple[int, int] = (850, 1100)) -> Image.Image:
    """``img`` at the top left of a white sheet (850 x 1100 px: Letter at 100 dpi), as a scanner sees it."""
    page = Image.new(img.mode, size, _white(img))
    page.paste(img, (0, 40))
    return page


def scan() -> Image.Image:
    """The filing rule (texts.SCAN_LINES), 48 px glyphs, black on white: 704 x 400 px."""
    return _scan().copy()


@functools.cache
def _scan() -> Image.Image:
    from . import texts

    return render_lines(texts.SCAN_LINES, 48)


def slip_photo(seed: int = 0) -> bytes:
    """A small, grainy, slightly blurred JPEG of one printed line (texts.SLIP_LINE), ~300 x 60 px.
    Each ``seed`` gives other grain, so other bytes (and another SHA-256)."""
    from . import texts

    line = render_lines([texts.SLIP_LINE], 32, margin=8)
    return jpeg_bytes(blurred(noisy(line, 50, 0.02, seed=seed), 0.8), quality=35)


# ---------------------------------------------------------------- what happens to scans


def rotated(img: Image.Image, degrees: float) -> Image.Image:
    """Turned counter-clockwise by ``degrees`` (any angle), the corners filled with paper white."""
    if degrees % 90 == 0:
        return img.rotate(degrees, expand=True)
    return img.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=_white(img))


def skewed(img: Image.Image, shear: float = 0.12) -> Image.Image:
    """Sheared horizontally (a page fed crooked through a sheet feeder): x' = x + shear * y."""
    w, h = img.size
    extra = int(abs(shear) * h)
    return img.transform((w + extra, h), Image.Transform.AFFINE,
                         (1, shear, -extra if shear > 0 else 0, 0, 1, 0),
                         resample=Image.Resampling.BICUBIC, fillcolor=_white(img))


def blurred(img: Image.Image, radius: float = 1.5) -> Image.Image:
    return img.filter(ImageFilter.GaussianBlur(radius))


def noisy(img: Image.Image, amount: int = 40, speckle: float = 0.01, seed: int = 0) -> Image.Image:
    """Grain of +-``amount`` on every pixel plus a share ``speckle`` of black/white specks."""
    rng = np.random.default_rng(seed)
    a = np.asarray(img.convert("L"), dtype=np.int16)
    a = a + rng.integers(-amount, amount + 1, size=a.shape, dtype=np.int16)
    r = rng.random(a.shape)
    a[r < speckle] = 255
    a[r < speckle / 2] = 0
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "L")


def low_contrast(img: Image.Image, ink: int = 120, paper: int = 175) -> Image.Image:
    """Grey text on grey paper (a faded copy): levels mapped from 0..255 to ink..paper."""
    return img.convert("L").point(lambda v: ink + (paper - ink) * v // 255)


def _white(img: Image.Image):
    return {"L": 255, "1": 1, "RGB": (255, 255, 255), "CMYK": (0, 0, 0, 0)}.get(img.mode, 255)


# ---------------------------------------------------------------- file formats


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def jpeg_bytes(img: Image.Image, quality: int = 90, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, **kw)
    return buf.getvalue()


def cmyk_jpeg(img: Image.Image) -> bytes:
    """A CMYK JPEG (as print shops and some scanners write them)."""
    data = jpeg_bytes(img.convert("RGB").convert("CMYK"), quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    return data


def palette_png(img: Image.Image) -> bytes:
    """A 1-bit scan saved as a 2-colour palette PNG: its raw values are palette indices 0/1."""
    bits = img.convert("L").point(lambda v: 1 if v > 128 else 0)
    pal = Image.frombytes("P", bits.size, bits.tobytes())
    pal.putpalette([0, 0, 0, 255, 255, 255])
    buf = io.BytesIO()
    pal.save(buf, "PNG", bits=1)
    data = buf.getvalue()
    check = Image.open(io.BytesIO(data))
    assert check.mode == "P" and set(np.unique(np.asarray(check)).tolist()) <= {0, 1}
    return data


def exif_turned_jpeg(img: Image.Image) -> bytes:
    """A phone photo: pixels stored turned 90 degrees clockwise, EXIF Orientation=8 turns them back."""
    exif = Image.Exif()
    exif[0x0112] = 8
    return jpeg_bytes(img.convert("RGB").transpose(Image.Transpose.ROTATE_270), quality=95, exif=exif)


def tiff_pages(frames: list[Image.Image], compression: str = "tiff_lzw") -> bytes:
    """A multi-page TIFF, one frame per image (modes may differ between frames)."""
    buf = io.BytesIO()
    frames[0].save(buf, "TIFF", save_all=True, append_images=frames[1:], compression=compression)
    return buf.getvalue()


def write(directory: Path, name: str, data: bytes) -> Path:
    """Write ``data`` to ``directory/name`` and return the path."""
    path = Path(directory) / name
    path.write_bytes(data)
    return path

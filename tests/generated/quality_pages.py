"""The pages of the quality suite (tests/test_quality_suite.py): each kind of document an archive
scans, small (150-200 dpi, a few lines) so the whole set is read in seconds, made from the fonts
of Debian's fonts-noto-cjk (Sans and Serif) only, so every machine draws the same pixels.

Every sheet is at least MIN_SIDE px on its short side: RapidOCR's detector enlarges an image until
its short side is 736 px, so a strip of two lines 200 px high was detected at 2,960 x 736 (3-4 s
of CPU) where the same lines on a sheet 740 px high cost a quarter of that.

Each maker returns a :class:`QualityPage`: the image, the text drawn (lines joined by ``\\n``) and
whether it is Chinese (accuracy ignores whitespace) or Latin (spaces between words count).
"""
from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from . import documents, texts
from . import images as gi

SERIF_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSerifCJK-Regular.ttc",
)


@dataclass(frozen=True)
class QualityPage:
    kind: str
    image: Image.Image
    truth: str
    cjk: bool = True


@functools.cache
def serif_font(size: int) -> ImageFont.FreeTypeFont:
    """Noto Serif CJK SC (fonts-noto-cjk ships it beside the Sans): a pen-like face with stroke
    contrast, used for the handwriting-like card since a Kai font (fonts-arphic-ukai) is not part of
    the project's install."""
    path = next((p for p in SERIF_CANDIDATES if Path(p).is_file()), None)
    if path is None:  # other layouts: the Sans collection's folder holds the Serif one too
        path = str(gi.cjk_font_path()).replace("NotoSansCJK", "NotoSerifCJK")
    for index in range(10):
        f = ImageFont.truetype(path, size, index=index)
        if f.getname()[0] == "Noto Serif CJK SC":
            return f
    raise AssertionError(f"no Noto Serif CJK SC face in {path}")


MIN_SIDE = 740


def _sheet(lines: list[str], glyph: int, width: int, *, face: str = "SC", margin: int = 48,
           spacing: float = 0.7) -> Image.Image:
    """Lines on a white sheet ``width`` px wide and at least MIN_SIDE high."""
    f = gi.font(glyph, face)
    step = int(glyph * (1 + spacing))
    img = Image.new("L", (width, max(MIN_SIDE, 2 * margin + step * len(lines))), 255)
    draw = ImageDraw.Draw(img)
    for k, line in enumerate(lines):
        draw.text((margin, margin + k * step), line, fill=0, font=f)
    return img


# A sale contract's first page at ~150 dpi (30 px glyphs, about 14 pt). The paragraph at the bottom
# wraps at 20 characters, so 「三十日内付清首付款」 is cut by the page between 付 and 清.
CONTRACT_LINES = [
    "商品房买卖合同",
    "合同编号：HT-2024-0318",
    "买受人：欧阳明华  共有人：司马秀英",
    "房屋坐落：翡翠湾7栋2单元1801室",
    "买受人应当在签订本合同之日起三十日内付清首付款，"
    "逾期按日支付应付款万分之五的违约金。",
]
CONTRACT_WRAP = 20

# Its supplementary agreement (Serif face, 28 px glyphs): another code shape and a company.
SUPPLEMENT_LINES = [
    "补充协议",
    "协议编号：BC-2023-0456",
    "出卖人：深圳市华盛投资有限公司",
    "预售许可证号：深房许字2023075号",
    "车位编号：B2-117 管理费每月三百元",
]

# A visitor card filled in by hand (imitated): a name, a phone number, the card's questions.
CARD_LINES = ["姓名 诸葛晓东 电话 13912345678", "意向面积 九十平米 三室两厅", "年级 初二 班级 三班"]

# A visitor register lying on its side in the scanner.
REGISTER_LINES = ["来访客户登记表", "客户 慕容雨桐 电话 13800138000", "接待 置业顾问 张明 三月十八日"]


def contract_page() -> QualityPage:
    body = documents.wrap(CONTRACT_LINES[-1], CONTRACT_WRAP)
    lines = CONTRACT_LINES[:-1] + body
    return QualityPage("contract", _sheet(lines, 30, MIN_SIDE), "\n".join(lines))


def supplement_page() -> QualityPage:
    f = serif_font(28)
    step = int(28 * 1.7)
    img = Image.new("L", (MIN_SIDE, max(MIN_SIDE, 96 + step * len(SUPPLEMENT_LINES))), 255)
    draw = ImageDraw.Draw(img)
    for k, line in enumerate(SUPPLEMENT_LINES):
        draw.text((48, 48 + k * step), line, fill=0, font=f)
    return QualityPage("contract", img, "\n".join(SUPPLEMENT_LINES))


def receipt_page() -> QualityPage:
    """documents.RECEIPT_LINES (G1234, HT-2024-0012, No.0051971, 王建国) printed and photographed."""
    img = _sheet(documents.RECEIPT_LINES, 30, MIN_SIDE, margin=40, spacing=0.6)
    return QualityPage("receipt", documents.photographed(img), "\n".join(documents.RECEIPT_LINES))


def traditional_page() -> QualityPage:
    lines = texts.TRADITIONAL_LINES
    return QualityPage("Traditional", _sheet(lines, 32, MIN_SIDE, face="TC"), "\n".join(lines))


def handwriting_card(seed: int = 3) -> QualityPage:
    """The card written with Serif glyphs each sized, turned, shifted and inked a little differently,
    on ruled paper, photographed: an imitation of handwriting (no real handwritten scan here)."""
    img = documents.hand_lines(CARD_LINES, serif_font, size=36, width=820,
                               height=max(MIN_SIDE, 90 + 74 * len(CARD_LINES)), top=40, step=74, margin=24,
                               indent=16, rule_gap=12, rng=random.Random(seed))
    photo = documents.photographed(img, turn=0.8, blur=0.6, noise=12, ink=30, paper=225, quality=80, seed=seed)
    return QualityPage("handwriting-like", photo, "\n".join(CARD_LINES))


def rotated_scan() -> QualityPage:
    """The register scanned lying on its side (turned 90 degrees) and a little crooked (1 degree)."""
    page = _sheet(REGISTER_LINES, 30, MIN_SIDE)
    return QualityPage("rotated scan", gi.rotated(gi.rotated(page, 90), 1.0), "\n".join(REGISTER_LINES))


def noisy_scan() -> QualityPage:
    """Three lines of the filing rule photographed badly, as documents.noisy_lines (grey paper, blur,
    grain, JPEG 55), on a sheet."""
    lines = texts.SCAN_LINES[1:]
    img = documents.photographed(_sheet(lines, 30, MIN_SIDE, spacing=0.6), turn=2.0, blur=1.1, noise=30,
                                 ink=70, paper=190, quality=55)
    return QualityPage("noisy scan", img, "\n".join(lines))


def english_page() -> QualityPage:
    lines = texts.ENGLISH_LINES
    return QualityPage("English", _sheet(lines, 30, MIN_SIDE), "\n".join(lines), cjk=False)


MAKERS = {
    "contract": contract_page,
    "supplement": supplement_page,
    "receipt": receipt_page,
    "traditional": traditional_page,
    "card": handwriting_card,
    "register": rotated_scan,
    "noisy": noisy_scan,
    "english": english_page,
}

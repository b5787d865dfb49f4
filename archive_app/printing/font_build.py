"""Build the TrueType CJK font the printed PDFs embed, from Debian's Noto Sans CJK (SIL OFL 1.1).

Why a build step: reportlab embeds TrueType (``glyf``) fonts only, and every Noto Sans CJK file is
CFF-based (PostScript outlines; Debian's ``fonts-noto-cjk`` ships them as one ``.ttc``). This takes
the Simplified Chinese face, keeps the glyphs its character map reaches (every character it covers;
the vertical and variant glyphs only reachable through layout tables are left out: reportlab does not
shape text), and redraws each outline in quadratic curves (fontTools' cu2qu, within one font unit).
The result is a plain TrueType font that reportlab loads in about half a second and subsets per
document. The OFL allows the conversion of a font; the result keeps the licence text in its name
table and is named "Noto Sans CJK SC Archive", which avoids the fonts' Reserved Font Name ("Source").

Run by ``scripts/install-fonts.sh`` (``python -m archive_app.printing.font_build``); fontTools (MIT) is
needed only here.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

TTC_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
)
FACE = "Noto Sans CJK SC"
FAMILY = "Noto Sans CJK SC Archive"
PS_NAME = "NotoSansCJKsc-Regular"
MAX_ERR = 1.0  # font units (of 1000 per em): the quadratic outline stays within this of the cubic one


def find_source() -> str:
    """The installed Noto Sans CJK file holding the SC face, or SystemExit saying what to install."""
    for path in TTC_CANDIDATES:
        if Path(path).is_file():
            return path
    raise SystemExit("Noto Sans CJK not found: install Debian's fonts-noto-cjk (scripts/install-fonts.sh does)")


def _sc_face(path: str):
    from fontTools.ttLib import TTCollection, TTFont

    if not path.endswith(".ttc"):
        return TTFont(path)
    for face in TTCollection(path).fonts:
        if face["name"].getDebugName(4) == FACE:
            return face
    raise SystemExit(f"{path} has no face named {FACE!r}")


def build(source: str, out: str | Path) -> dict[str, float]:
    """Write the TrueType font converted from ``source`` to ``out`` (atomically); returns figures."""
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    started = time.perf_counter()
    src = _sc_face(source)
    cmap = src.getBestCmap()
    order_src = src.getGlyphOrder()
    rank = {name: i for i, name in enumerate(order_src)}
    kept = sorted(set(cmap.values()) - {".notdef"}, key=rank.__getitem__)
    order = [".notdef", *kept]
    glyph_set = src.getGlyphSet()
    hmtx = src["hmtx"].metrics
    glyphs = {}
    for name in order:
        pen = TTGlyphPen(None)
        # CFF contours run counter-clockwise; TrueType's fill rule wants them clockwise.
        glyph_set[name].draw(Cu2QuPen(pen, MAX_ERR, reverse_direction=True))
        glyphs[name] = pen.glyph()
    head, hhea, os2 = src["head"], src["hhea"], src["OS/2"]
    fb = FontBuilder(head.unitsPerEm, isTTF=True)
    fb.setupGlyphOrder(order)
    fb.setupCharacterMap(cmap)
    fb.setupGlyf(glyphs)
    fb.setupHorizontalMetrics({name: hmtx[name] for name in order})
    fb.setupHorizontalHeader(ascent=hhea.ascent, descent=hhea.descent, lineGap=hhea.lineGap)
    names = src["name"]
    fb.setupNameTable({
        "familyName": FAMILY,
        "styleName": "Regular",
        "psName": PS_NAME,
        "copyright": names.getDebugName(0) or "",
        "version": names.getDebugName(5) or "",
        "licenseDescription": names.getDebugName(13) or "SIL Open Font License 1.1",
        "licenseInfoURL": names.getDebugName(14) or "",
    })
    fb.setupOS2(sTypoAscender=os2.sTypoAscender, sTypoDescender=os2.sTypoDescender,
                sTypoLineGap=os2.sTypoLineGap, usWinAscent=os2.usWinAscent, usWinDescent=os2.usWinDescent,
                sxHeight=getattr(os2, "sxHeight", 0), sCapHeight=getattr(os2, "sCapHeight", 0),
                achVendID=os2.achVendID, fsType=0, ulUnicodeRange1=os2.ulUnicodeRange1,
                ulUnicodeRange2=os2.ulUnicodeRange2, ulUnicodeRange3=os2.ulUnicodeRange3,
                ulUnicodeRange4=os2.ulUnicodeRange4, ulCodePageRange1=os2.ulCodePageRange1,
                ulCodePageRange2=os2.ulCodePageRange2)
    fb.setupPost()
    fb.setupMaxp()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_suffix(".part")
    fb.save(str(part))
    part.replace(out)
    return {"glyphs": len(order), "characters": len(cmap), "seconds": round(time.perf_counter() - started, 1),
            "bytes": out.stat().st_size}


def main(argv: list[str] | None = None) -> int:
    """``python -m archive_app.printing.font_build [--force] [OUT]``: build unless it is there."""
    from archive_app.printing.fonts import default_font_path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=str(default_font_path()))
    parser.add_argument("--source", default=None, help="a Noto Sans CJK .ttc/.otf (default: Debian's)")
    parser.add_argument("--force", action="store_true", help="rebuild even if OUT exists")
    args = parser.parse_args(argv)
    if Path(args.out).is_file() and not args.force:
        print(f"font_build: {args.out} already built", file=sys.stderr)
        return 0
    figures = build(args.source or find_source(), args.out)
    print(f"font_build: {args.out}: {figures}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

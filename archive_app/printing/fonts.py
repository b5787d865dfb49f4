"""The CJK font every printed PDF embeds (certificate, hand-out slip, searchable copies' text layer).

One TrueType font, Noto Sans CJK SC converted by ``printing.font_build`` (SIL OFL 1.1), embedded by
reportlab as subsets of the glyphs a document uses; nothing relies on a reader's own fonts, so a
certificate prints the same anywhere. Where it lives: ``ARCHIVE_PDF_FONT`` (config ``PDF_FONT``), by
default beside the virtual environment that runs the app (``<prefix>/share/archive/fonts/``), where
``scripts/install-fonts.sh`` builds it.
"""
from __future__ import annotations

import sys
import threading
from pathlib import Path

FONT_NAME = "NotoSansCJKsc"
FILE_NAME = "NotoSansCJKsc-Regular.ttf"

_lock = threading.Lock()
_configured: str | None = None
_registered: str | None = None


class FontMissing(RuntimeError):
    """The embedded font has not been built on this machine."""


def default_font_path() -> Path:
    """Where ``scripts/install-fonts.sh`` puts the font: under the running interpreter's prefix."""
    return Path(sys.prefix) / "share" / "archive" / "fonts" / FILE_NAME


def configure(path: str | None) -> None:
    """Use the font at ``path`` (empty: the default); called once by the app factory."""
    global _configured
    _configured = path or None


def font_path() -> Path:
    """The font file in use."""
    return Path(_configured) if _configured else default_font_path()


def cjk_font() -> str:
    """Register the CJK font with reportlab (once per process) and return its name.

    Raises FontMissing when the file is not there: a document without its font would print
    wrongly, so none is made.
    """
    global _registered
    if _registered:
        return _registered
    with _lock:
        if _registered:
            return _registered
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.ttfonts import TTFont

        path = font_path()
        if not path.is_file():
            raise FontMissing(f"PDF font {path} is missing: run scripts/install-fonts.sh "
                              "(or set ARCHIVE_PDF_FONT to a TrueType CJK font)")
        pdfmetrics.registerFont(TTFont(FONT_NAME, str(path)))
        _registered = FONT_NAME
    return _registered

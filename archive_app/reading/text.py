"""Clean-up of OCR output text."""
from __future__ import annotations

import re
from dataclasses import dataclass

# Han ideographs (URO + ext. A + compatibility ideographs + ext. B..) and CJK punctuation / full-width forms.
_HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_CJK_PUNCT = r"\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65\u2014\u2026\u201c\u201d\u2018\u2019"
_CJK = _HAN + _CJK_PUNCT
# Horizontal whitespace (no line breaks) between two CJK characters, at least one of them Han or punctuation.
_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK}])[^\S\n]+(?=[{_CJK}])")
_HSPACE = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n{2,}")


def clean_ocr_text(s: str) -> str:
    """Strip spaces between Han characters (and between Han and CJK punctuation), normalise whitespace.

    Runs of spaces/tabs (including the ideographic space U+3000) become one ASCII space; line breaks
    are kept (``\\r\\n``/``\\r`` become ``\\n``); each line is trimmed and empty lines are dropped.
    """
    if not s:
        return ""
    s = s.replace("\r\n", "\n").replace("\r", "\n").replace("\u3000", " ")
    s = _HSPACE.sub(" ", s)
    s = _SPACE_BETWEEN_CJK.sub("", s)
    lines = [line.strip() for line in s.split("\n")]
    return "\n".join(line for line in lines if line)


def levenshtein(a: str, b: str) -> int:
    """Edit distance between two strings (insertions, deletions, substitutions)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def char_accuracy(ref: str, hyp: str, *, drop_space: bool = False) -> float:
    """1 - edit distance / reference length, whitespace runs collapsed (or dropped, for Chinese)."""
    norm = (lambda s: re.sub(r"\s+", "", s)) if drop_space else (lambda s: re.sub(r"\s+", " ", s).strip())
    ref, hyp = norm(ref), norm(hyp)
    return max(0.0, 1 - levenshtein(ref, hyp) / len(ref))


@dataclass(frozen=True)
class LaidLine:
    """One line of OCR text with where it lies on the page (pixels) and how many boxes made it."""

    text: str
    left: float
    right: float
    top: float
    bottom: float
    cells: int = 1  # boxes side by side in the row: more than one is a table or form row


# A line that may go on in the next: it ends in a Han character or a comma-like mark, not a full stop,
# colon or closing mark (after those a new line is a new thought, a list item or a table row).
_OPEN_END = re.compile(rf"[{_HAN}，、“‘（《]$")
_HAN_START = re.compile(rf"^[{_HAN}，、。；：！？”’）》]")
# A wrapped line fills its column: at least this many glyphs (line heights) wide.
REFLOW_MIN_GLYPHS = 10


def reflow_lines(lines: list[LaidLine]) -> str:
    """The lines as text, with a line break inside a Chinese sentence removed where the layout shows
    the line was wrapped by the page (so a phrase split over two lines is one phrase again).

    A break is removed only between two single-box lines when the first fills the column (reaches
    the right edge of the lines starting where it starts, at least REFLOW_MIN_GLYPHS glyphs wide) and
    ends in a Han character or a comma, the next starts with a Han character right under it (same
    left edge, or the first line indented), and no gap wider than a line lies between them. Table
    and form rows (several boxes side by side), short lines, headings and lines ending a sentence
    keep their break, so unrelated cells are never joined into one phrase.
    """
    out: list[str] = []
    for k, ln in enumerate(lines):
        out.append(ln.text)
        if k + 1 == len(lines):
            break
        nxt = lines[k + 1]
        out.append("" if _wrapped(ln, nxt, lines) else "\n")
    return "".join(out)


def _wrapped(ln: LaidLine, nxt: LaidLine, lines: list[LaidLine]) -> bool:
    if ln.cells != 1 or nxt.cells != 1:
        return False
    if not (_OPEN_END.search(ln.text) and _HAN_START.search(nxt.text)):
        return False
    h = max(1.0, min(ln.bottom - ln.top, nxt.bottom - nxt.top))
    if ln.right - ln.left < REFLOW_MIN_GLYPHS * h:
        return False
    if not 0 <= nxt.top - ln.top <= 2.2 * h:  # next line directly below
        return False
    if not -0.6 * h <= ln.left - nxt.left <= 2.6 * h:  # same left edge, or a first-line indent
        return False
    column_right = max(o.right for o in lines if abs(o.left - nxt.left) <= 2.6 * h and o.cells == 1)
    return ln.right >= column_right - 1.5 * h

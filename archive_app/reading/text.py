"""Clean-up of OCR output text."""
from __future__ import annotations

import re

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

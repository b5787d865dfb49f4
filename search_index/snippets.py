"""Snippets: a record's text around the first match, matches in ``<mark>``, HTML-safe.

Shared by both backends (Whoosh stores the content compressed, PostgreSQL as text).
"""
from __future__ import annotations

import html
import re
import zlib

from .analysis import _HAN_SPACE_RE

SNIPPET_CHARS = 120


def _normalise_with_map(text: str) -> tuple[str, list[int] | None]:
    """Normalised text and, per normalised char, its index in ``text`` (None = identity)."""
    import unicodedata

    from .analysis import t2s

    a = unicodedata.normalize("NFKC", text).lower()
    if len(a) == len(text):
        amap = None
    else:
        chars, amap = [], []
        for i, ch in enumerate(text):
            n = unicodedata.normalize("NFKC", ch).lower()
            chars.append(n)
            amap.extend([i] * len(n))
        a = "".join(chars)
    b = t2s(a)
    if len(b) != len(a):  # a phrase conversion changed the length: convert char by char
        b = "".join(t2s(ch) if len(t2s(ch)) == 1 else ch for ch in a)
    drops = [(m.start(), m.end()) for m in _HAN_SPACE_RE.finditer(b)]
    if not drops:
        return b, amap
    base = amap if amap is not None else list(range(len(b)))
    keep_chars, keep_map, prev = [], [], 0
    for s, e in drops:
        keep_chars.append(b[prev:s])
        keep_map.extend(base[prev:s])
        prev = e
    keep_chars.append(b[prev:])
    keep_map.extend(base[prev:])
    return "".join(keep_chars), keep_map


def _highlight(text: str, needles: list[str], width: int = SNIPPET_CHARS) -> str | None:
    norm, nmap = _normalise_with_map(text)
    spans: list[tuple[int, int]] = []
    for needle in {n for n in needles if n}:
        pat = re.escape(needle)
        for m in re.finditer(pat, norm):
            spans.append((m.start(), m.end()))
            if len(spans) > 200:
                break
    if not spans:
        return None
    spans.sort()

    def orig(i: int) -> int:
        return nmap[i] if nmap is not None else i

    ospans = [(orig(s), orig(e - 1) + 1) for s, e in spans]
    merged: list[list[int]] = []
    for s, e in ospans:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    first = merged[0][0]
    start = max(0, first - width // 3)
    end = min(len(text), start + width)
    out = ["…" if start > 0 else ""]
    pos = start
    for s, e in merged:
        if e <= start or s >= end:
            continue
        s, e = max(s, start), min(e, end)
        out.append(html.escape(text[pos:s]))
        out.append("<mark>" + html.escape(text[s:e]) + "</mark>")
        pos = e
    out.append(html.escape(text[pos:end]))
    if end < len(text):
        out.append("…")
    return "".join(out).replace("\f", " ").replace("\n", " ")


def make_snippet(stored: dict, needles: list[str]) -> str:
    """HTML-safe snippet of a Whoosh document's stored fields (see :func:`snippet_of`)."""
    blob = stored.get("content_z")
    content = zlib.decompress(blob).decode("utf-8") if blob else ""
    return snippet_of(content, stored.get("title") or "", stored.get("name") or "", needles)


def snippet_of(content: str, title: str, name: str, needles: list[str]) -> str:
    """HTML-safe snippet: content around the first match, else title, else the name."""
    if needles:
        for text in (content, title, name):
            if text:
                snip = _highlight(text, needles)
                if snip is not None:
                    return snip
    for text in (title, content[:SNIPPET_CHARS], name):
        if text:
            return html.escape(text).replace("\f", " ").replace("\n", " ")
    return ""

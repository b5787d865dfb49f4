"""Plain document-number lists of a bulk-written bigram field, beside a segment's Whoosh files.

Whoosh stores a term's postings as pickled, zlib-compressed blocks of 128 numbers: reading one
block costs ~17 us of Python whatever is asked of it, and a common bigram of a 50,000-record
segment has 300 of them. At a million records the address, project and given-name queries spent
most of their time there. When the bulk writer (fastwrite) inverts a ``bulk_keys`` field it has
every term's sorted numbers in one numpy array anyway, so it also writes them here, raw:

    [uint32 document numbers of every term, term after term]
    [uint32 packed bigram keys (schema.Analysed.keys), sorted]
    [uint64 start of each term's numbers, plus the end]
    [footer: b"SIL1", uint64 term count, uint64 number count]

A query reads a list with one ``pread`` into a numpy array and intersects with numpy. The file
is named like the segment's own files (``<segment id>.<field>.ids``), so Whoosh deletes it with
its segment; segments written by Whoosh's own writer (updates, merges) have none and are read
through Whoosh as before. The Whoosh postings stay complete: this is a faster path, not a
replacement.
"""
from __future__ import annotations

import os
import struct

import numpy as np

MAGIC = b"SIL1"
_FOOTER = struct.Struct("<4sQQ")


def extension(fieldname: str) -> str:
    return f".{fieldname}.ids"


def key_term(key: int) -> bytes:
    """The term (UTF-8 bytes) of a packed bigram key (first character << 16 | second, as
    ``schema.Analysed.keys`` packs them); key order is the terms' byte order."""
    return (chr(key >> 16) + chr(key & 0xFFFF)).encode("utf-8")


def term_key(tbytes: bytes) -> int | None:
    """The packed key of a bigram term (None for any other term: Latin words, one character)."""
    try:
        text = tbytes.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if len(text) != 2 or "a" <= text[0] <= "z":  # a Latin word ("dk") is not a bigram
        return None
    a, b = ord(text[0]), ord(text[1])
    if a > 0xFFFF or b > 0xFFFF:
        return None
    return (a << 16) | b


class IdListWriter:
    """Writes one segment's lists, window after window of sorted terms (see fastwrite)."""

    def __init__(self, f) -> None:
        self._f = f
        self._keys: list[np.ndarray] = []
        self._starts: list[np.ndarray] = []
        self._count = 0

    def add(self, keys: np.ndarray, starts: np.ndarray, ids: np.ndarray) -> None:
        """Terms ``keys`` (ascending, after any added before) whose numbers are
        ``ids[starts[i]:starts[i + 1]]`` (the last one up to the end of ``ids``)."""
        self._f.write(ids.astype("<u4", copy=False).tobytes())
        self._keys.append(keys.astype("<u4", copy=False))
        self._starts.append(starts.astype("<u8") + self._count)
        self._count += len(ids)

    def close(self) -> None:
        keys = np.concatenate(self._keys) if self._keys else np.zeros(0, "<u4")
        starts = np.concatenate(self._starts + [np.array([self._count], "<u8")])
        self._f.write(keys.tobytes())
        self._f.write(starts.astype("<u8", copy=False).tobytes())
        self._f.write(_FOOTER.pack(MAGIC, len(keys), self._count))
        self._f.close()


class IdLists:
    """One segment's lists: the keys and offsets in memory, a list read with ``pread``."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_RDONLY)
        try:
            size = os.fstat(self._fd).st_size
            if size < _FOOTER.size:
                raise ValueError(f"{path}: too short")
            magic, nterms, count = _FOOTER.unpack(os.pread(self._fd, _FOOTER.size,
                                                           size - _FOOTER.size))
            if magic != MAGIC or size != count * 4 + nterms * 12 + 8 + _FOOTER.size:
                raise ValueError(f"{path}: not an id-list file")
            off = count * 4
            self.keys = np.frombuffer(os.pread(self._fd, nterms * 4, off), "<u4")
            self.starts = np.frombuffer(os.pread(self._fd, (nterms + 1) * 8, off + nterms * 4),
                                        "<u8")
        except BaseException:
            self.close()
            raise

    def get(self, tbytes: bytes) -> np.ndarray | None:
        """The sorted document numbers of a bigram term (empty if absent); None if the term
        is not a bigram (not in these lists: ask Whoosh)."""
        key = term_key(tbytes)
        if key is None:
            return None
        i = int(np.searchsorted(self.keys, key))
        if i >= len(self.keys) or int(self.keys[i]) != key:
            return np.zeros(0, "<u4")
        a, b = int(self.starts[i]), int(self.starts[i + 1])
        return np.frombuffer(os.pread(self._fd, (b - a) * 4, a * 4), "<u4")

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self):
        if getattr(self, "_fd", -1) >= 0:
            self.close()


def open_lists(reader, fieldname: str) -> IdLists | None:
    """The lists of a leaf reader's segment for a field, or None (no file: a segment Whoosh
    wrote itself)."""
    segment = getattr(reader, "_segment", None)
    storage = getattr(reader, "_storage", None)
    fpath = getattr(storage, "_fpath", None)
    if segment is None or fpath is None:
        return None
    path = fpath(segment.make_filename(extension(fieldname)))
    if not os.path.exists(path):
        return None
    return IdLists(path)


def contains(ids: np.ndarray, cands: np.ndarray) -> np.ndarray:
    """The sorted ``cands`` present in the sorted ``ids`` (binary searches: for few
    candidates against a long list)."""
    if not len(ids) or not len(cands):
        return cands[:0]
    pos = np.searchsorted(ids, cands)
    np.minimum(pos, len(ids) - 1, out=pos)
    return cands[ids[pos] == cands]


def intersect(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Sorted intersection of two sorted unique arrays."""
    if len(a) > len(b):
        a, b = b, a
    if len(a) * 16 < len(b):
        return contains(b, a)
    return np.intersect1d(a, b, assume_unique=True)

"""What the executor keeps per leaf searcher (one segment of one commit, in one thread).

Documents of common bigrams ("客户" is in nearly every record), of each filter and of each
combination of filters are kept as sorted arrays of document numbers, so that the next query
reuses them instead of decoding posting blocks again; the leaf's ``all_runs`` column reader and
id-list files are opened once. A new commit means new searchers, so nothing here goes stale.
"""
from __future__ import annotations

from array import array
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

#: What one leaf searcher's cache may hold; the least recently used arrays go beyond it.
CACHE_BYTES = 32 * 1024 * 1024

#: Keys remembered by :meth:`LeafCache.seen_before` before that memory starts again.
SEEN_KEYS = 10_000


class LeafCache:
    """An LRU of document-number arrays (bounded by :data:`CACHE_BYTES`), and the leaf's open
    readers."""

    def __init__(self) -> None:
        self._d: OrderedDict[Hashable, array] = OrderedDict()
        self._bytes = 0
        self._seen: set[Hashable] = set()
        self.runs: Any = None  # the leaf's ``all_runs`` column reader, once opened
        self.idlists: dict[str, Any] = {}  # field -> the leaf's idlists.IdLists (None: none)

    def seen_before(self, key: Hashable) -> bool:
        """True from the second time ``key`` is asked about. Only what recurs is materialised:
        the first time, the query's other parts may leave only a few candidates to probe."""
        if key in self._seen:
            return True
        if len(self._seen) > SEEN_KEYS:
            self._seen.clear()
        self._seen.add(key)
        return False

    def get(self, key: Hashable) -> array | None:
        """The array kept under ``key``, or None."""
        ids = self._d.get(key)
        if ids is not None:
            self._d.move_to_end(key)
        return ids

    def put(self, key: Hashable, ids: array) -> None:
        """Keep a sorted array of document numbers under ``key`` (not if it alone is larger
        than the cache)."""
        size = _nbytes(ids)
        if size > CACHE_BYTES:
            return
        old = self._d.pop(key, None)
        if old is not None:
            self._bytes -= _nbytes(old)
        self._d[key] = ids
        self._bytes += size
        while self._bytes > CACHE_BYTES:
            _, old = self._d.popitem(last=False)
            self._bytes -= _nbytes(old)


def _nbytes(ids: array) -> int:
    return ids.itemsize * len(ids) + 100


def leaf_cache(searcher: Any) -> LeafCache:
    """The cache of a leaf searcher, created on first use; it lives as long as the searcher."""
    cache = getattr(searcher, "_search_index_cache", None)
    if cache is None:
        cache = LeafCache()
        searcher._search_index_cache = cache
    return cache

"""The changes this package makes to Whoosh when it is imported (``search_index/__init__``).

Two private methods of Whoosh's W3 codec are replaced; both are speed-ups that return what the
originals return:

* ``W3PerDocReader._cached_reader`` also remembers that a field has NO column (see
  :func:`_cached_reader`): a third of the indexing time was ``os.stat`` calls.
* ``W3LeafMatcher._read_ids`` decodes a posting block's ids in C (see :func:`_read_ids`): a
  third of the time of a query that reads long posting lists.

They were written against :data:`WHOOSH_VERSION` of :data:`WHOOSH_DIST` (pinned in pyproject).
tests/search/test_whoosh_patch.py pins that version and the source of every replaced method
(:data:`ORIGINALS`), so an upgrade of Whoosh fails there, loudly, before a patch silently
replaces code that has changed.

(fastwrite's hooks -- its pool installed on one writer, and ``patch_multiproc`` when a parallel
rebuild starts -- are not applied at import, and are tested against Whoosh's own writer.)
"""
from __future__ import annotations

from collections.abc import Callable
from itertools import accumulate

from whoosh.codec import whoosh3

#: The Whoosh distribution and release the replaced methods were read from.
WHOOSH_DIST = "whoosh-reloaded"
WHOOSH_VERSION = "2.7.5"

_MISSING = object()


def _unpatched(cls: type, name: str) -> Callable:
    f = cls.__dict__[name]
    return getattr(f, "_search_index_replaces", f)  # (this module imported again: the original)


#: ``"Class.method"`` -> Whoosh's own function, as it was before :func:`install`.
ORIGINALS: dict[str, Callable] = {
    "W3PerDocReader._cached_reader": _unpatched(whoosh3.W3PerDocReader, "_cached_reader"),
    "W3LeafMatcher._read_ids": _unpatched(whoosh3.W3LeafMatcher, "_read_ids"),
}


def _cached_reader(self, fieldname, column):
    """``W3PerDocReader._cached_reader`` that caches "no such column" as well.

    While a segment is written Whoosh asks ``doc_field_length`` for EVERY posting; for a field
    without lengths (not scorable, like the big ``all`` field) the original does not remember
    the negative answer and stats the column file each time. A segment's columns never change
    once written, so the answer cannot go stale.
    """
    readers = self._readers
    r = readers.get(fieldname, _MISSING)
    if r is _MISSING:
        r = readers[fieldname] = ORIGINALS["W3PerDocReader._cached_reader"](
            self, fieldname, column)
    return r


def _read_ids(self):
    """``W3LeafMatcher._read_ids`` summing the block's id deltas with ``itertools.accumulate``
    (C) rather than Whoosh's ``delta_decode`` generator (a Python step per id): same numbers."""
    if self._data is None:
        self._read_data()
    ids = self._data[0]
    self._ids = ids if self._byteids else tuple(accumulate(ids))


#: ``"Class.method"`` -> its replacement.
REPLACEMENTS: dict[str, Callable] = {
    "W3PerDocReader._cached_reader": _cached_reader,
    "W3LeafMatcher._read_ids": _read_ids,
}


def install() -> None:
    """Replace the methods of :data:`ORIGINALS` by :data:`REPLACEMENTS` (idempotent)."""
    for name, new in REPLACEMENTS.items():
        cls_name, method = name.split(".")
        new._search_index_replaces = ORIGINALS[name]
        setattr(getattr(whoosh3, cls_name), method, new)

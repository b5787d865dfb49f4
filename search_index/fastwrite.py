"""A faster posting pool for bulk (re)indexing with one Whoosh ``SegmentWriter``.

Whoosh's ``PostingPool`` keeps one Python tuple per posting, sorts ALL postings at commit and
spills sorted runs to disk (pickled) when ``limitmb`` is exceeded, then merges them -- that, and
the generic ``FieldWriter.add_postings`` loop, is most of the indexing time. Bulk indexing adds
documents in increasing document number, so each term's postings arrive already sorted: this
pool keeps, per (field, term), compact arrays (doc numbers, weights, value lengths) and one
bytearray of values, sorts only the distinct terms at flush, and feeds the codec's postings
writer directly. Postings out of document order (merging other segments into the writer) are
detected and sorted, so the result is the same as Whoosh's.

:func:`install` replaces the pool and the segment flush of one writer; the on-disk format is
Whoosh's own (W3 codec), readable by any Whoosh reader.

The big combined text field (``GramSet(bulk_keys=True)``) takes a third path: each document
gives its distinct bigrams as packed integer keys (numpy), the pool keeps ``key << 32 | docnum``
pairs and sorts them once at flush, and each term's blocks are written whole
(:func:`_write_id_blocks`); the same sorted numbers go to the segment's plain lists
(:mod:`search_index.idlists`), which queries read instead of the blocks.
"""
from __future__ import annotations

import heapq
import types
import zlib
from array import array
from pickle import dumps

import numpy as np
from whoosh import writing
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC
from whoosh.util.numeric import length_to_byte

from . import idlists
from .documents import fields_of

#: ``add_document(**{DOC_KEYWORD: index_doc})``: the writer turns the IndexDoc into fields itself
#: (with parallel writers: in the child process, not in the one feeding them)
DOC_KEYWORD = "_si_doc"


class InvertedPool:
    """Drop-in for ``whoosh.writing.PostingPool`` inside one ``SegmentWriter``."""

    def __init__(self) -> None:
        self.fieldnames: set[str] = set()
        self._fields: dict[str, dict[bytes, list]] = {}
        # fields given as packed bigram keys (add_keys): per field, its (key, docnum) pairs
        self._keyed: dict[str, PairBuffer] = {}
        self.nbytes = 0  # rough memory estimate of the pooled postings

    def add(self, item) -> None:
        fieldname, tbytes, docnum, weight, vbytes = item
        terms = self._fields.get(fieldname)
        if terms is None:
            terms = self._fields[fieldname] = {}
            self.fieldnames.add(fieldname)
        p = terms.get(tbytes)
        if p is None:
            p = terms[tbytes] = [array("I"), array("f"), array("I"), bytearray()]
            self.nbytes += 400 + len(tbytes)
        p[0].append(docnum)
        p[1].append(weight)
        if vbytes:
            p[2].append(len(vbytes))
            p[3] += vbytes
            self.nbytes += 20 + len(vbytes)
        else:
            p[2].append(0)
            self.nbytes += 20

    def add_sets(self, fieldname, docnum, grams, words) -> None:
        """All postings of one document's :class:`~search_index.schema.GramSet` field: bigrams
        (weight 1.0, no value: only the document number is kept) and Latin words (weight =
        count)."""
        terms = self._fields.get(fieldname)
        if terms is None:
            terms = self._fields[fieldname] = {}
            self.fieldnames.add(fieldname)
        get = terms.get
        nbytes = 0
        for g in grams:
            tbytes = g.encode("utf-8")
            p = get(tbytes)
            if p is None:
                p = terms[tbytes] = [array("I"), None, None, None]
                nbytes += 300 + len(tbytes)
            p[0].append(docnum)
        nbytes += 4 * len(grams)
        for w, n in words.items():
            tbytes = w.encode("utf-8")
            p = get(tbytes)
            if p is None:
                p = terms[tbytes] = [array("I"), array("f"), array("I"), bytearray()]
                nbytes += 400 + len(tbytes)
            elif p[1] is None:  # cannot happen (a word is never a bigram), kept for safety
                p[1] = array("f", [1.0]) * len(p[0])
                p[2] = array("I", [0]) * len(p[0])
                p[3] = bytearray()
            p[0].append(docnum)
            p[1].append(float(n))
            p[2].append(0)
            nbytes += 20
        self.nbytes += nbytes

    def add_keys(self, fieldname, docnum, keys: np.ndarray, words) -> None:
        """All postings of one document's ``bulk_keys`` :class:`~search_index.schema.GramSet`
        field: its distinct bigrams as packed keys (inverted at flush, see :class:`PairBuffer`)
        and its Latin words."""
        if len(keys):
            kd = self._keyed.get(fieldname)
            if kd is None:
                kd = self._keyed[fieldname] = PairBuffer()
                self.fieldnames.add(fieldname)
            kd.add(keys, docnum)
            self.nbytes += 8 * len(keys)
        if words:
            self.add_sets(fieldname, docnum, (), words)

    def iter_postings(self):
        """(fieldname, tbytes, docnum, weight, vbytes) in Whoosh's sorted order (for merges)."""
        for fieldname, tbytes, ids, weights, values in self._sorted():
            if weights is None:
                for d in (ids.tolist() if isinstance(ids, np.ndarray) else ids):
                    yield fieldname, tbytes, d, 1.0, b""
                continue
            for i in range(len(ids)):
                yield fieldname, tbytes, ids[i], weights[i], values[i]

    def _sorted(self, sink_for=None):
        """Every (field, term, ids, weights, values) in Whoosh's order. ``sink_for(fieldname)``
        gives an :class:`~search_index.idlists.IdListWriter` for a packed-key field's lists
        (or None)."""
        for fieldname in sorted(self.fieldnames):
            terms = self._fields.get(fieldname, {})
            listed = self._listed(terms)
            keyed = self._keyed.pop(fieldname, None)
            if keyed is not None:
                # bigram keys (Han/digit) and words (Latin) never share a term, unless
                # postings of this field also came the generic way (a merge): then no lists
                mixed = any(idlists.term_key(t) is not None for t in terms)
                sink = sink_for(fieldname) if sink_for is not None and not mixed else None
                listed = _combine(heapq.merge(listed, keyed.terms(sink), key=lambda t: t[0]))
            for tbytes, ids, weights, values in listed:
                yield fieldname, tbytes, ids, weights, values

    @staticmethod
    def _listed(terms):
        for tbytes in sorted(terms):
            ids, weights, lens, blob = terms[tbytes]
            if weights is None:  # ids only (GramSet bigram): weight 1.0, no values
                if len(ids) > 1 and ids != array("I", sorted(ids)):
                    ids = array("I", sorted(ids))
                yield tbytes, ids, None, None
                continue
            values = []
            pos = 0
            for n in lens:
                values.append(bytes(blob[pos:pos + n]))
                pos += n
            if len(ids) > 1 and ids != array("I", sorted(ids)):
                order = sorted(range(len(ids)), key=ids.__getitem__)
                ids = array("I", [ids[i] for i in order])
                weights = array("f", [weights[i] for i in order])
                values = [values[i] for i in order]
            yield tbytes, ids, weights, values

    def save(self) -> None:  # PostingPool API (multiprocessing writers only)
        raise NotImplementedError("InvertedPool is for single-process writers")

    def cleanup(self) -> None:
        self._fields = {}
        self._keyed = {}
        self.nbytes = 0


def _combine(items):
    """Terms from two sorted sources, one item per term (a term in both: its postings
    joined; ids-only only, the only kind two sources can share)."""
    prev = None
    for item in items:
        if prev is not None and prev[0] == item[0]:
            ids = np.union1d(np.asarray(prev[1], dtype=np.uint32),
                             np.asarray(item[1], dtype=np.uint32)).astype(np.uint32)
            prev = (item[0], ids, None, None)
            continue
        if prev is not None:
            yield prev
        prev = item
    if prev is not None:
        yield prev


class PairBuffer:
    """The postings of one packed-key field as ``key << 32 | docnum`` (uint64, 8 bytes a
    posting: a tenth of a Python posting), inverted by one in-place numpy sort at flush."""

    #: pairs gathered per block (8 MB): documents' small arrays are joined into blocks as they
    #: come, so that the flush never holds the pairs twice
    BLOCK = 1 << 20
    #: postings turned into terms at once after the sort (bounds the temporary arrays)
    WINDOW = 1 << 20

    def __init__(self) -> None:
        self._blocks: list[np.ndarray] = []
        self._pending: list[np.ndarray] = []
        self._npending = 0
        self.count = 0

    def add(self, keys: np.ndarray, docnum: int) -> None:
        pairs = keys.astype(np.uint64)
        pairs <<= np.uint64(32)
        pairs |= np.uint64(docnum)
        self._pending.append(pairs)
        self._npending += len(pairs)
        self.count += len(pairs)
        if self._npending >= self.BLOCK:
            self._blocks.append(np.concatenate(self._pending))
            self._pending = []
            self._npending = 0

    def _sorted_pairs(self) -> np.ndarray:
        if self._pending:
            self._blocks.append(np.concatenate(self._pending))
            self._pending = []
        out = np.empty(self.count, dtype=np.uint64)
        i = 0
        while self._blocks:  # copy and free block by block
            b = self._blocks.pop(0)
            out[i:i + len(b)] = b
            i += len(b)
        out.sort()
        return out

    def terms(self, sink=None):
        """(term bytes, sorted uint32 document numbers, None, None) in term order; the same
        into ``sink`` (an :class:`~search_index.idlists.IdListWriter`), closed at the end."""
        pairs = self._sorted_pairs()
        n = len(pairs)
        i = 0
        mask = np.uint64(0xFFFFFFFF)
        shift = np.uint64(32)
        while i < n:
            j = min(n, i + self.WINDOW)
            if j < n:  # end the window with a whole term
                last = int(pairs[j - 1] >> shift)
                j = n if last == 0xFFFFFFFF else \
                    int(np.searchsorted(pairs, np.uint64((last + 1) << 32)))
            win = pairs[i:j]
            k = (win >> shift).astype(np.uint32)
            ids = (win & mask).astype(np.uint32)
            starts = np.flatnonzero(np.concatenate(([True], k[1:] != k[:-1])))
            ends = np.append(starts[1:], len(k))
            if sink is not None:
                sink.add(k[starts], starts, ids)
            for key, a, b in zip(k[starts].tolist(), starts.tolist(), ends.tolist(), strict=True):
                yield idlists.key_term(key), ids[a:b], None, None
            i = j
        if sink is not None:
            sink.close()


_NO_LENGTHS = (length_to_byte(None), length_to_byte(0))


def _write_id_blocks(pw, ids: np.ndarray) -> None:
    """A whole ids-only term (weight 1.0, no values, no lengths) into a fresh
    ``W3PostingsWriter`` term: the blocks Whoosh's ``_write_block`` makes (pickled delta ids,
    zlib, block info, the codec's 128 postings a block), without its per-posting Python.
    ``finish_term`` then records the extent.

    (Measured at 1M records: 1,024-posting blocks made long lists ~3x cheaper to read whole but
    probes dearer -- p95 266 against 222 ms; the plain lists of idlists replaced both.)"""
    n = len(ids)
    lim = pw._blocklimit
    comp = pw._compression
    pf = pw._postfile
    ids64 = ids.astype(np.int64)
    deltas = np.diff(ids64, prepend=0)
    deltas[lim::lim] = ids64[lim::lim]  # each block starts from an absolute number
    d = deltas.tolist()
    lasts = ids64[np.minimum(np.arange(lim - 1, n + lim - 1, lim), n - 1)].tolist()
    if not pw._blockcount:
        pf.write(WHOOSH3_HEADER_MAGIC)
    minl, maxl = _NO_LENGTHS
    for b, s in enumerate(range(0, n, lim)):
        e = min(n, s + lim)
        data = dumps((tuple(d[s:e]), None, None), 2)
        if comp:
            data = zlib.compress(data, comp)
        info = dumps((e - s, lasts[b], 1.0, comp, minl, maxl), 2)
        length = len(info) + len(data)
        pf.write_int(-length if e == n else length)
        pf.write(info)
        pf.write(data)
    pw._blockcount += len(lasts)
    ti = pw._terminfo
    ti._weight += float(n)
    ti._df += n
    if ti._maxweight < 1.0:
        ti._maxweight = 1.0
    if ti._minid is None:
        ti._minid = int(ids64[0])
    ti._maxid = lasts[-1]


_ONES = array("f", [1.0]) * 4096


def _add_many(pw, ids, weights, values) -> None:
    """``W3PostingsWriter.add_posting`` for a whole term without lengths, block by block."""
    blocklimit = pw._blocklimit
    n = len(ids)
    i = 0
    while i < n:
        room = blocklimit - len(pw._ids)
        if room <= 0:
            pw._write_block()
            continue
        j = min(n, i + room)
        pw._ids.extend(ids[i:j])
        if weights is None:  # ids only: weight 1.0, no values
            pw._weights.extend(_ONES[:j - i])
            if pw._maxweight < 1.0:
                pw._maxweight = 1.0
            i = j
            continue
        w = weights[i:j]
        pw._weights.extend(w)
        mw = max(w)
        if mw > pw._maxweight:
            pw._maxweight = mw
        pw._values.extend(v for v in values[i:j] if v)
        i = j


def _flush_segment(self) -> None:
    """``SegmentWriter._flush_segment`` writing straight from the :class:`InvertedPool`."""
    self.perdocwriter.close()
    pdr = self.per_document_reader() if self.codec.length_stats else None
    fw = self.fieldwriter
    schema = self.schema
    lastfn = None
    dfl = None

    def sink_for(fieldname):
        return idlists.IdListWriter(
            self.newsegment.create_file(self.storage, idlists.extension(fieldname)))

    for fieldname, tbytes, ids, weights, values in self.pool._sorted(sink_for):
        if fieldname != lastfn:
            if lastfn is not None:
                fw.finish_field()
            fieldobj = schema[fieldname]
            fw.start_field(fieldname, fieldobj)
            dfl = pdr.doc_field_length if (pdr is not None and fieldobj.scorable) else None
            lastfn = fieldname
        fw.start_term(tbytes)
        pw = fw._postwriter
        add = pw.add_posting
        if weights is None and isinstance(ids, np.ndarray):
            _write_id_blocks(pw, ids)
        elif dfl is None or weights is None:
            _add_many(pw, ids, weights, values)
        else:
            for i in range(len(ids)):
                d = ids[i]
                add(d, weights[i], values[i], dfl(d, fieldname))
        fw.finish_term()
    if lastfn is not None:
        fw.finish_field()
    fw.close()
    if pdr is not None:
        pdr.close()


#: Rough pool bytes per indexed record (1.5 KB of text): sizes the batches of parallel writers.
POOL_BYTES_PER_DOC = 8 * 1024


class FastSegmentWriter(writing.SegmentWriter):
    """``SegmentWriter`` with the fast pool when created with ``search_index_fast_pool=True``.

    Whoosh's multiprocessing writer creates its sub-writers (in the child processes) through the
    module global ``whoosh.multiproc.SegmentWriter``; :func:`patch_multiproc` points it here, so
    ``ix.writer(procs=N, multisegment=True, search_index_fast_pool=True)`` gives every child the
    fast pool. Without the keyword it is a plain ``SegmentWriter``.
    """

    def __init__(self, ix, search_index_fast_pool=False, **kwargs):
        # not super(): MpWriter.__init__ calls ``SegmentWriter.__init__(self, ...)`` by the
        # patched global name with an MpWriter instance
        writing.SegmentWriter.__init__(self, ix, **kwargs)
        if search_index_fast_pool and type(self) is FastSegmentWriter:
            install(self)


def patch_multiproc() -> None:
    from whoosh import multiproc

    multiproc.SegmentWriter = FastSegmentWriter


def install(writer) -> bool:
    """Give a plain ``SegmentWriter`` the fast pool; returns False (and changes nothing) else."""
    if type(writer) not in (writing.SegmentWriter, FastSegmentWriter) or \
            not hasattr(writer, "_flush_segment"):
        return False
    if not hasattr(writer.fieldwriter, "_postwriter"):  # not the W3 codec
        return False
    writer.pool.cleanup()
    writer.pool = InvertedPool()
    writer._flush_segment = types.MethodType(_flush_segment, writer)
    # fields that give their postings as sets of terms (GramSet, CharSet) and need nothing
    # else from the writer (not stored, not scorable, no vectors, no columns) skip Whoosh's
    # per-posting loop
    direct = [(name, f) for name, f in writer.schema.items()
              if hasattr(f, "term_sets") and not f.stored and not f.scorable
              and not f.vector and not f.column_type and not f.separate_spelling()]
    if direct:
        writer._si_add_document = writer.add_document
        writer._si_direct = direct
        writer.add_document = types.MethodType(_add_document, writer)
    return True


def _add_document(self, **fields) -> None:
    doc = fields.pop(DOC_KEYWORD, None)
    if doc is not None:  # an IndexDoc sent as is: analysed here, in the writer process
        fields = fields_of(doc)
    docnum = self.docnum
    todo = []
    for name, f in self._si_direct:
        value = fields.pop(name, None)
        if value:
            todo.append((name, f, value))
    self._si_add_document(**fields)  # stored fields, columns, the other postings; docnum += 1
    pool = self.pool
    for name, f, value in todo:
        if getattr(f, "bulk_keys", False):
            pool.add_keys(name, docnum, *f.term_keys(value))
        else:
            pool.add_sets(name, docnum, *f.term_sets(value))

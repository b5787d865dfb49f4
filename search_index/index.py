"""The search index: a Whoosh index folder derived from the database.

Concurrency
-----------
* Writes go through Whoosh's file lock (one writer at a time across processes). A busy lock is
  retried with exponential back-off for ``lock_timeout`` seconds, then :class:`IndexBusy` is raised.
  Inside one process a ``threading.Lock`` also serialises writers.
* Searches run concurrently with a writer: every thread keeps its own Whoosh ``Searcher`` (Whoosh
  searchers share file handles and are not safe to use from two threads at once) and refreshes it
  before each search, so a search sees the last committed state. A ``SearchIndex`` object is safe
  to share between threads.
* The permission filter is a set of document numbers per leaf (segment), computed once per
  (searcher, access); every query is evaluated *within* it: totals, pages and snippets never
  include a forbidden record, and no forbidden record is ever checked or scored.

Performance notes (schema version 4; version 5 added the number and code keys and customers)
--------------------------------------------------------------------------------------------
* Files: segments are written as separate files (no compound ``.seg``); posting and term files
  are read through ``mmap``, the big per-document columns (stored fields, ``all_runs``) through
  ``pread`` (:class:`MmapFileStorage`): Whoosh reads a compound segment by copying each of its
  sub-files into a BytesIO, i.e. one full copy of the index in RAM per searcher (per thread).
* Execution: set-at-a-time (:mod:`search_index.execute`), not Whoosh's collector, which moved
  and scored every match one document at a time; the total is exact.
* Text fields hold bigrams without positions (posting blocks of document numbers only); exact
  substrings are checked on the ``all_runs`` column (the record's Han/digit runs in UTF-16, not
  compressed) for the documents holding the selective bigrams. Filters are cached document
  arrays (planning.CachedFilter, kept per leaf searcher: :mod:`search_index.cache`).
* Bulk writes: :mod:`search_index.fastwrite` (in-memory inverted pool, direct segment flush);
  with ``procs > 1`` Whoosh's multiprocessing writer gives each child the same pool.
"""
from __future__ import annotations

import contextlib
import gc
import json
import mmap
import os
import random
import threading
import time
import warnings
from pathlib import Path
from typing import Iterable, Iterator

from whoosh import index as windex
from whoosh import query as wq
from whoosh import writing
from whoosh.filedb.filestore import FileStorage
from whoosh.filedb.structfile import StructFile

from . import execute, fastwrite
from .analysis import normalise
from .documents import CUSTOMER_SECRECY, CustomerDoc, IndexDoc, customer_rid, fields_of
from .execute import Leaf
from .planning import Boosted, Verified, customer_permission_query, filter_query, permission_query, plan_text
from .requests import Access, Hit, SearchRequest, SearchResult
from .schema import SCHEMA_VERSION, make_schema
from .snippets import make_snippet

VERSION_FILE = "SCHEMA_VERSION"
CHECKPOINT_FILE = "reindex_checkpoint.json"
INDEX_NAME = "MAIN"


class IndexDamaged(Exception):
    """The index folder exists but cannot be read. Nothing has been deleted."""


class IndexBusy(Exception):
    """Another writer held the index lock for longer than the timeout."""


class _MmapStructFile(StructFile):
    """A read-only index file over ``mmap``: reads are memory copies, not seek+read syscalls,
    and the pages are the OS page cache, shared by every searcher (no per-searcher copy)."""

    def get(self, position, length):
        return self.file[position:position + length]


class _PreadStructFile(StructFile):
    """A read-only index file read with ``os.pread`` (one positionless syscall, thread-safe).

    For the big per-document columns (stored fields, ``all_runs``): a query reads a few
    scattered values of them, and mapping them would count every page ever touched in the
    process's RSS (2.1 GB of mapped index files after the 1M benchmark); read this way the
    pages stay in the OS page cache, shared and reclaimable, outside the RSS.
    """

    def get(self, position, length):
        return os.pread(self._fd, length, position)

    def get_array(self, position, typecode, length):
        self.seek(position)  # once per column reader (its lengths/offsets): plain read
        return self.read_array(typecode, length)


#: Index files read with ``pread`` instead of ``mmap`` (see :class:`_PreadStructFile`).
PREAD_SUFFIXES = ("._stored.col", ".all_runs.col")


class MmapFileStorage(FileStorage):
    """Whoosh's FileStorage, opening the files it reads through :class:`_MmapStructFile`
    (posting and term files: read all over by every query) or :class:`_PreadStructFile`
    (the big per-document columns, see :data:`PREAD_SUFFIXES`).

    (Whoosh's own mmap path exists only for compound segment files, and there it copies every
    sub-file into a BytesIO.) Segment files are immutable once committed; the TOC is replaced
    by rename, so a map never sees a file change under it.
    """

    def open_file(self, name, **kwargs):
        if name.endswith(PREAD_SUFFIXES):
            f = open(self._fpath(name), "rb")
            sf = _PreadStructFile(f, name=name, **kwargs)
            sf._fd = f.fileno()
            return sf
        with open(self._fpath(name), "rb") as f:
            try:
                mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            except (ValueError, OSError):  # empty file (or no mmap): plain reads
                return super().open_file(name, **kwargs)
        return _MmapStructFile(mm, name=name, **kwargs)


def _has_index_files(path: Path) -> bool:
    return any(p.suffix in (".toc", ".seg", ".trm", ".pst", ".fdt") for p in path.iterdir())


def _merge_segments_with_deletions(writer, segments):
    """Whoosh merge policy: copy the live documents of segments with deletions into the new one."""
    from whoosh.reading import SegmentReader

    keep = []
    for seg in segments:
        if seg.has_deletions():
            reader = SegmentReader(writer.storage, writer.schema, seg)
            writer.add_reader(reader)
            reader.close()
        else:
            keep.append(seg)
    return keep


class SearchIndex:
    def __init__(self, path: Path, ix, needs_rebuild: bool, lock_timeout: float):
        self.path = path
        self._ix = ix
        self.needs_rebuild = needs_rebuild
        self.lock_timeout = lock_timeout
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._searchers: dict[int, object] = {}  # thread id -> its searcher, for close()
        self._searchers_lock = threading.Lock()

    # -- opening --------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike, lock_timeout: float = 30.0) -> "SearchIndex":
        """Open or create the index in ``path``.

        A folder with another schema version gets a new empty index and ``needs_rebuild=True``.
        An unreadable index raises :class:`IndexDamaged`; its files are left as they are.
        """
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        vfile = path / VERSION_FILE
        stored = None
        if vfile.exists():
            try:
                stored = int(vfile.read_text().strip())
            except ValueError as exc:
                raise IndexDamaged(f"{vfile}: unreadable schema version: {exc}") from exc
        exists = windex.exists_in(str(path), indexname=INDEX_NAME)  # (plain reads: a probe)
        if stored is None and not exists and not _has_index_files(path):
            ix = cls._create(path)
            return cls(path, ix, needs_rebuild=False, lock_timeout=lock_timeout)
        if stored != SCHEMA_VERSION:
            # derived data of an older (or unknown) schema: start empty, let the app reindex
            ix = cls._create(path)
            return cls(path, ix, needs_rebuild=True, lock_timeout=lock_timeout)
        if not exists:
            raise IndexDamaged(f"{path}: schema version {stored} recorded but no readable table "
                               "of contents (index files missing or damaged)")
        reason = None
        # Whoosh leaves file objects open when it fails on a damaged segment: they are closed
        # (silently) when the failure's traceback is dropped, inside this block.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            try:
                ix = MmapFileStorage(str(path)).open_index(indexname=INDEX_NAME)
                cls._check(ix)
            except IndexDamaged:
                raise
            except Exception as exc:  # Whoosh raises many kinds on corrupt files
                reason = f"{path}: {type(exc).__name__}: {exc}"
            if reason is not None:
                gc.collect()
        if reason is not None:
            raise IndexDamaged(reason)
        return cls(path, ix, needs_rebuild=False, lock_timeout=lock_timeout)

    @staticmethod
    def _create(path: Path):
        ix = MmapFileStorage(str(path)).create_index(make_schema(), indexname=INDEX_NAME)
        tmp = path / (VERSION_FILE + ".tmp")
        tmp.write_text(f"{SCHEMA_VERSION}\n")
        os.replace(tmp, path / VERSION_FILE)
        return ix

    @staticmethod
    def _check(ix) -> None:
        """Read every segment's directory, term index and last stored document."""
        if ix.schema.names() != make_schema().names():
            raise IndexDamaged("schema in the index does not match the code")
        with ix.reader() as reader:
            n = reader.doc_count_all()
            for fname in ("rid", "all", "nums"):
                if fname in reader.schema:
                    for _ in zip(range(3), reader.lexicon(fname), strict=False):
                        pass
            if n:
                for sub, _offset in reader.leaf_readers():
                    last = sub.doc_count_all() - 1
                    if last >= 0:
                        sub.stored_fields(last)
                        sub.stored_fields(0)

    # -- searchers ------------------------------------------------------------------------

    def _searcher(self):
        loc = self._local
        s = getattr(loc, "searcher", None)
        if s is not None and self._ix.latest_generation() != s.reader().generation():
            # a new commit: open a new searcher. (Whoosh's refresh() reuses segment readers and
            # can keep a segment's old deletions, so it is not used.)
            s.close()
            s = None
        if s is None:
            s = loc.searcher = self._ix.searcher()
            loc.allowed = {}
            with self._searchers_lock:
                old = self._searchers.get(threading.get_ident())
                self._searchers[threading.get_ident()] = s
            if old is not None and old is not s and not old.is_closed:
                # a finished thread whose id was reused left its searcher behind
                with contextlib.suppress(Exception):
                    old.close()
        return s

    def _allowed(self, searcher, access: Access | None,
                 customers: bool = False) -> list[tuple[Leaf, int, set[int]]]:
        """Per leaf (segment): the leaf, its document offset and the leaf's document numbers
        the user may see -- records, or with ``customers`` customer documents (``access``
        None: all of them) -- computed once per searcher and access; deleted documents excluded."""
        cache = self._local.allowed
        key = (customers, access.key() if access is not None else None)
        leaves = cache.get(key)
        if leaves is None:
            pq = customer_permission_query(access) if customers else permission_query(access)
            leaves = []
            for sub, offset in searcher.leaf_searchers():
                leaf = Leaf.of(sub)
                ids = execute.evaluate(pq, leaf, None).ids if pq is not wq.NullQuery else set()
                if ids and sub.reader().has_deletions():  # postings still list deleted docs
                    ids = {d for d in ids if not sub.reader().is_deleted(d)}
                leaves.append((leaf, offset, ids))
            if len(cache) > 64:
                cache.clear()
            cache[key] = leaves
        return leaves

    def close(self) -> None:
        """Close the searchers of every thread (call at shutdown; the object stays usable)."""
        with self._searchers_lock:
            searchers, self._searchers = list(self._searchers.values()), {}
        for s in searchers:
            with contextlib.suppress(Exception):
                s.close()
        self._local = threading.local()

    def doc_count(self) -> int:
        """How many records the index holds (customer documents not counted)."""
        s = self._searcher()
        return s.doc_count() - sum(len(ids) for _, _, ids in self._allowed(s, None, customers=True))

    # -- writing --------------------------------------------------------------------------

    @contextlib.contextmanager
    def _writer(self, **kwargs) -> Iterator[writing.IndexWriter]:
        # Separate segment files, not one compound file: Whoosh reads a compound segment through
        # mmap + BytesIO, i.e. it COPIES every sub-file into memory for every searcher (per
        # thread): RSS grew by the index size per searching thread.
        kwargs.setdefault("compound", False)
        with self._write_lock:
            deadline = time.monotonic() + self.lock_timeout
            delay = 0.02
            while True:
                try:
                    w = self._ix.writer(**kwargs)
                    break
                except windex.LockError:
                    if time.monotonic() >= deadline:
                        raise IndexBusy(f"{self.path}: another writer holds the index lock "
                                        f"(waited {self.lock_timeout:.0f} s)") from None
                    time.sleep(delay * (0.5 + random.random()))
                    delay = min(delay * 2, 1.0)
            try:
                yield w
            except BaseException:
                w.cancel()
                raise

    def add_or_update(self, docs: Iterable[IndexDoc | CustomerDoc]) -> int:
        """Index (or replace) records by record_id and customers by customer_id. Idempotent.
        Returns how many."""
        latest: dict[str, dict] = {}
        for d in docs:
            f = fields_of(d)
            latest[f["rid"]] = f
        if not latest:
            return 0
        with self._writer() as w:
            for f in latest.values():
                w.update_document(**f)
            w.commit()
        return len(latest)

    def delete_customers(self, customer_ids: Iterable[int]) -> int:
        """Remove customers' own documents (not their records')."""
        return self.delete(customer_rid(c) for c in customer_ids)

    def delete_all_customers(self) -> int:
        """Remove every customer's own document (a rebuild writes them again)."""
        with self._writer() as w:
            n = w.delete_by_term("secrecy", CUSTOMER_SECRECY) or 0
            w.commit()
        return n

    def delete(self, record_ids: Iterable[int | str]) -> int:
        """Remove records by record_id (or any document by its ``rid``)."""
        ids = {str(r) for r in record_ids}
        if not ids:
            return 0
        with self._writer() as w:
            n = 0
            for r in ids:
                n += w.delete_by_term("rid", str(r)) or 0
            w.commit()
        return n

    def clear(self) -> None:
        """Remove every document (under the writer lock) and the reindex checkpoint."""
        with self._writer() as w:
            w.commit(mergetype=writing.CLEAR)
        with contextlib.suppress(FileNotFoundError):
            (self.path / CHECKPOINT_FILE).unlink()

    def optimize(self) -> None:
        with self._writer() as w:
            w.commit(optimize=True)

    def purge(self, record_ids: Iterable[int], customer_ids: Iterable[int] = ()) -> int:
        """Delete records and rewrite every segment that holds deleted documents.

        A plain delete only marks documents deleted: their terms and stored text stay in the
        segment files until a merge. Destruction must leave no byte behind, so the segments
        with deletions are rewritten (cost: the size of those segments) and their files removed.
        """
        ids = {str(int(r)) for r in record_ids} | {customer_rid(c) for c in customer_ids}
        with self._writer() as w:
            n = sum(w.delete_by_term("rid", r) or 0 for r in ids)
            w.commit(mergetype=_merge_segments_with_deletions)
        return n

    @contextlib.contextmanager
    def bulk_writer(self, limitmb: int = 256, commit_every: int = 50_000, update: bool = False,
                    procs: int = 1, optimize: bool = False) -> Iterator["BulkWriter"]:
        """A batched writer for rebuilds, holding the lock for its whole life.

        Memory is bounded by ``limitmb`` (Whoosh spills sorted runs to disk). Every
        ``commit_every`` documents it commits (without merging) and records the highest committed
        record_id in a checkpoint, so an interrupted ``archive reindex`` resumes from
        :meth:`reindex_checkpoint`. With ``update=False`` documents are added without looking for
        older versions (fast; for an empty index, or when resuming past the checkpoint).
        """
        bw = BulkWriter(self, limitmb, commit_every, update, procs, optimize)
        try:
            yield bw
            bw.finish()
        except BaseException:
            bw.abort()
            raise

    def reindex_checkpoint(self) -> int | None:
        """Highest record_id committed by an unfinished bulk rebuild, or None."""
        try:
            return int(json.loads((self.path / CHECKPOINT_FILE).read_text())["last_record_id"])
        except (FileNotFoundError, KeyError, ValueError):
            return None

    def _write_checkpoint(self, last: int | None) -> None:
        f = self.path / CHECKPOINT_FILE
        if last is None:
            with contextlib.suppress(FileNotFoundError):
                f.unlink()
            return
        tmp = f.with_suffix(".tmp")
        tmp.write_text(json.dumps({"last_record_id": last}))
        os.replace(tmp, f)

    # -- searching ------------------------------------------------------------------------

    def search(self, req: SearchRequest, access: Access) -> SearchResult:
        page = max(1, int(req.page))
        per_page = max(1, min(int(req.per_page), 200))
        result = SearchResult(total=0, page=page, per_page=per_page)
        s = self._searcher()
        leaves = self._allowed(s, access)
        if not any(ids for _, _, ids in leaves):
            return result
        plan = plan_text(req.text)
        parts = [q for q in (plan.query, filter_query(req)) if q is not None]
        if any(q is wq.NullQuery for q in parts):
            return result
        q = wq.And(parts) if len(parts) > 1 else (parts[0] if parts else wq.Every())
        if plan.verify:
            q = Verified(q, plan.verify)  # exact substrings, checked last (after the filters)
        by_date = req.sort == "date"
        if plan.boost is not None and not by_date:
            q = Boosted(q, plan.boost)  # boosts looked at only on the documents that match
        limit = page * per_page
        # set-at-a-time, leaf by leaf, within the user's documents: the total is exact and no
        # forbidden record is ever looked at (see execute)
        best: list[tuple[float, int]] = []
        for leaf, offset, allowed in leaves:
            if not allowed:
                continue
            r = execute.evaluate(q, leaf, allowed)
            if not r.ids:
                continue
            result.total += len(r.ids)
            if by_date:
                best.extend(execute.top_by_date(r, leaf, offset, limit))
            else:
                best.extend((-score, d) for score, d in execute.top_by_score(r, offset, limit))
        best.sort()
        start = (page - 1) * per_page
        for key, docnum in best[start:limit]:
            stored = s.stored_fields(docnum)
            score = 0.0 if by_date else -key
            result.hits.append(Hit(record_id=int(stored["rid"]), score=float(score),
                                   snippet=make_snippet(stored, plan.needles)))
        return result


    def search_customers(self, text: str, access: Access, limit: int = 5) -> list[int]:
        """Ids of the customers ``access`` may see whose name (Han, pinyin), phone, ID number
        or 客户号 matches ``text``, best first (at most ``limit``)."""
        plan = plan_text(text)
        if plan.query is None or plan.query is wq.NullQuery:
            return []
        s = self._searcher()
        leaves = self._allowed(s, access, customers=True)
        q = plan.query
        if plan.verify:
            q = Verified(q, plan.verify)
        if plan.boost is not None:
            q = Boosted(q, plan.boost)
        best: list[tuple[float, int]] = []
        for leaf, offset, allowed in leaves:
            if allowed:
                r = execute.evaluate(q, leaf, allowed)
                if r.ids:
                    best.extend((-score, d) for score, d in execute.top_by_score(r, offset, limit))
        best.sort()
        return [int(s.stored_fields(d)["rid"][1:]) for _, d in best[:limit]]


class BulkWriter:
    def __init__(self, index: SearchIndex, limitmb: int, commit_every: int, update: bool,
                 procs: int = 1, optimize: bool = False):
        self._index = index
        self._limitmb = limitmb
        self._optimize = optimize
        self._wargs = {"limitmb": limitmb}
        if procs > 1:
            # Whoosh's multiprocessing writer, each child with the fast pool and its own segment;
            # children cannot report their pool size, so commit often enough to bound it
            fastwrite.patch_multiproc()
            self._wargs.update(procs=procs, multisegment=True, search_index_fast_pool=True)
            per_proc = max(1000, limitmb * 1024 * 1024 // fastwrite.POOL_BYTES_PER_DOC)
            commit_every = min(commit_every, per_proc * procs)
        self._commit_every = commit_every
        self._procs = procs
        self._update = update
        # single process: the fast in-memory pool (fastwrite), flushed as a segment whenever it
        # holds about limitmb of postings
        self._limit_bytes = limitmb * 1024 * 1024
        self._open()
        self._pending = 0
        self._last: int | None = None
        self.added = 0

    def add(self, docs: Iterable[IndexDoc]) -> None:
        for d in docs:
            if self._update:
                self._w.update_document(**fields_of(d))
            elif self._fast:
                self._w.add_document(**{fastwrite.DOC_KEYWORD: d})
            else:
                self._w.add_document(**fields_of(d))
            if isinstance(d, IndexDoc):  # the checkpoint counts records
                self._last = d.record_id if self._last is None else max(self._last, d.record_id)
            self._pending += 1
            self.added += 1
            if self._pending >= self._commit_every or \
                    (self._procs == 1 and self._fast and self._w.pool.nbytes > self._limit_bytes):
                self._commit(checkpoint=True)

    def _open(self) -> None:
        self._cm = self._index._writer(**self._wargs)
        self._w = self._cm.__enter__()
        # every writer process has the fast pool (it also takes IndexDocs as they are)
        self._fast = fastwrite.install(self._w) or self._procs > 1

    def _commit(self, checkpoint: bool) -> None:
        self._w.commit(merge=False)
        self._cm.__exit__(None, None, None)  # releases the in-process lock
        self._cm = None
        self._pending = 0
        if checkpoint:
            self._index._write_checkpoint(self._last)
        # commit() released Whoosh's lock too: take a new writer (and the locks) for the rest
        self._open()

    def finish(self) -> None:
        """Commit what is left, merge the segments into one, drop the checkpoint."""
        self._w.commit(merge=False)
        self._cm.__exit__(None, None, None)
        self._cm = None
        if self._optimize:
            with self._index._writer() as w:
                w.commit(optimize=True)
        self._index._write_checkpoint(None)

    def abort(self) -> None:
        if self._cm is not None:
            with contextlib.suppress(Exception):
                self._w.cancel()
            with contextlib.suppress(Exception):
                self._cm.__exit__(None, None, None)
            self._cm = None


__all__ = ["SearchIndex", "SearchResult", "Hit", "IndexDamaged", "IndexBusy", "normalise"]

"""The Whoosh schema of the customer-records index and its version.

Bump :data:`SCHEMA_VERSION` whenever the schema, the analysis (normalisation, tokens, pinyin keys)
or the meaning of a field changes: an index folder with another version is rebuilt empty and
reported as ``needs_rebuild`` so that the app reindexes from the database.
"""
from __future__ import annotations

import numpy as np
from whoosh import analysis as wanalysis
from whoosh import columns, fields, formats
from whoosh.util.numlists import GrowableArray

from .analysis import FIELD_SEPARATOR, bigram_tokens, bigrams, code_keys, normalise, run_chars, run_text, split_runs

SCHEMA_VERSION = 5


class BigramTokenizer(wanalysis.Tokenizer):
    """Whoosh tokenizer over :func:`search_index.analysis.bigram_tokens`: the analyzer Whoosh's
    field types require.

    Neither indexing nor searching goes through it (:class:`GramSet` and :class:`CharSet` build
    their postings directly, several times faster than a Token object per bigram). It stays,
    under this name and module, because every index's table of contents holds the pickled
    schema, this class included: renaming it would make existing indexes unreadable.
    """

    def __eq__(self, other):
        return other.__class__ is self.__class__

    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True,
                 start_pos=0, start_char=0, tokenize=True, mode="", **kwargs):
        t = wanalysis.Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        for text, pos in bigram_tokens(normalise(value)):
            t.text = text
            t.boost = 1.0
            t.stopped = False
            if keeporiginal:
                t.original = text
            if positions:
                t.pos = start_pos + pos
            yield t


class Analysed:
    """One field value, analysed: its Han/digit runs and Latin words; its bigrams (as strings,
    or packed as integer keys for the bulk writer) and its ``all_runs`` column bytes are
    computed on first use."""

    __slots__ = ("runs", "words", "codes", "_grams", "_runs16", "_keys")

    def __init__(self, value: str):
        norm = normalise(value)
        self.runs, self.words = split_runs(norm)
        self.codes = code_keys(norm)  # numbers and codes in the text (schema version 5)
        self._grams = self._runs16 = self._keys = None

    @property
    def grams(self) -> set[str]:
        if self._grams is None:
            self._grams = {g for run in self.runs for g in bigrams(run)}
        return self._grams

    @property
    def runs16(self) -> bytes:
        """The runs joined by the field separator, in :data:`RUNS_ENCODING`."""
        if self._runs16 is None:
            self._runs16 = run_text(self.runs).encode(RUNS_ENCODING)
        return self._runs16

    def keys(self) -> np.ndarray:
        """The distinct bigrams as sorted ``uint32`` keys (first character << 16 | second; see
        :func:`search_index.idlists.key_term`): :attr:`grams`, packed.

        Computed from the UTF-16 runs with numpy rather than from :attr:`grams`: for the long
        ``all`` value a Python step per bigram is most of the indexing time. A test holds the
        two equal."""
        if self._keys is None:
            # every run character is in the BMP (see analysis._HAN): one UTF-16 unit each
            a = np.frombuffer(self.runs16, dtype="<u2")
            if len(a) < 2:
                self._keys = np.zeros(0, dtype=np.uint32)
            else:
                keys = (a[:-1].astype(np.uint32) << 16) | a[1:]
                sep = a == _SEP16
                self._keys = np.unique(keys[~(sep[:-1] | sep[1:])])
        return self._keys


_SEP16 = ord(FIELD_SEPARATOR)

#: raw value -> :class:`Analysed` of the values of the last document(s): the ``all`` field and
#: its ``all_runs`` column analyse the same value once. The writer handles ``all`` AFTER the
#: short fields and the column (see fastwrite), so the memo must hold a document's seven values,
#: not just the last one. Replaced atomically (thread-safe: a lost entry is only recomputed).
_MEMO: dict = {}
MEMO_ENTRIES = 16


def analyse(value: str) -> Analysed:
    """:class:`Analysed` of a raw value, memoised for the last few values."""
    global _MEMO
    memo = _MEMO
    res = memo.get(value)
    if res is None:
        res = Analysed(value)
        if len(memo) >= MEMO_ENTRIES:
            memo = _MEMO = {}
        memo[value] = res
    return res


class GramSet(fields.FieldType):
    """Bigram field without positions (schema version 3): one posting per distinct bigram.

    Posting blocks hold document numbers only (weight 1.0, no values), several times cheaper to
    write and to read than positions. Latin words keep their count as the weight (as before).
    Exact substrings are checked on the ``all_runs`` column (see :class:`RunsColumn`), not on
    positions. :meth:`term_sets` and :meth:`term_keys` are the bulk writer's fast paths (see
    fastwrite); ``bulk_keys`` chooses the second (packed keys, inverted with numpy: for long
    values, where a per-bigram Python loop is most of the indexing time).
    """

    def __init__(self, stored=False, bulk_keys=False):
        super().__init__(formats.Existence(), BigramTokenizer(), scorable=False, stored=stored)
        self.spelling = False
        self.spelling_prefix = "spell_"
        self.bulk_keys = bulk_keys

    def term_sets(self, value):
        a = analyse(value)
        return a.grams, a.words

    def term_keys(self, value):
        a = analyse(value)
        return a.keys(), a.words

    def index(self, value, **kwargs):
        a = analyse(value)
        for g in a.grams:
            yield g.encode("utf-8"), 1, 1.0, b""
        for w, n in a.words.items():
            yield w.encode("utf-8"), n, float(n), b""


#: Encoding of the ``all_runs`` column (schema version 4): UTF-16 little-endian, NOT compressed.
#: Han text takes 2 bytes a character (UTF-8: 3), about the size zlib made of the UTF-8 (v3),
#: and a check needs no decompression: a query phrase may have tens of thousands of candidate
#: records at 1M, each checked (zlib: ~12 us a record; raw bytes: ~1 us).
RUNS_ENCODING = "utf-16-le"


def encode_check(text: str) -> bytes:
    """A normalised query run as looked for in an ``all_runs`` value (see :func:`holds`)."""
    return text.encode(RUNS_ENCODING)


def holds(value: bytes, check: bytes) -> bool:
    """True iff the ``all_runs`` value holds the check as a substring of characters.

    A byte match at an odd offset straddles two UTF-16 code units (not a character match): the
    search goes on after it. An even offset is a code unit boundary; a check starts with a whole
    character (a BMP character or a high surrogate), so it is a character boundary too.
    """
    i = value.find(check)
    while i >= 0:
        if not i & 1:
            return True
        i = value.find(check, i + 1)
    return False


def holds_all(value: bytes, checks: list[bytes]) -> bool:
    """:func:`holds` for every check."""
    for c in checks:
        if not holds(value, c):
            return False
    return True


class RunsColumn(columns.VarBytesColumn):
    """Raw bytes per document with 64-bit lengths and offsets (a 1M-record segment holds more
    than 2 GB of values... and Whoosh's default arrays are 32-bit)."""

    class Writer(columns.VarBytesColumn.Writer):
        def __init__(self, dbfile, allow_offsets=True, cutoff=2**15):
            super().__init__(dbfile, allow_offsets, cutoff)
            self._lengths = GrowableArray(allow_longs=True)
            self._offsets = GrowableArray(allow_longs=True)


class RunsField(fields.COLUMN):
    """Column of the ``all`` value's runs (:func:`analysis.run_text`, in :data:`RUNS_ENCODING`),
    given the raw value."""

    def __init__(self):
        super().__init__(RunsColumn())

    def to_column_value(self, value):
        return analyse(value).runs16

    def to_bytes(self, value):
        return self.to_column_value(value)


class CharSet(fields.FieldType):
    """The distinct Han/digit characters of the short fields (one-character queries).

    Also holds ``"n" + char`` for the characters of the customer name (a cheap name boost).
    The value is the short fields joined by :data:`analysis.FIELD_SEPARATOR`, the name first.
    """

    def __init__(self):
        super().__init__(formats.Existence(), BigramTokenizer(), scorable=False, stored=False)
        self.spelling = False
        self.spelling_prefix = "spell_"

    def term_sets(self, value):
        """The bulk writer's fast path (see fastwrite): (terms, no words)."""
        name = value.partition("|")[0]
        terms = run_chars(normalise(value))
        terms.update("n" + c for c in run_chars(normalise(name)))
        return terms, {}

    def index(self, value, **kwargs):
        for t in self.term_sets(value)[0]:
            yield t.encode("utf-8"), 1, 1.0, b""


class KeySet(fields.FieldType):
    """Exact keys, no positions or weights (schema version 5): every posting scores the query's
    boost, so a key matching a hundred thousand records costs one posting list and no scoring.

    The value is the keys separated by spaces. ``term_sets`` is the bulk writer's fast path
    (see fastwrite)."""

    def __init__(self):
        super().__init__(formats.Existence(), wanalysis.SpaceSeparatedTokenizer(), scorable=False,
                         stored=False)
        self.spelling = False
        self.spelling_prefix = "spell_"

    def term_sets(self, value):
        return set(value.split()), {}

    def index(self, value, **kwargs):
        for t in self.term_sets(value)[0]:
            yield t.encode("utf-8"), 1, 1.0, b""


def make_schema() -> fields.Schema:
    """The schema of a new index (Whoosh pickles it into the index's table of contents)."""
    return fields.Schema(
        rid=fields.ID(stored=True, unique=True),           # str(record_id): update/delete key
        # free text
        # the six text fields joined (name|project|unit|address|title|content): every
        # multi-character query part is matched here, once
        all=GramSet(bulk_keys=True),
        all_runs=RunsField(),                              # exact-substring checks of ``all``
        uni=CharSet(),                                     # one-character queries
        # short fields again, for boosts only (looked at on documents that matched ``all``)
        name=GramSet(stored=True),
        title=GramSet(stored=True),
        address=GramSet(),
        project=GramSet(),
        unit=GramSet(),
        content_z=fields.STORED(),                         # zlib(content) for snippets
        # dedicated keys
        name_py=fields.KEYWORD(lowercase=False, commas=False, scorable=True),
        # numbers and codes (analysis.code_keys and friends): phones and ID number; 档号 and
        # 客户号; those printed in the six text fields
        nums=KeySet(),
        code=KeySet(),
        text_codes=KeySet(),
        # filters and permissions (exact terms)
        record_type=fields.ID(),
        part=fields.ID(),
        year=fields.NUMERIC(int, bits=32, signed=False),
        grade=fields.ID(),
        secrecy=fields.ID(),
        dept=fields.ID(),
        customer_id=fields.ID(),
        project_key=fields.ID(),
        status=fields.ID(),
        sort_date=fields.NUMERIC(int, bits=64, signed=True, sortable=True),
    )

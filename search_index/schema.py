"""The Whoosh schema of the customer-records index and its version.

Bump :data:`SCHEMA_VERSION` whenever the schema, the analysis (normalisation, tokens, pinyin keys)
or the meaning of a field changes: an index folder with another version is rebuilt empty and
reported as ``needs_rebuild`` so that the app reindexes from the database.
"""
from __future__ import annotations

from whoosh import analysis as wanalysis
from whoosh import fields, formats

from array import array

from .analysis import bigram_tokens, gram_positions, normalise, run_chars

SCHEMA_VERSION = 2


def _patch_whoosh_length_lookup() -> None:
    """Remember that a field has no length column (Whoosh 2.7 looks again, with an ``os.stat``).

    When a segment is written, Whoosh asks ``doc_field_length`` for EVERY posting; for a field
    without lengths (not scorable, like our big ``all`` field) ``_cached_reader`` does not cache
    the negative answer and stats the column file each time -- a third of the indexing time. A
    segment's columns never change, so caching "no column" is safe.
    """
    from whoosh.codec import whoosh3

    cls = whoosh3.W3PerDocReader
    if getattr(cls, "_search_index_patched", False):
        return
    orig = cls._cached_reader
    missing = object()

    def _cached_reader(self, fieldname, column):
        readers = self._readers
        r = readers.get(fieldname, missing)
        if r is missing:
            r = readers[fieldname] = orig(self, fieldname, column)
        return r

    cls._cached_reader = _cached_reader
    cls._search_index_patched = True


_patch_whoosh_length_lookup()


class BigramTokenizer(wanalysis.Tokenizer):
    """Whoosh tokenizer over :func:`search_index.analysis.bigram_tokens` (query side/highlight).

    Indexing does not go through it: :class:`GramText.index` builds postings directly, which is
    several times faster than creating a Token object per bigram.
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


class FastPositions(formats.Positions):
    """Positions stored as a little uint32 array instead of a pickled delta list.

    Whoosh's :class:`~whoosh.formats.Positions` pickles every posting's position list (slow to
    write and to read); here one ``array.tobytes()`` / ``frombytes()`` does it. The posting
    blocks are still zlib-compressed by the codec.
    """

    def encode(self, poslist):
        a = array("I", poslist)
        return len(a).to_bytes(4, "big") + a.tobytes()

    def decode_positions(self, valuestring):
        a = array("I")
        a.frombytes(valuestring[4:])
        return a

    def decode_frequency(self, valuestring):
        return int.from_bytes(valuestring[:4], "big")

    def decode_weight(self, valuestring):
        return float(self.decode_frequency(valuestring)) * self.field_boost


class GramText(fields.FieldType):
    """Positional bigram field without scoring columns (see :func:`analysis.gram_positions`).

    Queries on it are planned by :mod:`search_index.query` (bigram terms and
    :class:`~search_index.query.Substring`), not by Whoosh's parser. ``index`` builds postings
    directly from the normalised value: no Token object per bigram.
    """

    def __init__(self, stored=False):
        super().__init__(FastPositions(), BigramTokenizer(), scorable=False, stored=stored)
        self.spelling = False
        self.spelling_prefix = "spell_"

    def term_positions(self, value) -> dict[str, list[int]]:
        """{term: positions} of a raw value (the bulk writer's fast path, see fastwrite)."""
        return gram_positions(normalise(value))

    def index(self, value, **kwargs):
        encode = self.format.encode
        for term, poslist in gram_positions(normalise(value)).items():
            n = len(poslist)
            yield term.encode("utf-8"), n, float(n), encode(poslist)


class CharSet(fields.FieldType):
    """The distinct Han/digit characters of the short fields (one-character queries).

    Also holds ``"n" + char`` for the characters of the customer name (a cheap name boost).
    The value is the short fields joined by :data:`analysis.FIELD_SEPARATOR`, the name first.
    """

    def __init__(self):
        super().__init__(formats.Existence(), BigramTokenizer(), scorable=False, stored=False)
        self.spelling = False
        self.spelling_prefix = "spell_"

    def index(self, value, **kwargs):
        name = value.partition("|")[0]
        chars = run_chars(normalise(value))
        terms = {c.encode("utf-8") for c in chars}
        terms.update(("n" + c).encode("utf-8") for c in run_chars(normalise(name)))
        for t in terms:
            yield t, 1, 1.0, b""


def make_schema() -> fields.Schema:
    return fields.Schema(
        rid=fields.ID(stored=True, unique=True),           # str(record_id): update/delete key
        # free text
        # the six text fields joined (name|project|unit|address|title|content): every
        # multi-character query part is matched here, once
        all=GramText(),
        uni=CharSet(),                                     # one-character queries
        # short fields again, for boosts only (looked at on documents that matched ``all``)
        name=GramText(stored=True),
        title=GramText(stored=True),
        address=GramText(),
        project=GramText(),
        unit=GramText(),
        content_z=fields.STORED(),                         # zlib(content) for snippets
        # dedicated keys
        name_py=fields.KEYWORD(lowercase=False, commas=False, scorable=True),
        nums=fields.KEYWORD(lowercase=False, commas=False, scorable=True),
        code=fields.KEYWORD(lowercase=False, commas=False),  # archival code, customer no
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

"""The Whoosh schema of the customer-records index and its version.

Bump :data:`SCHEMA_VERSION` whenever the schema, the analysis (normalisation, tokens, pinyin keys)
or the meaning of a field changes: an index folder with another version is rebuilt empty and
reported as ``needs_rebuild`` so that the app reindexes from the database.
"""
from __future__ import annotations

from whoosh import analysis as wanalysis
from whoosh import fields, formats

from .analysis import bigram_tokens, normalise, term_positions

SCHEMA_VERSION = 1


class BigramTokenizer(wanalysis.Tokenizer):
    """Whoosh tokenizer over :func:`search_index.analysis.bigram_tokens` (query side/highlight).

    Indexing does not go through it: :class:`BigramText.index` builds postings directly, which is
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


class BigramText(fields.FieldType):
    """Positional bigram field (phrase = exact substring, one char = prefix)."""

    def __init__(self, stored=False, field_boost=1.0):
        super().__init__(formats.Positions(field_boost=field_boost), BigramTokenizer(),
                         scorable=True, stored=stored)
        self.spelling = False
        self.spelling_prefix = "spell_"

    def index(self, value, **kwargs):
        fmt = self.format
        fb = fmt.field_boost
        encode = fmt.encode
        for term, poslist in term_positions(normalise(value)).items():
            yield term.encode("utf-8"), len(poslist), len(poslist) * fb, encode(poslist)


def make_schema() -> fields.Schema:
    return fields.Schema(
        rid=fields.ID(stored=True, unique=True),           # str(record_id): update/delete key
        # free text
        name=BigramText(stored=True),
        title=BigramText(stored=True),
        address=BigramText(),
        project=BigramText(),
        unit=BigramText(),
        content=BigramText(),
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

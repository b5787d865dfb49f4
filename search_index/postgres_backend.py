"""The search index inside PostgreSQL: the same analysis, plan and answers as the Whoosh index.

For deployments on PostgreSQL with several web nodes and workers: the index is two tables in the
archive's own database (``search_records``, ``search_customers``; migration 0019), written in the
transaction that changes the record (``archive_app.finding.index_feed``), so a search never
disagrees with the database and needs nothing on a node's disk.

How it maps the Whoosh design onto PostgreSQL's own machinery (no extension needed):

* Every key the Whoosh fields hold goes into a ``text[]`` column under a GIN index, each key
  marked by its field (:data:`FIELD_MARKS`: ``a`` + a bigram of the combined text, ``n`` + a
  phone/ID key, ``c`` + a 档号/客户号 key, ...): the text's bigrams and words in ``keys``, every
  other key in ``fkeys`` (:func:`key_arrays`); a term is ``fkeys @> ARRAY[key]``, a phrase's
  bigrams ``keys @> ARRAY[bigrams]``. Whoosh's two prefix queries (pinyin, 客户号) become exact
  keys: the document stores the prefixes (``q``, ``k``). The wide values are stored apart from
  the row and compressed with lz4 (migrations 0026, 0027).
* A score asks each matching row whether it holds some keys (boosts, which field a number is
  in). For a few thousand matches those questions go to ``skeys`` (migration 0025), the same
  keys but the text's bigrams as a jsonb object, read once per matching row, where each is a
  binary search (``fkeys @> ..`` compares with every key of the array: ~35 µs a row for ten
  boosts). For more matches each question is asked once of the GIN index, as a set of ids
  joined to the matches (:func:`_scored`); the rows are narrow (migration 0026: keys and texts
  stored apart), so visiting tens of thousands of matches reads few pages.
* The exact substring check is ``strpos`` on the ``runs`` column (the Han/digit runs joined by
  ``|``, as Whoosh's ``all_runs``).
* The query is the one :func:`planning.plan_text` makes for Whoosh, compiled to one SQL condition
  and one score expression (:func:`compile_query`): the same query kinds and the same scores
  (exact field matches first), with the permission filter and the request's filters in the same
  WHERE clause; the total is ``count(*) OVER ()`` of that query, exact.

Differences from Whoosh, by design: a pinyin key and a Latin word score their boost (Whoosh scores
them with BM25 and the word's count); ties are broken by record id (Whoosh: document number, which
is the order documents were written).
"""
from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterable, Iterator

import sqlalchemy as sa
from whoosh import query as wq

from .analysis import FIELD_SEPARATOR, PREFIX_MARK, normalise, run_chars, run_text
from .documents import CustomerDoc, DocKeys, IndexDoc, document_keys, filter_key, sort_timestamp
from .planning import Best, Boosted, CachedFilter, Substring, Verified, filter_query, plan_text
from .requests import Access, Hit, SearchRequest, SearchResult
from .schema import analyse
from .snippets import snippet_of

RECORDS_TABLE = "search_records"
CUSTOMERS_TABLE = "search_customers"
STATE_TABLE = "search_state"
#: The tables of this backend (migration 0019): derived data, not models (backups leave them out).
TABLES = (RECORDS_TABLE, CUSTOMERS_TABLE, STATE_TABLE)

#: One letter per Whoosh field: a key is its field's mark followed by the Whoosh term.
FIELD_MARKS = {
    "all": "a", "name": "1", "project": "2", "unit": "3", "address": "4", "title": "5",
    "uni": "u", "name_py": "p", "nums": "n", "code": "c", "text_codes": "t",
}
#: Prefix keys standing for Whoosh's two Prefix queries: pinyin and 客户号.
PREFIX_MARKS = {"name_py": "q", "code": "k"}
SHORT_MARKS = ("1", "2", "3", "4", "5")
MIN_PINYIN_PREFIX = 2
#: A 客户号 prefix query is one letter and 4 or more digits (analysis._CUSTNO_SHAPE_RE).
MIN_CUSTNO_PREFIX = 5

#: Columns a request's filters (planning.filter_query) compare, by Whoosh field name.
FILTER_COLUMNS = {
    "record_type": "record_type", "part": "part", "grade": "grade", "secrecy": "secrecy",
    "customer_id": "customer_id", "project_key": "project_key", "status": "status",
}
INT_FILTERS = {"part", "secrecy", "customer_id"}

RECORD_COLUMNS = ("record_id", "customer_id", "keys", "fkeys", "skeys", "runs", "name", "title", "content",
                  "record_type", "part", "year", "grade", "secrecy", "dept", "project_key",
                  "status", "sort_date", "code_prefix", "code_cuts")
CUSTOMER_COLUMNS = ("customer_id", "keys", "fkeys", "skeys", "runs", "name", "dept", "sort_date")
CHECKPOINT = "reindex_checkpoint"
NEEDS_REBUILD = "needs_rebuild"
#: Rows per INSERT statement (a statement holds at most 65,535 parameters).
ROWS_PER_STATEMENT = 500
#: Up to this many matches, each match's score is computed from its own keys (``skeys``, read
#: once per row); above it, from the sets of ids of each question (see :func:`_scored`).
ROW_SCORED_MATCHES = 500
#: Above it, a score question whose set of ids is larger than this many times the matches is
#: asked of each match's keys (see :func:`_scored`): at 1,000,000 records reading a row of a set
#: cost ~1.5 µs, asking one match's ``skeys`` one question ~6 µs.
SET_FACTOR = 4


# ---------------------------------------------------------------------------------------------
# documents -> rows


def _uni_terms(short: list[str]) -> set[str]:
    """The ``uni`` terms (schema.CharSet): the short fields' characters and ``n`` + the name's."""
    terms = run_chars(normalise(FIELD_SEPARATOR.join(short)))
    terms.update("n" + c for c in run_chars(normalise(short[0])))
    return terms


def key_arrays(k: DocKeys) -> tuple[list[str], list[str]]:
    """Every key of a document, marked by field (see :data:`FIELD_MARKS`): (the text's keys --
    bigrams and words of the combined text -- , every other key).

    Two arrays because PostgreSQL reads a whole array value for each ``@>`` on it: the text's
    array is long (a scanned contract: thousands of keys, stored compressed), the other a few
    dozen keys. The numbers and codes printed in the text (``t``) are in the short one, with
    the fields' numbers (``n``, ``c``): a number searched with a name (``唐 2238``) is then one
    GIN search of one array (migration 0027), where across the two arrays PostgreSQL found the
    name's rows and read each one's long array for the number."""
    text: set[str] = set()
    a = analyse(k.joined)
    text.update("a" + g for g in a.grams)
    text.update("a" + w for w in a.words)
    out: set[str] = {"t" + key for key in k.text_codes}
    for mark, value in zip(SHORT_MARKS, k.short, strict=True):
        if value:
            f = analyse(value)
            out.update(mark + g for g in f.grams)
            out.update(mark + w for w in f.words)
    out.update("u" + t for t in _uni_terms(k.short))
    for key in k.pinyin:
        out.add("p" + key)
        out.update("q" + key[:i] for i in range(MIN_PINYIN_PREFIX, len(key) + 1))
    out.update("n" + key for key in k.nums)
    for key in k.codes:
        out.add("c" + key)
        if key[:1].isalpha():
            out.update("k" + key[:i] for i in range(MIN_CUSTNO_PREFIX, len(key) + 1))
    # keys never hold a space (runs, words and code keys have none): _upsert joins them by one
    return sorted(text), sorted(out)


#: The column holding each mark's keys (see :func:`key_arrays`).
TEXT_MARKS = ("a",)


def column_of(key: str) -> str:
    return "keys" if key[0] in TEXT_MARKS else "fkeys"


#: The marks of the keys ``skeys`` holds too: every key but the text's bigrams and words.
SCORE_MARKS = (frozenset(FIELD_MARKS.values()) | frozenset(PREFIX_MARKS.values())) - {"a"}


def score_keys(keys: list[str], fkeys: list[str]) -> str:
    """The ``skeys`` column (migration 0025) as JSON text: an object whose names are the row's
    keys of :data:`SCORE_MARKS`. A score's questions ("does this row hold X") are asked of it:
    a jsonb object's names are sorted, so each is a binary search, where ``fkeys @> ARRAY[X]``
    compares X with every key of the array."""
    held = dict.fromkeys(fkeys)
    held.update(dict.fromkeys(k for k in keys if k[0] in SCORE_MARKS))
    return json.dumps(held, ensure_ascii=False, separators=(",", ":"))


def code_columns(codes: Iterable[str]) -> tuple[str | None, list[int]]:
    """(``code_prefix``, ``code_cuts``) of a record (migration 0029): its longest 档号 prefix key
    (:func:`analysis.archival_code_keys`, without the ``^``) and the lengths of all of them. A
    record holds a prefix key ``^X`` exactly when ``code_prefix`` starts with X and X's length is
    one of the cuts: a btree range over the column finds the records of a prefix and carries
    their permission columns, so a prefix of 80,000 records is read from the index alone."""
    prefixes = sorted((c[1:] for c in codes if c.startswith(PREFIX_MARK)), key=len)
    if not prefixes:
        return None, []  # no 档号
    # a record has one 档号, so its prefix keys are one chain, each a prefix of the longest
    return prefixes[-1], [len(p) for p in prefixes if prefixes[-1].startswith(p)]


def record_row(doc: IndexDoc) -> dict:
    """The ``search_records`` row of a record."""
    k = document_keys(doc)
    keys, fkeys = key_arrays(k)
    code_prefix, code_cuts = code_columns(k.codes)
    return {
        "record_id": int(doc.record_id), "customer_id": int(doc.customer_id), "keys": keys,
        "fkeys": fkeys, "skeys": score_keys(keys, fkeys),
        "runs": run_text(analyse(k.joined).runs), "name": doc.customer_name or "",
        "title": doc.title or "", "content": doc.content or "",
        "record_type": filter_key(doc.record_type), "part": int(doc.part), "year": int(doc.year),
        "grade": filter_key(doc.grade), "secrecy": int(doc.secrecy),
        "dept": None if doc.department_id is None else int(doc.department_id),
        "project_key": filter_key(doc.project), "status": filter_key(doc.status),
        "sort_date": sort_timestamp(doc), "code_prefix": code_prefix, "code_cuts": code_cuts,
    }


def customer_row(doc: CustomerDoc) -> dict:
    """The ``search_customers`` row of a customer."""
    k = document_keys(doc)
    keys, fkeys = key_arrays(k)
    return {
        "customer_id": int(doc.customer_id), "keys": keys, "fkeys": fkeys,
        "skeys": score_keys(keys, fkeys),
        "runs": run_text(analyse(k.joined).runs), "name": doc.name or "",
        "dept": None if doc.department_id is None else int(doc.department_id),
        "sort_date": int(doc.updated_at.timestamp()),
    }


# ---------------------------------------------------------------------------------------------
# plan -> SQL


class _Params:
    """Bind parameters of one statement, named in order.

    ``scoring``: the keys are asked of one row that already matched (a score's CASE), not looked
    up in the GIN indexes: keys of :data:`SCORE_MARKS` are asked of ``skeys``."""

    def __init__(self):
        self.values: dict[str, object] = {}
        self.scoring = False
        #: Membership mode (:meth:`members`): the SQL condition of each atom asked so far.
        self.atoms: list[str] | None = None
        #: ... and each one's condition asked of one row.
        self.row_atoms: list[str] = []
        #: The table has the 档号 prefix columns (records: migration 0029; customers have none).
        self.code_columns = True

    def add(self, value: object) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f":{name}"

    def keys(self, keys: list[str], op: str = "@>") -> str:
        """``keys`` all present (``@>``) or any present (``&&``), each looked for in its column."""
        by_col: dict[str, list[str]] = {}
        for k in sorted(set(keys)):
            col = "skeys" if self.scoring and k[0] in SCORE_MARKS else column_of(k)
            by_col.setdefault(col, []).append(k)
        joiner = " AND " if op == "@>" else " OR "
        return "(" + joiner.join(self._test(col, op, ks) for col, ks in sorted(by_col.items())) + ")"

    def code_prefix(self, prefix: str, key: str) -> str:
        """The records holding the 档号 prefix key ``^prefix``: from the btree over
        ``code_prefix`` (see :func:`code_columns`); asked of one row, from its ``skeys``."""
        if self.scoring or not self.code_columns:
            return self.keys([key])
        # a range, not LIKE: the bound is a parameter, and the column's collation is "C" (bytes)
        return (f"(code_prefix >= {self.add(prefix)} AND code_prefix < {self.add(prefix + chr(0x10FFFF))} "
                f"AND CAST({self.add(len(prefix))} AS smallint) = ANY(code_cuts))")

    def _test(self, col: str, op: str, keys: list[str]) -> str:
        if col == "skeys":
            # the functions behind ?& and ?| (a "?" would read as a bind marker to some drivers)
            fn = "jsonb_exists_all" if op == "@>" else "jsonb_exists_any"
            return f"{fn}(skeys, CAST({self.add(keys)} AS text[]))"
        return f"{col} {op} CAST({self.add(keys)} AS text[])"

    def atom(self, build: Callable[[], str]) -> str:
        """A leaf of the plan (``build`` gives its SQL condition for the GIN indexes): that SQL
        itself, or in membership mode a reference to the atom's bit of the row (:meth:`members`)."""
        if self.atoms is None:
            return build()
        self.atoms, saved = None, self.atoms
        try:
            sql = build()
            # the same question asked of one matching row (skeys), for an atom whose set is
            # too large to read (see _scored)
            self.scoring = True
            row_sql = build()
        finally:
            self.atoms = saved
            self.scoring = False
        self.atoms.append(sql)
        self.row_atoms.append(row_sql)
        return f"m.b{len(self.atoms) - 1}"

    def members(self, q: wq.Query) -> tuple[str, list[str], list[str]]:
        """(score, atoms, row atoms) of ``q`` with every leaf's question asked by membership:
        the score is an expression of ``m.b<j>``, true where the row is among those of atom
        ``j``, each atom an SQL condition answered by the GIN indexes (with a leaf's exact check,
        read only for the rows the index gives), each row atom the same condition asked of one
        row's ``skeys``. Only the atoms the score refers to are returned (by number; the others
        are empty strings): the rest were conditions of required parts."""
        self.atoms, self.row_atoms = [], []
        try:
            _, score = compile_query(q, self)
            atoms, row_atoms = self.atoms, self.row_atoms
        finally:
            self.atoms, self.row_atoms = None, []
        used = set(int(j) for j in re.findall(r"\bm\.b(\d+)\b", score))
        return (score, [a if j in used else "" for j, a in enumerate(atoms)],
                [a if j in used else "" for j, a in enumerate(row_atoms)])

    def compile(self, q: wq.Query) -> tuple[str, str]:
        """(condition, score) of ``q``: the condition for the WHERE clause (GIN lookups), the
        score with its questions asked of ``skeys`` (see :func:`compile_query`)."""
        cond, _ = compile_query(q, self)
        return cond, self.row_score(q)

    def row_score(self, q: wq.Query) -> str:
        """The score of ``q`` with its questions asked of a matching row's ``skeys``."""
        self.scoring = True
        try:
            return compile_query(q, self)[1]
        finally:
            self.scoring = False


def _num(x: float) -> str:
    # float8, not numeric (a bare 6.0): a score sums these for every match, and numeric
    # arithmetic cost several times float8's there
    return f"{float(x)!r}::float8"


def _value(sql: str) -> float:
    """The number a constant score of :func:`_num` stands for (ValueError: not a constant)."""
    return float(sql.removesuffix("::float8"))


def compile_query(q: wq.Query, params: _Params) -> tuple[str, str]:
    """(SQL condition, SQL score expression valid where the condition holds) of a plan node.

    The scores are Whoosh's (see execute.evaluate): And and AndMaybe add, Or adds the parts that
    hold, Best takes the best part that holds, a filter scores 1 each."""
    if q is wq.NullQuery or isinstance(q, wq.NullQuery.__class__):
        return "FALSE", "0.0"
    if isinstance(q, Substring):
        mark = FIELD_MARKS.get(q.fieldname)
        if mark is None:
            return "FALSE", "0.0"
        def substring() -> str:
            cond = [params.keys([mark + b.decode("utf-8") for b in q.bigram_terms()])]
            if q.exact:
                cond += _checks([t for t in q.texts if len(t) > 2], params)
            return "(" + " AND ".join(cond) + ")"
        return params.atom(substring), _num(q.boost)
    if isinstance(q, Verified):
        cond, score = compile_query(q.required, params)
        checks = _checks(list(dict.fromkeys(q.texts)), params)
        return "(" + " AND ".join([cond] + checks) + ")", score
    if isinstance(q, Boosted):
        cond, score = compile_query(q.required, params)
        extra = [f"(CASE WHEN {c} THEN {s} ELSE 0.0 END)"
                 for c, s in (compile_query(b, params) for b in q.boosts)]
        return cond, "(" + " + ".join([score] + extra) + ")"
    if isinstance(q, CachedFilter):
        return (params.atom(lambda: "(" + " AND ".join(_filter(f, params) for f in q.qs) + ")"),
                _num(len(q.qs)))
    if type(q) is wq.Term:
        mark = FIELD_MARKS.get(q.fieldname)
        if mark is None:
            return "FALSE", "0.0"
        key, prefix = mark + str(q.text), _code_prefix(q)
        if prefix is not None:
            return params.atom(lambda: params.code_prefix(prefix, key)), _num(q.boost)
        return params.atom(lambda: params.keys([key])), _num(q.boost)
    if type(q) is wq.Prefix:
        mark = PREFIX_MARKS.get(q.fieldname)
        if mark is None:
            return "FALSE", "0.0"
        return params.atom(lambda: params.keys([mark + str(q.text)])), _num(q.boost)
    if type(q) is wq.And:
        if not q.subqueries:
            return "FALSE", "0.0"
        parts = [compile_query(c, params) for c in q.subqueries]
        return ("(" + " AND ".join(c for c, _ in parts) + ")",
                "(" + " + ".join(s for _, s in parts) + ")")
    if type(q) is wq.Or:
        parts = [compile_query(c, params) for c in q.subqueries]
        if not parts:
            return "FALSE", "0.0"
        return (_any_of(q.subqueries, parts, params),
                "(" + " + ".join(f"(CASE WHEN {c} THEN {s} ELSE 0.0 END)" for c, s in parts) + ")")
    if isinstance(q, Best):
        parts = [compile_query(c, params) for c in q.qs]
        if not parts:
            return "FALSE", "0.0"
        cond = _any_of(q.qs, parts, params)
        if all(_is_number(s) for _, s in parts):
            # constant scores: the first part that holds, best first, is the best; the parts
            # after it (a number printed in the long text) are never looked at
            ordered = sorted(parts, key=lambda p: -_value(p[1]))
            return cond, "CASE " + " ".join(f"WHEN {c} THEN {s}" for c, s in ordered) + " END"
        # GREATEST skips NULLs: the best of the parts that hold
        return cond, "GREATEST(" + ", ".join(f"CASE WHEN {c} THEN {s} END" for c, s in parts) + ")"
    if type(q) is wq.AndMaybe:
        ca, sa_ = compile_query(q.a, params)
        cb, sb = compile_query(q.b, params)
        return ca, f"({sa_} + (CASE WHEN {cb} THEN {sb} ELSE 0.0 END))"
    if type(q) is wq.Every:
        return "TRUE", _num(q.boost)
    raise TypeError(f"no SQL for the query node {q!r}")


def _is_number(sql: str) -> bool:
    try:
        _value(sql)
    except ValueError:
        return False
    return True


def _code_prefix(q: wq.Query) -> str | None:
    """The 档号 prefix a Term node asks for (``code:^00012026``), without its mark; else None."""
    if type(q) is wq.Term and q.fieldname == "code" and str(q.text).startswith(PREFIX_MARK):
        return str(q.text)[1:]
    return None


def _single_key(q: wq.Query) -> str | None:
    """The one key a Term or Prefix node stands for (None: another node, or a 档号 prefix,
    which is looked up in its own index: :func:`code_columns`)."""
    if _code_prefix(q) is not None:
        return None
    if type(q) is wq.Term and q.fieldname in FIELD_MARKS:
        return FIELD_MARKS[q.fieldname] + str(q.text)
    if type(q) is wq.Prefix and q.fieldname in PREFIX_MARKS:
        return PREFIX_MARKS[q.fieldname] + str(q.text)
    return None


def _any_of(nodes: list[wq.Query], parts: list[tuple[str, str]], params: _Params) -> str:
    """The condition of a union: its single keys as one overlap (``&&``) per column (one GIN
    search, and one read of each array per row, instead of one per key), OR the other parts."""
    keys = [_single_key(n) for n in nodes]
    conds = [c for k, (c, _) in zip(keys, parts, strict=True) if k is None]
    single = [k for k in keys if k is not None]
    if single:
        conds.insert(0, params.atom(lambda: params.keys(single, op="&&")))
    return "(" + " OR ".join(conds) + ")"


def _checks(texts: list[str], params: _Params) -> list[str]:
    return [f"strpos(runs, {params.add(t)}) > 0" for t in texts]


def _filter(f: wq.Query, params: _Params) -> str:
    if isinstance(f, wq.NumericRange) and f.fieldname == "year":
        conds = []
        if f.start is not None:
            conds.append(f"year >= {params.add(int(f.start))}")
        if f.end is not None:
            conds.append(f"year <= {params.add(int(f.end))}")
        return "(" + " AND ".join(conds or ["TRUE"]) + ")"
    if type(f) is wq.Term and f.fieldname in FILTER_COLUMNS:
        value = int(f.text) if f.fieldname in INT_FILTERS else str(f.text)
        return f"{FILTER_COLUMNS[f.fieldname]} = {params.add(value)}"
    raise TypeError(f"no SQL for the filter {f!r}")


def record_permission(access: Access, params: _Params) -> str:
    """The records ``access`` may see, as SQL (planning.permission_query)."""
    if access.max_secrecy < 0:
        return "FALSE"
    cond = f"secrecy BETWEEN 0 AND {params.add(min(int(access.max_secrecy), 3))}"
    if access.department_ids is not None:
        if not access.department_ids:
            return "FALSE"
        cond += f" AND dept = ANY(CAST({params.add(sorted(access.department_ids))} AS integer[]))"
    return cond


def customer_permission(access: Access, params: _Params) -> str:
    """The customers ``access`` may see, as SQL (planning.customer_permission_query)."""
    if access.max_secrecy < 0:
        return "FALSE"
    if access.department_ids is None:
        return "TRUE"
    if not access.department_ids:
        return "FALSE"
    return f"dept = ANY(CAST({params.add(sorted(access.department_ids))} AS integer[]))"


# ---------------------------------------------------------------------------------------------
# the index


class PostgresSearchIndex:
    """The :class:`search_index.SearchIndex` interface over the PostgreSQL tables.

    ``connect`` gives the connection to use: in the app, the request's or job's session
    connection (reads and writes are part of its transaction; its commit commits them; ``commit``
    is called by a rebuild's checkpoints); :meth:`on_engine` makes one that opens and commits a
    transaction per call (tests, benchmarks)."""

    needs_rebuild = False

    def __init__(self, connect: Callable[[], sa.Connection] | None = None,
                 commit: Callable[[], None] | None = None, engine: sa.Engine | None = None,
                 row_scored_matches: int = ROW_SCORED_MATCHES, set_factor: int = SET_FACTOR):
        self._connect = connect
        self._commit = commit
        self._engine = engine
        #: Up to this many matches a search scores each match from its own keys, above it by
        #: sets, each set read up to ``set_factor`` times the matches (:func:`_scored`); the
        #: answers are the same either way.
        self.row_scored_matches = int(row_scored_matches)
        self.set_factor = int(set_factor)

    @classmethod
    def on_engine(cls, engine: sa.Engine, row_scored_matches: int = ROW_SCORED_MATCHES,
                  set_factor: int = SET_FACTOR) -> "PostgresSearchIndex":
        """An index over its own connections: one transaction per call, committed."""
        return cls(engine=engine, row_scored_matches=row_scored_matches, set_factor=set_factor)

    def on(self, conn: sa.Connection) -> "PostgresSearchIndex":
        """This index on the given connection (the flush that changed the rows writes so)."""
        return PostgresSearchIndex(connect=lambda: conn, row_scored_matches=self.row_scored_matches,
                                   set_factor=self.set_factor)

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sa.Connection]:
        if self._engine is not None:
            with self._engine.begin() as conn:
                yield conn
        else:
            yield self._connect()

    def close(self) -> None:
        """Nothing to close: the connections belong to the caller (or its pool)."""

    # -- writing --------------------------------------------------------------------------

    def add_or_update(self, docs: Iterable[IndexDoc | CustomerDoc]) -> int:
        """Write (or replace) records by record_id and customers by customer_id. Idempotent."""
        records: dict[int, dict] = {}
        customers: dict[int, dict] = {}
        for d in docs:
            if isinstance(d, CustomerDoc):
                customers[int(d.customer_id)] = customer_row(d)
            else:
                records[int(d.record_id)] = record_row(d)
        with self._tx() as conn:
            _upsert(conn, RECORDS_TABLE, RECORD_COLUMNS, list(records.values()), update=True)
            _upsert(conn, CUSTOMERS_TABLE, CUSTOMER_COLUMNS, list(customers.values()), update=True)
        return len(records) + len(customers)

    def delete(self, record_ids: Iterable[int | str]) -> int:
        """Remove records by record_id (``c<id>`` names a customer, as Whoosh's ``rid``)."""
        recs, custs = [], []
        for r in record_ids:
            s = str(r)
            (custs if s.startswith("c") else recs).append(int(s.lstrip("c")))
        with self._tx() as conn:
            n = _delete(conn, RECORDS_TABLE, "record_id", recs)
            n += _delete(conn, CUSTOMERS_TABLE, "customer_id", custs)
        return n

    def delete_customers(self, customer_ids: Iterable[int]) -> int:
        """Remove customers' own rows (not their records')."""
        with self._tx() as conn:
            return _delete(conn, CUSTOMERS_TABLE, "customer_id", [int(c) for c in customer_ids])

    def delete_all_customers(self) -> int:
        with self._tx() as conn:
            return conn.execute(sa.text(f"DELETE FROM {CUSTOMERS_TABLE}")).rowcount

    def purge(self, record_ids: Iterable[int], customer_ids: Iterable[int] = ()) -> int:
        """Delete records and customers. Their old row versions stay in the table's pages until
        (auto)vacuum reuses them: VACUUM cannot run inside the caller's transaction."""
        with self._tx() as conn:
            n = _delete(conn, RECORDS_TABLE, "record_id", [int(r) for r in record_ids])
            _delete(conn, CUSTOMERS_TABLE, "customer_id", [int(c) for c in customer_ids])
        return n

    def clear(self) -> None:
        """Remove every row and the rebuild checkpoint, committed at once as Whoosh's clear is
        (the start of a rebuild, or an administrator's act)."""
        with self._tx() as conn:
            # DELETE, not TRUNCATE: TRUNCATE waits for (and then blocks) every open transaction
            # that has searched; a rebuild must not stop the searches of every web node
            for table in (RECORDS_TABLE, CUSTOMERS_TABLE, STATE_TABLE):
                conn.execute(sa.text(f"DELETE FROM {table}"))
        if self._commit is not None:
            self._commit()

    def optimize(self) -> None:
        """Refresh the planner's statistics of the tables; on its own connections (an index
        made by :meth:`on_engine`) VACUUM them too, which marks the pages of a bulk load
        all-visible, so a 档号 prefix is read from its btree alone at once rather than after
        autovacuum's next visit. (VACUUM cannot run inside the caller's transaction.)"""
        if self._engine is not None:
            with self._engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                for table in (RECORDS_TABLE, CUSTOMERS_TABLE):
                    conn.execute(sa.text(f"VACUUM (ANALYZE) {table}"))
            return
        with self._tx() as conn:
            conn.execute(sa.text(f"ANALYZE {RECORDS_TABLE}"))
            conn.execute(sa.text(f"ANALYZE {CUSTOMERS_TABLE}"))

    def doc_count(self) -> int:
        """How many records the index holds."""
        with self._tx() as conn:
            return int(conn.execute(sa.text(f"SELECT count(*) FROM {RECORDS_TABLE}")).scalar())

    def wants_rebuild(self) -> bool:
        """True while the tables await their first rebuild (migration 0019 on an archive that
        already held records); ``clear`` (the start of every rebuild) ends it."""
        with self._tx() as conn:
            return conn.execute(sa.text(f"SELECT EXISTS (SELECT 1 FROM {STATE_TABLE} WHERE name = :n)"),
                                {"n": NEEDS_REBUILD}).scalar()

    def reindex_checkpoint(self) -> int | None:
        """Highest record_id written by an unfinished bulk rebuild, or None."""
        with self._tx() as conn:
            v = conn.execute(sa.text(f"SELECT value FROM {STATE_TABLE} WHERE name = :n"),
                             {"n": CHECKPOINT}).scalar()
        return None if v is None else int(v)

    def _write_checkpoint(self, conn: sa.Connection, last: int | None) -> None:
        conn.execute(sa.text(f"DELETE FROM {STATE_TABLE} WHERE name = :n"), {"n": CHECKPOINT})
        if last is not None:
            conn.execute(sa.text(f"INSERT INTO {STATE_TABLE} (name, value) VALUES (:n, :v)"),
                         {"n": CHECKPOINT, "v": str(int(last))})

    @contextlib.contextmanager
    def bulk_writer(self, commit_every: int = 50_000, update: bool = False,
                    **_whoosh_only) -> Iterator["PostgresBulkWriter"]:
        """A batched writer for rebuilds (``limitmb``, ``procs``, ``optimize`` are Whoosh's).

        Rows go in multi-row INSERTs; every ``commit_every`` records a checkpoint is written and
        the transaction committed (on an engine; in the app, through ``commit``). Into an empty
        records table (a rebuild after :meth:`clear`) the GIN indexes are dropped first and built
        at the end: inserting a row's thousand keys into a GIN index one row at a time is most of
        the cost of a load (measured 142 records/s at 10,000 on the shared machine), a build
        sorts them all once."""
        if self._engine is not None:
            with self._engine.connect() as conn:
                bw = PostgresBulkWriter(self, lambda: conn, commit_every, update, conn.commit)
                dropped = _drop_gin_if_empty(conn)
                yield bw
                bw.finish(dropped)
                conn.commit()
        else:
            # the connection is asked for again after each commit (a session gives a new one)
            bw = PostgresBulkWriter(self, self._connect, commit_every, update, self._commit)
            dropped = _drop_gin_if_empty(self._connect())
            yield bw
            bw.finish(dropped)

    # -- searching ------------------------------------------------------------------------

    def search(self, req: SearchRequest, access: Access) -> SearchResult:
        """One page of the records ``access`` may see matching ``req``, and their exact total."""
        page = max(1, int(req.page))
        per_page = max(1, min(int(req.per_page), 200))
        result = SearchResult(total=0, page=page, per_page=per_page)
        plan = plan_text(req.text)
        params = _Params()
        perm = record_permission(access, params)
        if perm == "FALSE":
            return result
        # the filters first: PostgreSQL tests a row's conditions in the order written (at equal
        # cost), and a column comparison is cheaper than reading the text's key array
        parts = [q for q in (filter_query(req), plan.query) if q is not None]
        if any(q is wq.NullQuery for q in parts):
            return result
        core = wq.And(parts) if len(parts) > 1 else (parts[0] if parts else wq.Every())
        q = Verified(core, plan.verify) if plan.verify else core
        by_date = req.sort == "date"
        # the exact check apart: the score's sets are taken among the rows the filters allow
        # (a Verified scores as what it verifies)
        core_cond, _ = compile_query(core, params)
        filters = filter_query(req)
        filter_cond, filter_score = compile_query(filters, params) if filters is not None else ("", "0.0")
        among = f"{perm} AND {filter_cond}" if filters is not None else perm
        cond = " AND ".join([core_cond] + _checks(list(dict.fromkeys(plan.verify)), params))
        limit = f"LIMIT {params.add(per_page)} OFFSET {params.add((page - 1) * per_page)}"
        if by_date:
            sql = (f"SELECT record_id, 0.0 AS score, count(*) OVER () AS total FROM ("
                   f"SELECT record_id, sort_date FROM {RECORDS_TABLE} WHERE {perm} AND {cond} "
                   f"OFFSET 0) d ORDER BY sort_date DESC, record_id {limit}")
        elif plan.boost is None and not plan.verify and (union := _union_parts(plan.query)):
            sql = _scored_union(among, [compile_query(p, params) for p in union],
                                "max" if isinstance(plan.query, Best) else "sum", _value(filter_score), limit)
        else:
            scored = Boosted(core, plan.boost) if plan.boost is not None else core
            sql = _scored(f"{perm} AND {cond}", among, params.row_score(scored), *params.members(scored),
                          limit, self.row_scored_matches, self.set_factor)
        with self._tx() as conn, _search_settings(conn):
            rows = conn.execute(sa.text(sql), params.values).all()
            if rows:
                result.total = int(rows[0].total)
            elif page > 1:  # past the last page: the total still
                count = _Params()
                c_perm = record_permission(access, count)
                c_cond, _ = compile_query(q, count)
                result.total = int(conn.execute(sa.text(
                    f"SELECT count(*) FROM {RECORDS_TABLE} WHERE {c_perm} AND {c_cond}"),
                    count.values).scalar())
            texts = {}
            if rows:
                texts = {r.record_id: r for r in conn.execute(sa.text(
                    f"SELECT record_id, content, title, name FROM {RECORDS_TABLE} "
                    "WHERE record_id = ANY(CAST(:ids AS bigint[]))"),
                    {"ids": [r.record_id for r in rows]})}
        for r in rows:
            t = texts.get(r.record_id)
            snippet = snippet_of(t.content or "", t.title or "", t.name or "", plan.needles) if t else ""
            result.hits.append(Hit(record_id=int(r.record_id), score=float(r.score), snippet=snippet))
        return result

    def search_customers(self, text: str, access: Access, limit: int = 5) -> list[int]:
        """Ids of the customers ``access`` may see matching ``text``, best first."""
        plan = plan_text(text)
        if plan.query is None or plan.query is wq.NullQuery:
            return []
        params = _Params()
        params.code_columns = False
        perm = customer_permission(access, params)
        if perm == "FALSE":
            return []
        q = plan.query
        if plan.verify:
            q = Verified(q, plan.verify)
        if plan.boost is not None:
            q = Boosted(q, plan.boost)
        cond, score = params.compile(q)
        sql = (f"SELECT customer_id, {score} AS score "
               f"FROM {_matches(CUSTOMERS_TABLE, f'{perm} AND {cond}', 'customer_id')} m "
               f"ORDER BY score DESC, customer_id LIMIT {params.add(int(limit))}")
        with self._tx() as conn:
            return [int(r.customer_id) for r in conn.execute(sa.text(sql), params.values)]


def _scored(where: str, among: str, row_score: str, member_score: str, atoms: list[str],
            row_atoms: list[str], limit: str, row_scored: int = ROW_SCORED_MATCHES,
            set_factor: int = SET_FACTOR) -> str:
    """The statement of one page of matches by score, and their total.

    The matches' ids (``c``) come from the GIN indexes (and the exact check's column, where the
    plan has one) without reading a row's keys. Then their scores, one of two ways, chosen when
    the statement runs by the number of matches (PostgreSQL runs only the branch whose one-time
    filter holds):

    * up to ``row_scored`` matches (:data:`ROW_SCORED_MATCHES`), each match's questions ("does
      the row hold this key", "is it in the name") are asked of its own ``skeys`` (~10 µs a
      row: its keys are stored apart from the narrow row, migration 0026);
    * above it, each question is asked once, as the set of ids the GIN index gives for it among
      the rows the filters allow (``m``: one bit per question and row), joined to the matches
      by id: the 44,000 matches of a 档号 prefix at 1,000,000 records took 2 s row by row.
      A question whose set is more than ``set_factor`` times the matches (``星河湾`` in the
      project field: every record of the project, for the thousand records of one of its
      buildings) is asked of each match's ``skeys`` instead: its set is read only up to that
      size (``s<j>``), and ``g<j>`` says it was cut there."""
    many = f"(SELECT n FROM n) > {int(row_scored)}"
    # c holds the wide columns as the row's pointers to them (read only by the row branch)
    head = (f"WITH c AS MATERIALIZED (SELECT record_id, keys, fkeys, runs, skeys FROM {RECORDS_TABLE} "
            f"WHERE {where}), n AS MATERIALIZED (SELECT count(*) AS n FROM c)")
    by_row = f"SELECT record_id, {row_score} AS score FROM {_matches('c', f'NOT {many}')} d"
    used = [j for j, a in enumerate(atoms) if a]
    if not used:
        by_set = f"SELECT record_id, {member_score} AS score FROM c WHERE {many}"
    else:
        cap = f"(SELECT {int(set_factor)} * n FROM n)"
        for j in used:
            # the scan kept apart (OFFSET 0) and joined to n: a LIMIT over a lone subquery is
            # passed down to its planning, which then took the (type, year) btree in its order
            # to find the first rows soon and tested every row of the type's years against the
            # atom (55 ms at 1,000,000 records, for a set the two indexes' bitmaps gave in ~1 ms)
            head += (f", s{j} AS MATERIALIZED (SELECT x.record_id FROM (SELECT record_id FROM {RECORDS_TABLE} "
                     f"WHERE {many} AND {among} AND {atoms[j]} OFFSET 0) x CROSS JOIN n LIMIT {cap} + 1)"
                     f", g{j} AS MATERIALIZED (SELECT count(*) > {cap} AS cut FROM s{j})")
        sets = " UNION ALL ".join(f"SELECT record_id, {j} AS j FROM s{j} WHERE NOT (SELECT cut FROM g{j})"
                                  for j in used)
        bits = ", ".join(f"bool_or(j = {j}) AS b{j}" for j in used)
        head += f", m AS (SELECT record_id, {bits} FROM ({sets}) a GROUP BY record_id)"
        # a cut set's question goes to the row; CASE reads the row only when the set was cut
        score = re.sub(r"\bm\.b(\d+)\b", lambda g: (
            f"(CASE WHEN (SELECT cut FROM g{g[1]}) THEN {row_atoms[int(g[1])]} "
            f"ELSE coalesce(m.b{g[1]}, false) END)"), member_score)
        by_set = (f"SELECT c.record_id, {score} AS score FROM c "
                  f"LEFT JOIN m ON m.record_id = c.record_id WHERE {many}")
    return (f"{head} SELECT record_id, score, (SELECT n FROM n) AS total FROM "
            f"({by_row} UNION ALL {by_set}) s ORDER BY score DESC, record_id {limit}")


def _id_sets(among: str, parts: list[tuple[str, str]], label: str) -> str:
    """The ids each part's condition (``parts``: condition, value) gives among ``among``, each
    id with its part's value as ``label``, one GIN lookup per part."""
    return " UNION ALL ".join(f"SELECT record_id, {value} AS {label} FROM {RECORDS_TABLE} "
                              f"WHERE {among} AND {cond}" for cond, value in parts)


def _union_parts(q: wq.Query | None) -> list[wq.Query] | None:
    """The parts of ``q`` if it is a Best or an Or of leaves, each of which one GIN condition
    answers (a number's kinds, a pinyin key and a word): its matches are the union of its
    parts' sets. None for any other query."""
    parts = q.qs if isinstance(q, Best) else q.subqueries if type(q) is wq.Or else None
    if parts and all(isinstance(p, Substring) or _single_key(p) is not None or _code_prefix(p) is not None
                     for p in parts):
        return list(parts)
    return None


def _scored_union(among: str, parts: list[tuple[str, str]], agg: str, base: float, limit: str) -> str:
    """The statement of one page by score, and the total, of a query whose matches are the
    union of the sets of its parts (:func:`_union_parts`; ``parts``: each one's GIN condition
    and constant score): each part's set read once, among the rows the filters allow, grouped
    by id; a row scores ``base`` plus the best (Best: ``max``) or the sum (Or: ``sum``) of the
    parts holding it."""
    sets = _id_sets(among, parts, "s")
    return (f"SELECT record_id, score, count(*) OVER () AS total FROM ("
            f"SELECT record_id, {_num(base)} + {agg}(s) AS score FROM ({sets}) a GROUP BY record_id) m "
            f"ORDER BY score DESC, record_id {limit}")


#: Planner settings of a search statement (see :func:`_search_settings`).
SEARCH_SETTINGS = {
    # Its cost model does not count the decompression of ``keys`` per row that a sequential
    # scan's ``keys @> ..`` filter does: for a common word (45,000 of 100,000 rows) it chose the
    # scan after a VACUUM, 2.7 s instead of 0.3 s for the GIN index's bitmap. Every search
    # condition has an index to use.
    "enable_seqscan": "off",
    # Starting parallel workers costs more than a search's bitmap scans gain from them (a 档号
    # lookup of one row took 25-40 ms with two workers, 5-10 without).
    "max_parallel_workers_per_gather": "0",
    # A bitmap of tens of thousands of matches stays exact (one bit per row, no re-check of
    # the keys of every row of a page), and the grouping of the score's sets stays in memory.
    "work_mem": "64MB",
}


@contextlib.contextmanager
def _search_settings(conn: sa.Connection) -> Iterator[None]:
    """:data:`SEARCH_SETTINGS` for this transaction, then set back: the connection may be the
    app's, whose transaction goes on."""
    names = sorted(SEARCH_SETTINGS)
    prev = conn.execute(sa.text("SELECT " + ", ".join(
        f"current_setting('{n}'), set_config('{n}', :{n}, true)" for n in names)),
        SEARCH_SETTINGS).one()
    try:
        yield
    finally:
        conn.execute(sa.text("SELECT " + ", ".join(f"set_config('{n}', :{n}, true)" for n in names)),
                     {n: prev[2 * k] for k, n in enumerate(names)})


def _matches(source: str, where: str, key: str = "record_id") -> str:
    """The rows of ``source`` (a table, or the matches ``c``) meeting ``where`` as a subquery
    (kept apart by OFFSET 0) whose ``skeys`` is read once: ``'{}' || skeys`` hands back the
    value decompressed (or fetched from the TOAST table), and every question of the score above
    is then a binary search in memory. Asked of the column itself, each question decompressed
    it again."""
    return (f"(SELECT {key}, keys, fkeys, runs, ('{{}}'::jsonb || skeys) AS skeys "
            f"FROM {source} WHERE {where} OFFSET 0)")


class PostgresBulkWriter:
    """Rows written in batches; a checkpoint and a commit every ``commit_every`` records."""

    BATCH = 2000

    def __init__(self, index: PostgresSearchIndex, connect: Callable[[], sa.Connection],
                 commit_every: int, update: bool, commit: Callable[[], None] | None):
        self._index = index
        self._connect = connect
        self._commit_every = commit_every
        self._update = update
        self._commit = commit
        self._records: list[dict] = []
        self._customers: list[dict] = []
        self._since_commit = 0
        self._last: int | None = None
        self.added = 0

    def add(self, docs: Iterable[IndexDoc | CustomerDoc]) -> None:
        for d in docs:
            if isinstance(d, CustomerDoc):
                self._customers.append(customer_row(d))
            else:
                self._records.append(record_row(d))
                self._last = d.record_id if self._last is None else max(self._last, d.record_id)
            self.added += 1
            self._since_commit += 1
            if len(self._records) + len(self._customers) >= self.BATCH:
                self._flush()
            if self._since_commit >= self._commit_every:
                self._checkpoint(self._last)

    def _flush(self) -> None:
        conn = self._connect()
        _upsert(conn, RECORDS_TABLE, RECORD_COLUMNS, self._records, update=self._update)
        _upsert(conn, CUSTOMERS_TABLE, CUSTOMER_COLUMNS, self._customers, update=self._update)
        self._records, self._customers = [], []

    def _checkpoint(self, last: int | None) -> None:
        self._flush()
        self._index._write_checkpoint(self._connect(), last)
        if self._commit is not None:
            self._commit()
        self._since_commit = 0

    def finish(self, build_indexes: bool = False) -> None:
        """Write what is left, build the GIN indexes if they were dropped, drop the checkpoint."""
        self._flush()
        if build_indexes:
            _create_gin(self._connect())
        self._checkpoint(None)


#: The GIN indexes of migration 0019, by name: dropped and built again around a bulk load.
GIN_INDEXES = {
    "ix_search_records_keys": (RECORDS_TABLE, "keys"),
    "ix_search_records_fkeys": (RECORDS_TABLE, "fkeys"),
}


def _drop_gin_if_empty(conn: sa.Connection) -> bool:
    """Drop the records' GIN indexes if the table is empty (a rebuild); True if dropped. A
    resumed rebuild finds rows and its indexes already gone: ``finish`` builds any missing."""
    present = _gin_indexes(conn)
    if conn.execute(sa.text(f"SELECT EXISTS (SELECT 1 FROM {RECORDS_TABLE})")).scalar():
        return bool(set(GIN_INDEXES) - set(present))
    # DROP INDEX waits for every open transaction that has read the table: try for a moment,
    # else keep the indexes (the load is slower, nothing else changes)
    try:
        with conn.begin_nested():
            conn.execute(sa.text("SET LOCAL lock_timeout = '2s'"))
            for name in present:
                conn.execute(sa.text(f"DROP INDEX {name}"))
            conn.execute(sa.text("SET LOCAL lock_timeout = DEFAULT"))
    except sa.exc.DBAPIError:
        return False
    return True


def _gin_indexes(conn: sa.Connection) -> list[str]:
    """The GIN indexes of the records table (in the current schema)."""
    return list(conn.execute(sa.text(
        "SELECT indexname FROM pg_indexes WHERE tablename = :t AND schemaname = current_schema() "
        "AND indexdef ILIKE '%USING gin%'"), {"t": RECORDS_TABLE}).scalars())


def _create_gin(conn: sa.Connection) -> None:
    conn.execute(sa.text("SET LOCAL maintenance_work_mem = '256MB'"))
    for name, (table, column) in GIN_INDEXES.items():
        conn.execute(sa.text(f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({column}) "
                             "WITH (fastupdate = off)"))


def _upsert(conn: sa.Connection, table: str, columns: tuple[str, ...], rows: list[dict],
            update: bool) -> None:
    key = columns[0]
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[start:start + ROWS_PER_STATEMENT]
        params: dict[str, object] = {}
        values = []
        for i, row in enumerate(chunk):
            names = []
            for c in columns:
                if c in ("keys", "fkeys"):
                    # one string split by the server: the driver's conversion of a list of a few
                    # hundred strings to an array literal was most of an insert's time
                    params[f"{c}_{i}"] = " ".join(row[c])
                    names.append(f"string_to_array(:{c}_{i}, ' ')")
                elif c == "skeys":
                    params[f"{c}_{i}"] = row[c]
                    names.append(f"CAST(:{c}_{i} AS jsonb)")
                elif c == "code_cuts":
                    params[f"{c}_{i}"] = " ".join(str(n) for n in row[c])
                    names.append(f"CAST(string_to_array(:{c}_{i}, ' ') AS smallint[])")
                else:
                    params[f"{c}_{i}"] = row[c]
                    names.append(f":{c}_{i}")
            values.append("(" + ", ".join(names) + ")")
        # a rebuild without update still replaces: a resumed one may meet rows it wrote before
        sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns[1:])
        conflict = f"ON CONFLICT ({key}) DO UPDATE SET {sets}"
        conn.execute(sa.text(f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                             + ", ".join(values) + " " + conflict), params)


def _delete(conn: sa.Connection, table: str, column: str, ids: list[int]) -> int:
    if not ids:
        return 0
    return conn.execute(sa.text(f"DELETE FROM {table} WHERE {column} = ANY(CAST(:ids AS bigint[]))"),
                        {"ids": sorted(set(ids))}).rowcount


__all__ = ["PostgresSearchIndex", "compile_query", "key_arrays", "record_row", "customer_row"]

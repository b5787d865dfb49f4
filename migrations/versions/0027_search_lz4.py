"""search on PostgreSQL: the wide columns compressed with lz4; the codes printed in the text in the short key array

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-03 07:20:00

Why: a search reads a wide value per candidate row in three places: the text's key array where
the planner filters rows found by another index (a common word with a record type and years:
``keys @> ..`` on each row of the type's years), ``runs`` for the exact check of a phrase, and
``skeys`` for a score. Each read decompresses the value; pglz decompresses several times slower
than lz4, and it left ``runs`` (Chinese text, three bytes a character) uncompressed: pglz gives
up on values that do not shrink by a quarter. With lz4 at 100,000 records (paired A/B, the same
480 queries, same answers): seed phrases p50 66 -> 37 ms, a common word with filters p95 156 ->
65 ms, all queries p95 70 -> 52 ms; the tables 1,128 -> 1,037 MiB (``skeys`` 1.7 -> 0.7 kB a
row; the key arrays ~10 % larger).

The numbers and codes printed in the text (``t`` keys) move from the text's long array (``keys``)
to the short one (``fkeys``), beside the fields' numbers: a number searched with a name (``唐
2238``) or alone is then answered by one GIN search of one array. Across the two arrays,
PostgreSQL took the name's rows from one index and read each one's long array for the number (at
100,000 records 775 rows read for 5 matches).

A column's compression applies to values written after it is set. Existing rows are written
again here, each wide value made anew (so compressed with lz4; the ``t`` keys moved), by one
``ALTER TABLE ... ALTER COLUMN ... TYPE ... USING``: a new file holding only the live rows, every
index built again, then ANALYZE. That holds the tables locked for the time it takes.

A server built without lz4 (``compression method lz4 not supported``) keeps pglz: the ALTER is
tried in a savepoint, then made without the compression (the rows still move their ``t`` keys).
"""
import sqlalchemy as sa
from alembic import op

revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None

#: The ``t`` keys of an array column, and the others: functions of this session (a USING
#: expression may not hold a subquery).
_CODES_IN = "pg_temp.search_codes_in({col}, true)"
_NOT_CODES_IN = "pg_temp.search_codes_in({col}, false)"
_CODES_FUNCTION = ("CREATE OR REPLACE FUNCTION pg_temp.search_codes_in(keys text[], codes boolean) "
                   "RETURNS text[] LANGUAGE sql IMMUTABLE AS "
                   "$$ SELECT ARRAY(SELECT x FROM unnest(keys) x WHERE (left(x, 1) = 't') = codes) $$")
#: Per table: its wide columns with their types and the expression that makes each value anew (a
#: value copied as it is keeps its compression); customers have no ``t`` keys.
_TABLES = {
    "search_records": {
        "keys": ("text[]", _NOT_CODES_IN.format(col="keys")),
        "fkeys": ("text[]", "fkeys || " + _CODES_IN.format(col="keys")),
        "skeys": ("jsonb", "skeys || '{}'::jsonb"), "runs": ("text", "runs || ''"),
        "name": ("text", "name || ''"), "title": ("text", "title || ''"), "content": ("text", "content || ''")},
    "search_customers": {
        "keys": ("text[]", "keys || '{}'::text[]"), "fkeys": ("text[]", "fkeys || '{}'::text[]"),
        "skeys": ("jsonb", "skeys || '{}'::jsonb"), "runs": ("text", "runs || ''"), "name": ("text", "name || ''")},
}


def _rewrite(bind, table: str, columns: dict[str, tuple[str, str]], compression: str | None) -> None:
    """The table written anew with each column's expression, as one ALTER TABLE ... TYPE ...
    USING: PostgreSQL copies the live rows into a new file and builds every index again. (An
    UPDATE then CLUSTER in the migration's transaction kept the old row versions too: CLUSTER
    keeps rows deleted by a transaction still in progress, its own included; at 1,000,000
    records the table went from 10 to 17 GB.) The columns' compression is set in the same
    command (a TYPE change sets it back to the default); a server without it keeps its own."""
    op.execute("SET LOCAL maintenance_work_mem = '256MB'")
    op.execute(_CODES_FUNCTION)
    types = [f"ALTER COLUMN {c} TYPE {t} USING {e}" for c, (t, e) in columns.items()]
    if compression:
        try:
            with bind.begin_nested():
                bind.exec_driver_sql(f"ALTER TABLE {table} " + ", ".join(
                    types + [f"ALTER COLUMN {c} SET COMPRESSION {compression}" for c in columns]))
                types = []
        except sa.exc.DBAPIError:  # compression method lz4 not supported
            pass
    if types:
        op.execute(f"ALTER TABLE {table} " + ", ".join(types))
    op.execute(f"ANALYZE {table}")


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table, columns in _TABLES.items():
        _rewrite(bind, table, columns, "lz4")


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table, columns in _TABLES.items():
        back = dict(columns)
        if table == "search_records":
            back.update(keys=("text[]", "keys || " + _CODES_IN.format(col="fkeys")),
                        fkeys=("text[]", _NOT_CODES_IN.format(col="fkeys")))
        _rewrite(bind, table, back, "pglz")

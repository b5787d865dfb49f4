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
again here (each wide value made anew, so it is compressed with lz4; the ``t`` keys moved): the GIN indexes dropped
around that UPDATE (every row changes) and built again, then the table rewritten in key order
(CLUSTER, as 0026) to leave no old row versions behind, then ANALYZE. That holds the tables locked
for the time it takes (at 100,000 records a few minutes); ``archive reindex`` does the same.

A server built without lz4 (``compression method lz4 not supported``) keeps pglz: the ALTER is
tried in a savepoint (the rows are still written again, for the ``t`` keys).
"""
import sqlalchemy as sa
from alembic import op

revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None

#: The ``t`` keys of an array column.
_CODES_IN = "ARRAY(SELECT x FROM unnest({col}) x WHERE left(x, 1) = 't')"
_NOT_CODES_IN = "ARRAY(SELECT x FROM unnest({col}) x WHERE left(x, 1) <> 't')"
#: Per table: its primary key, GIN indexes, and wide columns with the expression that makes
#: each value anew (a value copied as it is keeps its compression); customers have no ``t`` keys.
_TABLES = {
    "search_records": ("pk_search_records", ("keys", "fkeys"), {
        "keys": _NOT_CODES_IN.format(col="keys"),
        "fkeys": "fkeys || " + _CODES_IN.format(col="keys"), "skeys": "skeys || '{}'::jsonb",
        "runs": "runs || ''", "name": "name || ''", "title": "title || ''", "content": "content || ''"}),
    "search_customers": ("pk_search_customers", ("keys", "fkeys"), {
        "keys": "keys || '{}'::text[]", "fkeys": "fkeys || '{}'::text[]", "skeys": "skeys || '{}'::jsonb",
        "runs": "runs || ''", "name": "name || ''"}),
}


def _set_compression(bind, table: str, columns, method: str) -> bool:
    alter = ", ".join(f"ALTER COLUMN {c} SET COMPRESSION {method}" for c in columns)
    try:
        with bind.begin_nested():
            bind.exec_driver_sql(f"ALTER TABLE {table} {alter}")
    except sa.exc.DBAPIError:
        return False
    return True


def _rewrite(bind, table: str, pk: str, gin, values: dict[str, str]) -> None:
    """Every row of ``table`` written again with ``values``, the GIN indexes built anew, the
    table compacted in key order."""
    if not bind.exec_driver_sql(f"SELECT EXISTS (SELECT 1 FROM {table})").scalar():
        return
    for col in gin:
        op.execute(f"DROP INDEX IF EXISTS ix_{table}_{col}")
    op.execute(f"UPDATE {table} SET " + ", ".join(f"{c} = {e}" for c, e in values.items()))
    op.execute(f"CLUSTER {table} USING {pk}")
    op.execute("SET LOCAL maintenance_work_mem = '256MB'")
    for col in gin:
        op.execute(f"CREATE INDEX ix_{table}_{col} ON {table} USING gin ({col}) WITH (fastupdate = off)")
    op.execute(f"ANALYZE {table}")


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table, (pk, gin, remake) in _TABLES.items():
        _set_compression(bind, table, remake, "lz4")  # else pglz stays
        _rewrite(bind, table, pk, gin, remake)


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table, (pk, gin, remake) in _TABLES.items():
        _set_compression(bind, table, remake, "pglz")
    pk, gin, _ = _TABLES["search_records"]
    _rewrite(bind, "search_records", pk, gin, {
        "keys": "keys || " + _CODES_IN.format(col="fkeys"), "fkeys": _NOT_CODES_IN.format(col="fkeys")})

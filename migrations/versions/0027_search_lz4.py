"""search on PostgreSQL: the wide columns compressed with lz4

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

A column's compression applies to values written after it is set. Existing rows are written
again here (each wide value made anew, so it is compressed with lz4): the GIN indexes dropped
around that UPDATE (every row changes) and built again, then the table rewritten in key order
(CLUSTER, as 0026) to leave no old row versions behind, then ANALYZE. That holds the tables locked
for the time it takes (at 100,000 records a few minutes); ``archive reindex`` does the same.

A server built without lz4 (``compression method lz4 not supported``) keeps pglz: the ALTER is
tried in a savepoint and the rows are left as they are.
"""
import sqlalchemy as sa
from alembic import op

revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None

#: Per table: its primary key, GIN indexes, and wide columns with the expression that makes
#: each value anew (a value copied as it is keeps its compression).
_TABLES = {
    "search_records": ("pk_search_records", ("keys", "fkeys"), {
        "keys": "keys || '{}'::text[]", "fkeys": "fkeys || '{}'::text[]", "skeys": "skeys || '{}'::jsonb",
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


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table, (pk, gin, remake) in _TABLES.items():
        if not _set_compression(bind, table, remake, "lz4"):
            continue
        if not bind.exec_driver_sql(f"SELECT EXISTS (SELECT 1 FROM {table})").scalar():
            continue
        for col in gin:
            op.execute(f"DROP INDEX IF EXISTS ix_{table}_{col}")
        op.execute(f"UPDATE {table} SET " + ", ".join(f"{c} = {e}" for c, e in remake.items()))
        op.execute(f"CLUSTER {table} USING {pk}")
        op.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for col in gin:
            op.execute(f"CREATE INDEX ix_{table}_{col} ON {table} USING gin ({col}) WITH (fastupdate = off)")
        op.execute(f"ANALYZE {table}")


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table, (_, _, remake) in _TABLES.items():
        _set_compression(bind, table, remake, "pglz")

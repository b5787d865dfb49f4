"""search on PostgreSQL: ``skeys``, the keys a score asks about, as a jsonb object

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-02 15:30:00

Why: a search's score asks each matching row several "does this row hold key X" questions (name
and title boosts, which field a number is in). Asked of a ``text[]`` (``fkeys @> ARRAY[X]``),
each is a scan of the row's ~130 keys: ~35 µs a row for the ten boosts of two words, most of a
query with 4,000 matches. A jsonb object's keys are sorted, so ``jsonb_exists_all(skeys, ...)``
is a binary search (measured 4.5x less per row). ``skeys`` holds every key of ``fkeys`` and the
``t`` keys of ``keys`` (档号 printed in the text, ~20 a record), not the text's bigrams.

Default storage (compressed, ~0.9 kB a row): a search reads it once per matching row
(``postgres_backend._matches``) and asks its questions of that copy. Kept uncompressed in the
row instead (storage MAIN, toast_tuple_target 4080: measured) the heap was 4x wider and a common
word's 45,000 candidate rows read 31,000 heap pages: 2-3x slower there. The GIN indexes stay on
the arrays (the WHERE clause).

Existing rows get their ``skeys`` from their own arrays here (no rebuild needed): the GIN
indexes are dropped around that UPDATE (every row changes) and built again. The UPDATE leaves
every old row version behind: until (auto)vacuum has passed, a search reads them too (measured
at 100k: a query of 4,400 matches 3x slower). Run ``VACUUM (ANALYZE) search_records`` after the
upgrade (it cannot run in the migration's transaction), or ``archive reindex``. Measured at
100,000 records on the loaded 2-core machine: 370 s.
Number 0022 taken while 0021 may be in flight elsewhere: re-chain onto the head when merging.
"""
from alembic import op

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None

_FILL = ("UPDATE {t} SET skeys = (SELECT COALESCE(jsonb_object_agg(k, NULL), '{{}}'::jsonb) FROM "
         "unnest(fkeys || ARRAY(SELECT x FROM unnest(keys) x WHERE left(x, 1) = 't')) k)")
_GIN = {"search_records": ("ix_search_records_keys", "ix_search_records_fkeys"),
        "search_customers": ("ix_search_customers_keys", "ix_search_customers_fkeys")}


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table, (ix_keys, ix_fkeys) in _GIN.items():
        # a constant default: no rewrite of the table here
        op.execute(f"ALTER TABLE {table} ADD COLUMN skeys jsonb NOT NULL DEFAULT '{{}}'::jsonb")
        op.execute(f"ALTER TABLE {table} ALTER COLUMN skeys DROP DEFAULT")
        if bind.exec_driver_sql(f"SELECT EXISTS (SELECT 1 FROM {table})").scalar():
            op.execute(f"DROP INDEX IF EXISTS {ix_keys}")
            op.execute(f"DROP INDEX IF EXISTS {ix_fkeys}")
            op.execute(_FILL.format(t=table))
            op.execute("SET LOCAL maintenance_work_mem = '256MB'")
            op.execute(f"CREATE INDEX {ix_keys} ON {table} USING gin (keys) WITH (fastupdate = off)")
            op.execute(f"CREATE INDEX {ix_fkeys} ON {table} USING gin (fkeys) WITH (fastupdate = off)")
            op.execute(f"ANALYZE {table}")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _GIN:
        op.execute(f"ALTER TABLE {table} DROP COLUMN skeys")

"""search on PostgreSQL: the 档号 prefix of each record in a btree with the permission columns

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-03 10:30:00

Why: a 档号 prefix (``0001-2020``, 全宗号-年度) holds a year's records: at 1,000,000 records
80,000 candidates of which the benchmark's user may see 44,000. Found through the GIN index on
``fkeys``, each candidate's row was read for its permission columns and its id: at 34 rows a
page those 80,000 rows were 95 % of the table's pages (p50 180 ms). Each record now carries its
longest 档号 prefix key (``code_prefix``, in the "C" collation, so a range over it is a range of
bytes) and the lengths of all of its prefix keys (``code_cuts``): a record holds the key ``^X``
exactly when ``code_prefix`` starts with X and X's length is a cut. The btree over
``code_prefix`` includes the cuts, ``dept``, ``secrecy`` and ``record_id``, so a prefix's
records the user may see are read from the index alone (an index-only scan: the rows are not
visited once VACUUM has marked their pages all-visible).

Existing rows get their values from their ``c^`` keys (``fkeys``) by one ``ALTER TABLE ... TYPE
... USING``, which writes the table anew and builds every index again (see 0027): the table is
locked for that time.
"""
from alembic import op

revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None

#: A record's longest ``c^`` key and the lengths of all of them (see
#: postgres_backend.code_columns); functions of this session: a USING expression may not hold
#: a subquery.
_FUNCTIONS = (
    "CREATE OR REPLACE FUNCTION pg_temp.search_code_prefix(fkeys text[]) RETURNS text "
    "LANGUAGE sql IMMUTABLE AS $$ SELECT substr(x, 3) FROM unnest(fkeys) x "
    "WHERE left(x, 2) = 'c^' ORDER BY length(x) DESC LIMIT 1 $$",
    "CREATE OR REPLACE FUNCTION pg_temp.search_code_cuts(fkeys text[]) RETURNS smallint[] "
    "LANGUAGE sql IMMUTABLE AS $$ SELECT coalesce(array_agg(CAST(length(x) - 2 AS smallint) "
    "ORDER BY length(x)), '{}') FROM unnest(fkeys) x WHERE left(x, 2) = 'c^' $$",
)


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("SET LOCAL maintenance_work_mem = '256MB'")
    for sql in _FUNCTIONS:
        op.execute(sql)
    op.execute('ALTER TABLE search_records ADD COLUMN code_prefix text COLLATE "C", '
               "ADD COLUMN code_cuts smallint[] NOT NULL DEFAULT '{}'")
    op.execute('ALTER TABLE search_records '
               'ALTER COLUMN code_prefix TYPE text COLLATE "C" USING pg_temp.search_code_prefix(fkeys), '
               'ALTER COLUMN code_cuts TYPE smallint[] USING pg_temp.search_code_cuts(fkeys)')
    op.execute("CREATE INDEX ix_search_records_code_prefix ON search_records (code_prefix) "
               "INCLUDE (code_cuts, dept, secrecy, record_id)")
    op.execute("ANALYZE search_records")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX ix_search_records_code_prefix")
    op.execute("ALTER TABLE search_records DROP COLUMN code_prefix, DROP COLUMN code_cuts")

"""search on PostgreSQL: narrow rows, their keys and texts stored apart (toast_tuple_target 128)

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-02 18:20:00

Why: a search with many matches visits each match's row in the table's heap (its permission
columns, its id). With the keys, the texts and ``skeys`` compressed inside the row (the default:
values are only moved out of a row wider than 2 kB), a row took ~1.9 kB, four rows a page: the
4,400 matches of a 档号 prefix at 100,000 records read 7,100 pages, and at 1,000,000 records
44,000 matches read most of a 2 GB heap. With ``toast_tuple_target`` at its least (128 bytes)
every wide value is stored in the table's TOAST relation and a row keeps a pointer: ~34 rows a
page (heap 186 MB -> 23 MB at 100,000 records). The GIN indexes answer the conditions without
reading the arrays; the values are read only where a statement asks for them (a score from
``skeys`` for a few thousand matches, the exact check's ``runs``, a page's snippets).

Existing rows are rewritten here (CLUSTER on the primary key: the rows in id order, each stored
anew under the new target), which holds the table locked for the rewrite; then ANALYZE.
"""
from alembic import op

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None

_TABLES = {"search_records": "pk_search_records", "search_customers": "pk_search_customers"}


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table, pk in _TABLES.items():
        op.execute(f"ALTER TABLE {table} SET (toast_tuple_target = 128)")
        if bind.exec_driver_sql(f"SELECT EXISTS (SELECT 1 FROM {table})").scalar():
            op.execute(f"CLUSTER {table} USING {pk}")
            op.execute(f"ANALYZE {table}")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _TABLES:
        op.execute(f"ALTER TABLE {table} RESET (toast_tuple_target)")

"""search on PostgreSQL: the key arrays (GIN) of records and customers, written with the records

Two arrays a row: ``keys`` (the text's bigrams, words and printed numbers: long) and ``fkeys``
(the short fields' keys, pinyin, phones, 档号/客户号: a few dozen), see search_index.postgres_backend.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 11:00:00

Only on PostgreSQL (text[] and GIN); on SQLite the Whoosh index is the only backend. The tables
are derived data owned by ``search_index.postgres_backend``, not models: backups leave them out
and ``archive reindex`` rebuilds them. Number 0019 taken while 0016-0018 are in flight elsewhere:
re-chain onto the head when merging.
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.create_table(
        'search_records',
        sa.Column('record_id', sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column('customer_id', sa.BigInteger(), nullable=False),
        sa.Column('keys', postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column('fkeys', postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column('runs', sa.Text(), nullable=False),
        sa.Column('name', sa.Text(), nullable=False),
        sa.Column('title', sa.Text(), nullable=False),
        sa.Column('content', sa.Text(), nullable=False),
        sa.Column('record_type', sa.Text(), nullable=False),
        sa.Column('part', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('grade', sa.Text(), nullable=False),
        sa.Column('secrecy', sa.Integer(), nullable=False),
        sa.Column('dept', sa.Integer(), nullable=True),
        sa.Column('project_key', sa.Text(), nullable=False),
        sa.Column('status', sa.Text(), nullable=False),
        sa.Column('sort_date', sa.BigInteger(), nullable=False),
    )
    # fastupdate off: a search never scans a pending list (writes are a record at a time)
    op.execute("CREATE INDEX ix_search_records_keys ON search_records USING gin (keys) "
               "WITH (fastupdate = off)")
    op.execute("CREATE INDEX ix_search_records_fkeys ON search_records USING gin (fkeys) "
               "WITH (fastupdate = off)")
    op.create_index('ix_search_records_sort_date', 'search_records', ['sort_date'])
    # the filters a query may hold without a selective text (a customer's records; a common word
    # of one record type and year): without them every such query read the whole table
    op.create_index('ix_search_records_customer_id', 'search_records', ['customer_id'])
    op.create_index('ix_search_records_type_year', 'search_records', ['record_type', 'year'])
    op.create_table(
        'search_customers',
        sa.Column('customer_id', sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column('keys', postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column('fkeys', postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column('runs', sa.Text(), nullable=False),
        sa.Column('name', sa.Text(), nullable=False),
        sa.Column('dept', sa.Integer(), nullable=True),
        sa.Column('sort_date', sa.BigInteger(), nullable=False),
    )
    op.execute("CREATE INDEX ix_search_customers_keys ON search_customers USING gin (keys) "
               "WITH (fastupdate = off)")
    op.execute("CREATE INDEX ix_search_customers_fkeys ON search_customers USING gin (fkeys) "
               "WITH (fastupdate = off)")
    op.create_table(
        'search_state',
        sa.Column('name', sa.Text(), primary_key=True),
        sa.Column('value', sa.Text(), nullable=False),
    )
    # an archive that already holds records has empty search tables: the app queues the rebuild
    # (the keys are made by the analysis in Python, not here); rebuild_index's clear() drops it
    op.execute("INSERT INTO search_state (name, value) SELECT 'needs_rebuild', '1' "
               "WHERE EXISTS (SELECT 1 FROM records)")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_table('search_state')
    op.drop_table('search_customers')
    op.drop_table('search_records')

"""read positions: the primary's WAL position after each user's last write, which their reads on the
read replica (ARCHIVE_DATABASE_READ_URL) wait for (archive_app.replica_reads)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 15:10:00

Only on PostgreSQL (pg_lsn; a replica is a PostgreSQL standby). UNLOGGED: written after every
changing request, read on the primary only, so it needs no WAL and is never replicated; after a
crash it is empty, which costs a user at most seeing their last write after the replication lag.
Not a model: owned by ``archive_app.replica_reads``, left out of backups.
"""
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE UNLOGGED TABLE read_positions (user_id bigint PRIMARY KEY, lsn pg_lsn NOT NULL)")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_table('read_positions')

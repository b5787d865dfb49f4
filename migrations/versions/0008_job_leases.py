"""job leases: who runs a file's extraction and until when, and its retries

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 03:00:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('record_files', schema=None) as batch_op:
        batch_op.add_column(sa.Column('leased_by', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('retries', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('last_retry_reason', sa.String(length=32), nullable=False,
                                      server_default=''))


def downgrade():
    with op.batch_alter_table('record_files', schema=None) as batch_op:
        batch_op.drop_column('last_retry_reason')
        batch_op.drop_column('retries')
        batch_op.drop_column('lease_until')
        batch_op.drop_column('leased_by')

"""Searchable copies: the key of a file's PDF copy with an invisible text layer

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 05:45:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
# Re-chained onto 0012 when the branches adding 0011 and 0012 are merged.
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('record_files', schema=None) as batch_op:
        batch_op.add_column(sa.Column('searchable_key', sa.String(length=240), nullable=True))


def downgrade():
    with op.batch_alter_table('record_files', schema=None) as batch_op:
        batch_op.drop_column('searchable_key')

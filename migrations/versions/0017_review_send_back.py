"""review queue: a draft sent back to its uploader (退回修改) with a reason

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 10:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('returned_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('returned_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('returned_reason', sa.String(length=500), nullable=False, server_default=''))
        batch_op.create_foreign_key(batch_op.f('fk_records_returned_by_id_users'), 'users', ['returned_by_id'], ['id'])


def downgrade():
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_records_returned_by_id_users'), type_='foreignkey')
        batch_op.drop_column('returned_reason')
        batch_op.drop_column('returned_by_id')
        batch_op.drop_column('returned_at')

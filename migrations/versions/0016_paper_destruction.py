"""paper originals destroyed (原件销毁) as a step of a disposal batch; what each tombstone's paper was

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 10:10:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('disposal_batches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('paper_destroyed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('paper_destroyed_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('paper_method', sa.String(length=16), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('paper_supervisor1_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('paper_supervisor2_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('paper_note', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('paper_count', sa.Integer(), nullable=False, server_default='0'))
        batch_op.create_foreign_key(batch_op.f('fk_disposal_batches_paper_destroyed_by_id_users'), 'users',
                                    ['paper_destroyed_by_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_disposal_batches_paper_supervisor1_id_users'), 'users',
                                    ['paper_supervisor1_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_disposal_batches_paper_supervisor2_id_users'), 'users',
                                    ['paper_supervisor2_id'], ['id'])
    with op.batch_alter_table('destruction_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('paper_location', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('paper_destroyed_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('destruction_entries', schema=None) as batch_op:
        batch_op.drop_column('paper_destroyed_at')
        batch_op.drop_column('paper_location')
    with op.batch_alter_table('disposal_batches', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_disposal_batches_paper_supervisor2_id_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_disposal_batches_paper_supervisor1_id_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_disposal_batches_paper_destroyed_by_id_users'), type_='foreignkey')
        for column in ('paper_count', 'paper_note', 'paper_supervisor2_id', 'paper_supervisor1_id', 'paper_method',
                       'paper_destroyed_by_id', 'paper_destroyed_at'):
            batch_op.drop_column(column)

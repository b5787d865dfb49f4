"""fixity: runs and the latest result per stored original

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 03:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('fixity_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.Column('sample_pct', sa.Float(), nullable=True),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('files_checked', sa.Integer(), nullable=False),
    sa.Column('bytes_checked', sa.BigInteger(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('orphans', sa.Integer(), nullable=False),
    sa.Column('problems', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fixity_runs'))
    )
    with op.batch_alter_table('fixity_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fixity_runs_started_at'), ['started_at'], unique=False)
    op.create_table('fixity_results',
    sa.Column('file_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('file_id', name=op.f('pk_fixity_results'))
    )
    with op.batch_alter_table('fixity_results', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fixity_results_record_id'), ['record_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fixity_results_checked_at'), ['checked_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_fixity_results_status'), ['status'], unique=False)


def downgrade():
    op.drop_table('fixity_results')
    op.drop_table('fixity_runs')

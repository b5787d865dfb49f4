"""四性检测: the latest result of each check of a record and its files

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 05:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('admission_checks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('file_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('result', sa.String(length=8), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('checker', sa.String(length=100), nullable=False),
    sa.CheckConstraint("kind IN ('authenticity', 'integrity', 'usability', 'security')",
                       name=op.f('ck_admission_checks_kind')),
    sa.CheckConstraint("result IN ('passed', 'flag', 'failed', 'pending')", name=op.f('ck_admission_checks_result')),
    sa.ForeignKeyConstraint(['record_id'], ['records.id'], name=op.f('fk_admission_checks_record_id_records')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admission_checks')),
    sa.UniqueConstraint('record_id', 'file_id', 'kind', name=op.f('uq_admission_checks_record_id_file_id_kind'))
    )
    with op.batch_alter_table('admission_checks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_admission_checks_record_id'), ['record_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_admission_checks_result'), ['result'], unique=False)
        batch_op.create_index(batch_op.f('ix_admission_checks_checked_at'), ['checked_at'], unique=False)


def downgrade():
    op.drop_table('admission_checks')

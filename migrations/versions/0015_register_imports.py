"""register imports (登记表导入): the stored import reports

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 06:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('register_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('total_rows', sa.Integer(), nullable=False),
    sa.Column('ready_rows', sa.Integer(), nullable=False),
    sa.Column('error_rows', sa.Integer(), nullable=False),
    sa.Column('duplicate_rows', sa.Integer(), nullable=False),
    sa.Column('customers_created', sa.Integer(), nullable=False),
    sa.Column('cards_created', sa.Integer(), nullable=False),
    sa.Column('skipped_errors', sa.Boolean(), nullable=False),
    sa.Column('mapping_json', sa.Text(), nullable=False),
    sa.Column('problems_json', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_register_imports_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_register_imports'))
    )
    with op.batch_alter_table('register_imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_register_imports_created_at'), ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('register_imports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_register_imports_created_at'))
    op.drop_table('register_imports')

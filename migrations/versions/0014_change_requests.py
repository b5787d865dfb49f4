"""客户数据变更: change requests, the change history, quarterly verifications

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 06:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
# Re-chained on merge after 0012 (visitor cards) and 0013.
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('change_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('requester_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('changes', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('sensitive', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('head_id', sa.Integer(), nullable=True),
    sa.Column('head_decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('second_id', sa.Integer(), nullable=True),
    sa.Column('second_decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=False),
    sa.CheckConstraint("status IN ('pending_head', 'pending_second', 'approved', 'rejected')",
                       name=op.f('ck_change_requests_status')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_change_requests_customer_id_customers')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'],
                            name=op.f('fk_change_requests_department_id_departments')),
    sa.ForeignKeyConstraint(['head_id'], ['users.id'], name=op.f('fk_change_requests_head_id_users')),
    sa.ForeignKeyConstraint(['requester_id'], ['users.id'], name=op.f('fk_change_requests_requester_id_users')),
    sa.ForeignKeyConstraint(['second_id'], ['users.id'], name=op.f('fk_change_requests_second_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_change_requests'))
    )
    with op.batch_alter_table('change_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_change_requests_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_change_requests_requester_id'), ['requester_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_change_requests_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_change_requests_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_change_requests_decided_at'), ['decided_at'], unique=False)

    op.create_table('customer_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=32), nullable=False),
    sa.Column('before', sa.Text(), nullable=False),
    sa.Column('after', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=True),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('second_by_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("source IN ('request', 'correction')", name=op.f('ck_customer_changes_source')),
    sa.ForeignKeyConstraint(['approved_by_id'], ['users.id'], name=op.f('fk_customer_changes_approved_by_id_users')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_changes_customer_id_customers')),
    sa.ForeignKeyConstraint(['request_id'], ['change_requests.id'],
                            name=op.f('fk_customer_changes_request_id_change_requests')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_customer_changes_requested_by_id_users')),
    sa.ForeignKeyConstraint(['second_by_id'], ['users.id'], name=op.f('fk_customer_changes_second_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_changes'))
    )
    with op.batch_alter_table('customer_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_changes_customer_id'), ['customer_id'], unique=False)

    op.create_table('customer_verifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('quarter', sa.String(length=7), nullable=False),
    sa.Column('verified_by_id', sa.Integer(), nullable=False),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                            name=op.f('fk_customer_verifications_customer_id_customers')),
    sa.ForeignKeyConstraint(['verified_by_id'], ['users.id'],
                            name=op.f('fk_customer_verifications_verified_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_verifications')),
    sa.UniqueConstraint('customer_id', 'quarter', name=op.f('uq_customer_verifications_customer_id_quarter'))
    )
    with op.batch_alter_table('customer_verifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_verifications_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_verifications_quarter'), ['quarter'], unique=False)


def downgrade():
    op.drop_table('customer_verifications')
    op.drop_table('customer_changes')
    op.drop_table('change_requests')

"""reports out (报表): indexes for the weekly counts of visits, deals, grades, follow-ups, loans and records

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 10:30:00

"""
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

INDEXES = [
    ('customers', 'ix_customers_department_grade', ['department_id', 'grade', 'consultant_id']),
    ('customers', 'ix_customers_deal_closed_on', ['deal_closed_on']),
    ('customers', 'ix_customers_created_at', ['created_at']),
    ('records', 'ix_records_created_at', ['created_at']),
    ('records', 'ix_records_reviewed_at', ['reviewed_at']),
    ('visitor_card_visits', 'ix_visitor_card_visits_visited_on', ['visited_on', 'card_id']),
    ('grade_changes', 'ix_grade_changes_week', ['changed_on', 'to_grade', 'from_grade']),
    ('follow_ups', 'ix_follow_ups_due', ['due_on', 'done_on']),
    ('follow_ups', 'ix_follow_ups_done', ['done_on', 'due_on']),
    ('loan_requests', 'ix_loan_requests_created_at', ['created_at']),
]


def upgrade():
    for table, name, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade():
    for table, name, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)

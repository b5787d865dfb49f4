"""report speed: covering indexes for a department's report counts (reached through its customers) and
for the visits' cards and customers, so the report pages read indexes rather than wide rows

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 11:25:00

"""
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

INDEXES = [
    ('customers', 'ix_customers_department_project', ['department_id', 'project', 'grade', 'deal_closed_on', 'name']),
    ('customers', 'ix_customers_project_lookup', ['id', 'project', 'department_id']),
    ('records', 'ix_records_customer_report', ['customer_id', 'secrecy', 'status', 'on_hold', 'disposal_state',
                                               'disposal_date', 'created_at', 'reviewed_at']),
    ('record_files', 'ix_record_files_record_status', ['record_id', 'extract_status']),
    ('visitor_cards', 'ix_visitor_cards_report', ['id', 'scouting', 'consultant_id', 'customer_id']),
    ('visitor_card_visits', 'ix_visitor_card_visits_day', ['visited_on', 'card_id', 'visit_no']),
    ('grade_changes', 'ix_grade_changes_customer_day', ['customer_id', 'changed_on', 'from_grade', 'to_grade']),
    ('follow_ups', 'ix_follow_ups_done_report', ['done_on', 'due_on', 'assignee_id', 'customer_id']),
    ('follow_ups', 'ix_follow_ups_customer_due', ['customer_id', 'due_on', 'done_on', 'assignee_id']),
]
# Indexes the new ones begin with (same leading columns), dropped as redundant.
REPLACED = [
    ('visitor_card_visits', 'ix_visitor_card_visits_visited_on', ['visited_on', 'card_id']),
    ('follow_ups', 'ix_follow_ups_done', ['done_on', 'due_on']),
]


def upgrade():
    for table, name, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)
    for table, name, _columns in REPLACED:
        op.drop_index(name, table_name=table)


def downgrade():
    for table, name, columns in REPLACED:
        op.create_index(name, table, columns, unique=False)
    for table, name, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)

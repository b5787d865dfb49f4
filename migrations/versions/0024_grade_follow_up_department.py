"""grade change and follow-up department: grade changes and follow-ups carry their customer's department
(filled here, kept in step by intake.record_departments) with indexes for a department's weekly counts

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-02 15:40:00

A department head's 客户等级周报 and landing page (工作台), and the 回访 report, reached the department's
grade changes and follow-ups through their customers (every change or follow-up of the period looked up
among the department's customer ids). With the department on the row each count reads one range of a
department index.

On PostgreSQL the fill rewrites every grade change and follow-up: run ``VACUUM ANALYZE grade_changes,
follow_ups`` after the upgrade unless autovacuum is on (as after 0022 for records), else the counts that
read only an index also visit the table until it has run. The migration cannot vacuum: it runs inside a
transaction.
"""
import sqlalchemy as sa
from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None

CARRIERS = ('grade_changes', 'follow_ups')
INDEXES = [
    ('grade_changes', 'ix_grade_changes_department_day', ['department_id', 'changed_on', 'from_grade', 'to_grade']),
    ('follow_ups', 'ix_follow_ups_department_due', ['department_id', 'due_on', 'done_on', 'assignee_id']),
    ('follow_ups', 'ix_follow_ups_department_done', ['department_id', 'done_on', 'due_on', 'assignee_id']),
]
# The indexes that reached a department's rows through their customers (0020), replaced by the above.
REPLACED = [
    ('grade_changes', 'ix_grade_changes_customer_day', ['customer_id', 'changed_on', 'from_grade', 'to_grade']),
    ('follow_ups', 'ix_follow_ups_customer_due', ['customer_id', 'due_on', 'done_on', 'assignee_id']),
]


def _fk(table: str) -> str:
    return op.f(f'fk_{table}_department_id_departments')


def upgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in CARRIERS:
        if sqlite:
            # A plain ADD COLUMN, as 0022 did for records (SQLite accepts a new column's REFERENCES clause
            # when the column defaults to NULL), not a copy-and-rename of a large table.
            op.execute(f"ALTER TABLE {table} ADD COLUMN department_id INTEGER "
                       f"CONSTRAINT {_fk(table)} REFERENCES departments (id)")
        else:
            op.add_column(table, sa.Column('department_id', sa.Integer(), nullable=True))
            op.create_foreign_key(_fk(table), table, 'departments', ['department_id'], ['id'])
        op.execute(f"UPDATE {table} SET department_id = "
                   f"(SELECT customers.department_id FROM customers WHERE customers.id = {table}.customer_id)")
    for table, name, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)
    for table, name, _columns in REPLACED:
        op.drop_index(name, table_name=table)


def downgrade():
    for table, name, columns in REPLACED:
        op.create_index(name, table, columns, unique=False)
    for table, name, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in CARRIERS:
        if sqlite:
            # SQLite drops a column named in a foreign key only by rebuilding the table (nothing points at
            # a grade change or a follow-up, so the copy-and-rename is allowed).
            with op.batch_alter_table(table, schema=None) as batch_op:
                batch_op.drop_column('department_id')
        else:
            op.drop_constraint(_fk(table), table, type_='foreignkey')
            op.drop_column(table, 'department_id')

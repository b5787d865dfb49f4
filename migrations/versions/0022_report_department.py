"""report department: records carry their customer's department (filled here, kept in step by
intake.record_departments) with indexes for a department's record counts; deals and 踩盘 cards counted from
indexes

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02 15:00:00

A department head's 档案 report and landing page counted the department's records by reaching the
department through each record's customer (six passes over 50,000 records at 100,000 customers). With
the department on the record each count reads only the index range of the rows it counts.

On PostgreSQL the fill rewrites every record: until a VACUUM marks the table's pages all-visible again
(autovacuum does, when it is on; else run ``VACUUM ANALYZE records`` after the upgrade) every count that
reads only an index also visits the table, and the report pages ran two to three times slower. The
migration cannot vacuum: it runs inside a transaction.
"""
import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

INDEXES = [
    ('records', 'ix_records_department_created', ['department_id', 'created_at', 'secrecy']),
    ('records', 'ix_records_department_reviewed', ['department_id', 'reviewed_at', 'secrecy']),
    ('records', 'ix_records_department_due', ['department_id', 'status', 'on_hold', 'disposal_state',
                                              'disposal_date', 'secrecy', 'id']),
    ('customers', 'ix_customers_deal_report', ['deal_closed_on', 'department_id', 'consultant_id', 'project']),
    ('visitor_cards', 'ix_visitor_cards_scouting', ['scouting', 'id']),
]
# Indexes the new ones make redundant: the department's records through their customers (0020), and deals
# by day alone (0018; the new deals index begins with the same column).
REPLACED = [
    ('records', 'ix_records_customer_report', ['customer_id', 'secrecy', 'status', 'on_hold', 'disposal_state',
                                               'disposal_date', 'created_at', 'reviewed_at']),
    ('customers', 'ix_customers_deal_closed_on', ['deal_closed_on']),
]


def upgrade():
    fk = op.f('fk_records_department_id_departments')
    if op.get_bind().dialect.name == "sqlite":
        # A plain ADD COLUMN, not a batch (copy-and-rename) of the records table: SQLite, with foreign
        # keys enforced, refuses to drop a records table that files and loans point to; it accepts a new
        # column's REFERENCES clause as long as the column defaults to NULL.
        op.execute(f"ALTER TABLE records ADD COLUMN department_id INTEGER CONSTRAINT {fk} REFERENCES departments (id)")
    else:
        op.add_column('records', sa.Column('department_id', sa.Integer(), nullable=True))
        op.create_foreign_key(fk, 'records', 'departments', ['department_id'], ['id'])
    op.execute("UPDATE records SET department_id = "
               "(SELECT customers.department_id FROM customers WHERE customers.id = records.customer_id)")
    for table, name, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)
    for table, name, _columns in REPLACED:
        op.drop_index(name, table_name=table)


def downgrade():
    for table, name, columns in REPLACED:
        op.create_index(name, table, columns, unique=False)
    for table, name, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    if op.get_bind().dialect.name == "sqlite":
        # SQLite drops a column named in a foreign key only by rebuilding the table (as the other
        # migrations' batches do, which needs no file or loan pointing at a record); the rebuilt table
        # leaves the column's REFERENCES out with it.
        with op.batch_alter_table('records', schema=None) as batch_op:
            batch_op.drop_column('department_id')
    else:
        op.drop_constraint(op.f('fk_records_department_id_departments'), 'records', type_='foreignkey')
        op.drop_column('records', 'department_id')

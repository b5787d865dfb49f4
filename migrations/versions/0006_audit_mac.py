"""audit log: keyed MAC chain, personal data outside the chained bytes

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 09:00:00

Entries already in the log keep their SHA-256 hashes: the migration runs without the audit key and
could not MAC them. They are marked ``scheme = 'sha256'`` and still verified with the old rule; the
first keyed entry chains onto the last of them (its prev_hash), and no unkeyed entry may follow a
keyed one. New rows always say which scheme they use (the model sets it), so the server default only
labels the rows present now.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('personal', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('personal_digest', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('scheme', sa.String(length=16), nullable=False, server_default='sha256'))


def downgrade():
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_column('scheme')
        batch_op.drop_column('personal_digest')
        batch_op.drop_column('personal')

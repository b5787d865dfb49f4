"""user locale: the interface language each user chose (NULL = the default, 简体中文)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02 15:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


# Plain ALTER TABLE on both databases (SQLite has dropped columns since 3.35): a batch rebuild of
# ``users`` would drop the table, which the other tables' foreign keys refuse once it has rows.
def upgrade():
    op.add_column('users', sa.Column('locale', sa.String(length=16), nullable=True))


def downgrade():
    op.drop_column('users', 'locale')

"""visitor cards (温馨卡) with their visit dates, grade history, follow-ups (回访)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 05:32:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('visitor_cards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=True),
    sa.Column('unit_type', sa.String(length=16), nullable=True),
    sa.Column('age_band', sa.String(length=16), nullable=True),
    sa.Column('housing', sa.String(length=16), nullable=True),
    sa.Column('purpose', sa.String(length=16), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=True),
    sa.Column('area_band', sa.String(length=16), nullable=True),
    sa.Column('price_band', sa.String(length=16), nullable=True),
    sa.Column('income_band', sa.String(length=16), nullable=True),
    sa.Column('consultant_id', sa.Integer(), nullable=True),
    sa.Column('grade', sa.String(length=1), nullable=True),
    sa.Column('scouting', sa.Boolean(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("age_band IS NULL OR age_band IN ('under_25', '25_35', '35_45', '45_55', 'over_55')", name=op.f('ck_visitor_cards_age_band')),
    sa.CheckConstraint("area_band IS NULL OR area_band IN ('under_80', '80_100', '100_120', '120_140', '140_160', 'over_160')", name=op.f('ck_visitor_cards_area_band')),
    sa.CheckConstraint("channel IS NULL OR channel IN ('shunchi_club', 'referral', 'outdoor_ad', 'tv', 'passing_by', 'key_account', 'event', 'online', 'dm', 'agency', 'century')", name=op.f('ck_visitor_cards_channel')),
    sa.CheckConstraint("grade IS NULL OR grade IN ('A', 'B', 'C', 'D')", name=op.f('ck_visitor_cards_grade')),
    sa.CheckConstraint("housing IS NULL OR housing IN ('welfare', 'self_built', 'commercial', 'rented', 'pooled')", name=op.f('ck_visitor_cards_housing')),
    sa.CheckConstraint("income_band IS NULL OR income_band IN ('under_30k', '30k_50k', '50k_100k', '100k_200k', 'over_200k')", name=op.f('ck_visitor_cards_income_band')),
    sa.CheckConstraint("price_band IS NULL OR price_band IN ('under_2500', '2500_3000', '3000_3500', '3500_4000', 'over_4000')", name=op.f('ck_visitor_cards_price_band')),
    sa.CheckConstraint("purpose IS NULL OR purpose IN ('own', 'with_parents', 'for_parents', 'for_children', 'investment')", name=op.f('ck_visitor_cards_purpose')),
    sa.CheckConstraint("unit_type IS NULL OR unit_type IN ('enterprise', 'institution', 'self_employed')", name=op.f('ck_visitor_cards_unit_type')),
    sa.ForeignKeyConstraint(['consultant_id'], ['users.id'], name=op.f('fk_visitor_cards_consultant_id_users')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_visitor_cards_created_by_id_users')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_visitor_cards_customer_id_customers')),
    sa.ForeignKeyConstraint(['record_id'], ['records.id'], name=op.f('fk_visitor_cards_record_id_records')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visitor_cards'))
    )
    with op.batch_alter_table('visitor_cards', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_visitor_cards_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_visitor_cards_record_id'), ['record_id'], unique=False)

    op.create_table('follow_ups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('done_on', sa.Date(), nullable=True),
    sa.Column('way', sa.String(length=16), nullable=True),
    sa.Column('result', sa.Text(), nullable=False),
    sa.Column('done_by_id', sa.Integer(), nullable=True),
    sa.Column('card_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("way IS NULL OR way IN ('phone', 'visit', 'store', 'wechat', 'sms', 'other')", name=op.f('ck_follow_ups_way')),
    sa.ForeignKeyConstraint(['assignee_id'], ['users.id'], name=op.f('fk_follow_ups_assignee_id_users')),
    sa.ForeignKeyConstraint(['card_id'], ['visitor_cards.id'], name=op.f('fk_follow_ups_card_id_visitor_cards')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_follow_ups_customer_id_customers')),
    sa.ForeignKeyConstraint(['done_by_id'], ['users.id'], name=op.f('fk_follow_ups_done_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_ups'))
    )
    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_follow_ups_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index('ix_follow_ups_open', ['assignee_id', 'done_on', 'due_on'], unique=False)

    op.create_table('grade_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('from_grade', sa.String(length=1), nullable=True),
    sa.Column('to_grade', sa.String(length=1), nullable=False),
    sa.Column('changed_on', sa.Date(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('changed_by_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("from_grade IS NULL OR from_grade IN ('A', 'B', 'C', 'D')", name=op.f('ck_grade_changes_from_grade')),
    sa.CheckConstraint("to_grade IN ('A', 'B', 'C', 'D')", name=op.f('ck_grade_changes_to_grade')),
    sa.ForeignKeyConstraint(['card_id'], ['visitor_cards.id'], name=op.f('fk_grade_changes_card_id_visitor_cards')),
    sa.ForeignKeyConstraint(['changed_by_id'], ['users.id'], name=op.f('fk_grade_changes_changed_by_id_users')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_grade_changes_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grade_changes'))
    )
    with op.batch_alter_table('grade_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grade_changes_changed_on'), ['changed_on'], unique=False)
        batch_op.create_index('ix_grade_changes_customer', ['customer_id', 'changed_at'], unique=False)

    op.create_table('visitor_card_visits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('visit_no', sa.Integer(), nullable=False),
    sa.Column('visited_on', sa.Date(), nullable=False),
    sa.CheckConstraint('visit_no >= 1', name=op.f('ck_visitor_card_visits_visit_no')),
    sa.ForeignKeyConstraint(['card_id'], ['visitor_cards.id'], name=op.f('fk_visitor_card_visits_card_id_visitor_cards')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visitor_card_visits')),
    sa.UniqueConstraint('card_id', 'visit_no', name=op.f('uq_visitor_card_visits_card_id_visit_no'))
    )
    with op.batch_alter_table('visitor_card_visits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_visitor_card_visits_card_id'), ['card_id'], unique=False)


def downgrade():
    with op.batch_alter_table('visitor_card_visits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_visitor_card_visits_card_id'))

    op.drop_table('visitor_card_visits')
    with op.batch_alter_table('grade_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_grade_changes_customer')
        batch_op.drop_index(batch_op.f('ix_grade_changes_changed_on'))

    op.drop_table('grade_changes')
    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.drop_index('ix_follow_ups_open')
        batch_op.drop_index(batch_op.f('ix_follow_ups_customer_id'))

    op.drop_table('follow_ups')
    with op.batch_alter_table('visitor_cards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_visitor_cards_record_id'))
        batch_op.drop_index(batch_op.f('ix_visitor_cards_customer_id'))

    op.drop_table('visitor_cards')

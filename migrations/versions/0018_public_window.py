"""The public window: each place's address and phone, public query attempts, appointments

Revision ID: 0018
Revises: 0017
"""
import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('org_unit') as batch:
        batch.add_column(sa.Column('address', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('phone', sa.String(length=40), nullable=True))
    op.create_table('query_attempt',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('address', sa.String(length=45), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('matched', sa.Boolean(), nullable=False),
    sa.Column('throttled', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_query_attempt_address_at', 'query_attempt', ['address', 'at'], unique=False)
    op.create_table('appointment',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('item_code', sa.String(length=50), nullable=False),
    sa.Column('place_id', sa.Integer(), nullable=False),
    sa.Column('town_id', sa.Integer(), nullable=False),
    sa.Column('county_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('slot', sa.String(length=10), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('changed_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['item_code'], ['service_item.code'], ),
    sa.ForeignKeyConstraint(['place_id'], ['org_unit.id'], ),
    sa.ForeignKeyConstraint(['town_id'], ['org_unit.id'], ),
    sa.ForeignKeyConstraint(['county_id'], ['org_unit.id'], ),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['changed_by_id'], ['user_account.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_appointment_place_day', 'appointment', ['place_id', 'day'], unique=False)
    op.create_index('ix_appointment_town_day', 'appointment', ['town_id', 'day'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_appointment_town_day', table_name='appointment')
    op.drop_index('ix_appointment_place_day', table_name='appointment')
    op.drop_table('appointment')
    op.drop_index('ix_query_attempt_address_at', table_name='query_attempt')
    op.drop_table('query_attempt')
    # SQLite drops a column in place (3.35+); a batch copy of org_unit would trip the keys that point at it.
    op.drop_column('org_unit', 'phone')
    op.drop_column('org_unit', 'address')

"""The reveal log: who showed which personal number of which case in clear, why, when and from where

Revision ID: 0016
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('data_reveal',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('post', sa.String(length=80), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('address', sa.String(length=45), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case_record.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_data_reveal_at', 'data_reveal', ['at'], unique=False)
    op.create_index('ix_data_reveal_case_id', 'data_reveal', ['case_id'], unique=False)
    op.create_index('ix_data_reveal_user_id_at', 'data_reveal', ['user_id', 'at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_data_reveal_user_id_at', table_name='data_reveal')
    op.drop_index('ix_data_reveal_case_id', table_name='data_reveal')
    op.drop_index('ix_data_reveal_at', table_name='data_reveal')
    op.drop_table('data_reveal')

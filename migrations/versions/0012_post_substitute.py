"""A/B posts: the substitute an administrator names when a post without a B holder is marked away

Revision ID: 0012
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('user_account', sa.Column('substitute_id', sa.Integer(), nullable=True))
    # SQLite can neither ALTER a constraint in nor DROP a column that one names, and a batch copy of
    # user_account would drop a table every other table refers to: there the column stays unconstrained.
    if op.get_bind().dialect.name != "sqlite":
        op.create_foreign_key('fk_user_account_substitute', 'user_account', 'user_account',
                              ['substitute_id'], ['id'])


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint('fk_user_account_substitute', 'user_account', type_='foreignkey')
    op.drop_column('user_account', 'substitute_id')

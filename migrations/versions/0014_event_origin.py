"""Case events record the acting post and the client's address (hashed only when present)

Revision ID: 0014
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('case_event', sa.Column('post', sa.String(length=80), nullable=True))
    op.add_column('case_event', sa.Column('address', sa.String(length=45), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('case_event') as batch:
        batch.drop_column('address')
        batch.drop_column('post')

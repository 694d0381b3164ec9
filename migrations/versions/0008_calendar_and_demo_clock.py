"""Provisional deadlines indexed for the recount after a calendar load; the demo database's moved clock

Revision ID: 0008
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None

# As engine.models has it; written out here so the migration stays as it was when models change.
PROVISIONAL_ROWS = "status = 'open' AND (provisional OR due_date IS NULL)"


def upgrade() -> None:
    op.create_table(
        "demo_clock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=20), nullable=False),
        sa.Column("offset_seconds", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_deadline_provisional", "deadline", ["case_id"],
                    postgresql_where=sa.text(PROVISIONAL_ROWS), sqlite_where=sa.text(PROVISIONAL_ROWS))


def downgrade() -> None:
    op.drop_index("ix_deadline_provisional", table_name="deadline")
    op.drop_table("demo_clock")

"""委派中: an index of the tasks handed to a colleague, so the delegator's list never reads the whole task table

Revision ID: 0027
Revises: 0026
"""
import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

# As engine.models has it; written out here so the migration stays as it was when models change.
DELEGATED_ROWS = "delegated_by_id IS NOT NULL"


def upgrade() -> None:
    op.create_index("ix_task_delegated_by", "task", ["delegated_by_id", "status"],
                    postgresql_where=sa.text(DELEGATED_ROWS), sqlite_where=sa.text(DELEGATED_ROWS))


def downgrade() -> None:
    op.drop_index("ix_task_delegated_by", table_name="task")

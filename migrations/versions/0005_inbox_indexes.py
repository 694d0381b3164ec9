"""Inbox indexes: each task keeps its case's promised date, and the two inboxes are read in order from an index

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# As engine.models has them; written out here so the migration stays as it was when models change.
POST_ROWS = "status = 'open' AND assignee_id IS NULL"
MINE_ROWS = "status = 'open' AND assignee_id IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("task") as batch_op:
        batch_op.add_column(sa.Column("promised_date", sa.Date(), nullable=True))
    op.execute("UPDATE task SET promised_date = (SELECT case_record.promised_date FROM case_record "
               "WHERE case_record.id = task.case_id)")
    op.create_index("ix_task_inbox_post", "task", ["role_code", "org_id", "promised_date", "created_at", "id"],
                    postgresql_where=sa.text(POST_ROWS), sqlite_where=sa.text(POST_ROWS))
    op.create_index("ix_task_inbox_post_arrived", "task", ["role_code", "org_id", "created_at", "id"],
                    postgresql_where=sa.text(POST_ROWS), sqlite_where=sa.text(POST_ROWS))
    op.create_index("ix_task_inbox_mine", "task", ["assignee_id", "promised_date", "created_at", "id"],
                    postgresql_where=sa.text(MINE_ROWS), sqlite_where=sa.text(MINE_ROWS))


def downgrade() -> None:
    op.drop_index("ix_task_inbox_mine", table_name="task")
    op.drop_index("ix_task_inbox_post_arrived", table_name="task")
    op.drop_index("ix_task_inbox_post", table_name="task")
    with op.batch_alter_table("task") as batch_op:
        batch_op.drop_column("promised_date")

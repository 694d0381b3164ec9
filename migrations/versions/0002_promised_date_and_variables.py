"""A case's promised date named as such; values set by the diagram's scripts kept on the case

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case_record") as batch_op:
        batch_op.alter_column("due_date", new_column_name="promised_date")
        batch_op.alter_column("due_note", new_column_name="promised_note")
        batch_op.add_column(sa.Column("variables", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("case_record") as batch_op:
        batch_op.drop_column("variables")
        batch_op.alter_column("promised_note", new_column_name="due_note")
        batch_op.alter_column("promised_date", new_column_name="due_date")

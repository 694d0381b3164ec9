"""Step incidents keep the failed completion: its task and what the clerk submitted

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incident") as batch_op:
        batch_op.add_column(sa.Column("task_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("submitted", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("submitted_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_incident_submitted_by", "user_account", ["submitted_by_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("incident") as batch_op:
        batch_op.drop_constraint("fk_incident_submitted_by", type_="foreignkey")
        batch_op.drop_column("submitted_by_id")
        batch_op.drop_column("submitted")
        batch_op.drop_column("task_id")

"""Where notifications go out: staff phone, e-mail and channel choices, the applicant's, and each message's recipient

Revision ID: 0026
Revises: 0025
"""
import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain columns without constraints: added and dropped in place, so SQLite never rebuilds the referenced tables.
    op.add_column("user_account", sa.Column("phone", sa.String(length=20), nullable=True))
    op.add_column("user_account", sa.Column("email", sa.String(length=320), nullable=True))
    op.add_column("user_account", sa.Column("notify_channels", sa.JSON(), nullable=True))
    op.add_column("case_record", sa.Column("applicant_email", sa.String(length=320), nullable=True))
    op.add_column("case_record", sa.Column("applicant_notify", sa.JSON(), nullable=True))
    op.add_column("outbox_message", sa.Column("recipient", sa.String(length=120), nullable=True))
    op.create_index("ix_outbox_recipient", "outbox_message", ["recipient", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_outbox_recipient", table_name="outbox_message")
    op.drop_column("outbox_message", "recipient")
    for column in ("applicant_notify", "applicant_email"):
        op.drop_column("case_record", column)
    for column in ("notify_channels", "email", "phone"):
        op.drop_column("user_account", column)

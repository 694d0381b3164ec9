"""Ledger index: cases by the last digits of the applicant's ID number (the ledger's search box)

Revision ID: 0021
Revises: 0020
"""
import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

INDEX = "ix_case_id_number_trgm"


def _has_trigrams() -> bool:
    """pg_trgm came with 0017 where the database allowed it; without it the search works, only slower."""
    return bool(op.get_bind().execute(sa.text(
        "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm')")).scalar())


def upgrade() -> None:
    # `LIKE '%1234'` (an ID number's last digits) reads every case of the county without it.
    if op.get_bind().dialect.name == "postgresql" and _has_trigrams():
        op.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON case_record USING gin (applicant_id_number gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {INDEX}")

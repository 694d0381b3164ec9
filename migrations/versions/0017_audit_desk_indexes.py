"""Audit desk indexes: a county's cases by acceptance time, cases by who acted on them, numbers and names by any part

Revision ID: 0017
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

TRIGRAM_INDEXES = {"ix_case_number_trgm": "case_number", "ix_case_applicant_trgm": "applicant_name"}


def _may_use_trigrams() -> bool:
    """pg_trgm is in place, or may be created here (it is a trusted extension: a database owner may create it)."""
    found = op.get_bind().execute(sa.text(
        "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'), "
        "EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'), "
        "has_database_privilege(current_database(), 'CREATE')")).one()
    return bool(found[0] or (found[1] and found[2]))


def upgrade() -> None:
    op.create_index("ix_case_county_accepted", "case_record", ["county_id", "accepted_at", "id"])
    op.create_index("ix_case_event_actor", "case_event", ["actor_id", "case_id"])
    # `LIKE '%part%'` on a number or a name reads every case of the county without these; where the extension
    # cannot be had the search still works, only slower.
    if op.get_bind().dialect.name == "postgresql" and _may_use_trigrams():
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, column in TRIGRAM_INDEXES.items():
            op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON case_record USING gin ({column} gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in TRIGRAM_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
    op.drop_index("ix_case_event_actor", table_name="case_event")
    op.drop_index("ix_case_county_accepted", table_name="case_record")

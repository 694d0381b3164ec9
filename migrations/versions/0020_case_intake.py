"""受理 at the window: the materials checklist, the one-time notice, §32 and the refusal register

Revision ID: 0020
Revises: 0019
"""
import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('case_intake',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('materials', sa.JSON(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_by_id', sa.Integer(), nullable=False),
    sa.Column('notice_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('notice_missing', sa.JSON(), nullable=True),
    sa.Column('warned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('refused_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('refused_by_id', sa.Integer(), nullable=True),
    sa.Column('refusal_reasons', sa.Text(), nullable=True),
    sa.Column('refusal_basis', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case_record.id'], ),
    sa.ForeignKeyConstraint(['received_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['refused_by_id'], ['user_account.id'], ),
    sa.PrimaryKeyConstraint('case_id')
    )
    op.create_index('ix_case_intake_refused_at', 'case_intake', ['refused_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_case_intake_refused_at', table_name='case_intake')
    op.drop_table('case_intake')

"""Task operations: how a task reached its holder (退回, 撤回, 转办, 委派, 加签), signers (会签/或签), 抄送, 催办

Revision ID: 0024
Revises: 0023
"""
import sqlalchemy as sa
from alembic import op

from engine.models.base import UTCDateTime

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('case_copy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.String(length=36), nullable=True),
    sa.Column('step', sa.String(length=200), nullable=False),
    sa.Column('role_code', sa.String(length=50), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('copied_by_id', sa.Integer(), nullable=True),
    sa.Column('copied_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('read_at', UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case_record.id'], ),
    sa.ForeignKeyConstraint(['copied_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['org_id'], ['org_unit.id'], ),
    sa.ForeignKeyConstraint(['role_code'], ['role.code'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_case_copy_case_id', 'case_copy', ['case_id'], unique=False)
    op.create_index('ix_case_copy_post', 'case_copy', ['role_code', 'org_id', 'copied_at'], unique=False)
    op.create_table('chase',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.String(length=36), nullable=False),
    sa.Column('step', sa.String(length=200), nullable=False),
    sa.Column('role_code', sa.String(length=50), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('handler_id', sa.Integer(), nullable=True),
    sa.Column('chased_by_id', sa.Integer(), nullable=False),
    sa.Column('chased_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case_record.id'], ),
    sa.ForeignKeyConstraint(['chased_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['handler_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['org_id'], ['org_unit.id'], ),
    sa.ForeignKeyConstraint(['role_code'], ['role.code'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_chase_at', 'chase', ['chased_at'], unique=False)
    op.create_index('ix_chase_case_id', 'chase', ['case_id'], unique=False)
    op.create_index('ix_chase_post', 'chase', ['role_code', 'org_id', 'chased_at'], unique=False)
    with op.batch_alter_table('task') as batch_op:
        batch_op.add_column(sa.Column('opened_by_task_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('arrival', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('arrival_note', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('arrival_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('signing_for', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('sign_position', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('delegated_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('answer', sa.JSON(), nullable=True))
        batch_op.create_index('ix_task_signing_for', ['signing_for'], unique=False)
        batch_op.create_foreign_key('fk_task_arrival_by', 'user_account', ['arrival_by_id'], ['id'])
        batch_op.create_foreign_key('fk_task_delegated_by', 'user_account', ['delegated_by_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('task') as batch_op:
        batch_op.drop_constraint('fk_task_delegated_by', type_='foreignkey')
        batch_op.drop_constraint('fk_task_arrival_by', type_='foreignkey')
        batch_op.drop_index('ix_task_signing_for')
        for column in ('answer', 'delegated_by_id', 'sign_position', 'signing_for', 'arrival_by_id',
                       'arrival_note', 'arrival', 'opened_by_task_id'):
            batch_op.drop_column(column)
    op.drop_index('ix_chase_post', table_name='chase')
    op.drop_index('ix_chase_case_id', table_name='chase')
    op.drop_index('ix_chase_at', table_name='chase')
    op.drop_table('chase')
    op.drop_index('ix_case_copy_post', table_name='case_copy')
    op.drop_index('ix_case_copy_case_id', table_name='case_copy')
    op.drop_table('case_copy')

"""Deadlines: step and case clocks, pauses, extensions, cards and notifications

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

# As engine.models has them; written out here so the migration stays as it was when models change.
CHECK_ROWS = "status = 'open' AND next_check_at IS NOT NULL"
CASE_CLOCK = "task_id IS NULL"

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('clock_pause',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=50), nullable=False),
    sa.Column('step', sa.String(length=200), nullable=False),
    sa.Column('element_id', sa.String(length=100), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('working_days', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case_record.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('clock_pause') as batch_op:
        batch_op.create_index(batch_op.f('ix_clock_pause_case_id'), ['case_id'], unique=False)

    op.create_table('deadline',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.String(length=36), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('limit_days', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('provisional', sa.Boolean(), nullable=False),
    sa.Column('yellow_from', sa.Date(), nullable=True),
    sa.Column('paused_days', sa.Integer(), nullable=False),
    sa.Column('extended_days', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('card', sa.String(length=10), nullable=False),
    sa.Column('next_check_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('late', sa.Boolean(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case_record.id'], ),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('deadline') as batch_op:
        batch_op.create_index(batch_op.f('ix_deadline_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_deadline_due_check', ['next_check_at'], unique=False, 
                                postgresql_where=sa.text(CHECK_ROWS), sqlite_where=sa.text(CHECK_ROWS))
        batch_op.create_index('ix_deadline_open_card', ['card', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_deadline_task_id'), ['task_id'], unique=False)
        batch_op.create_index('ux_deadline_case_clock', ['case_id'], unique=True, 
                                postgresql_where=sa.text(CASE_CLOCK), sqlite_where=sa.text(CASE_CLOCK))

    op.create_table('card',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('deadline_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('color', sa.String(length=10), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case_record.id'], ),
    sa.ForeignKeyConstraint(['deadline_id'], ['deadline.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('deadline_id', 'color', 'due_date')
    )
    with op.batch_alter_table('card') as batch_op:
        batch_op.create_index(batch_op.f('ix_card_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_card_raised', ['raised_at'], unique=False)

    op.create_table('extension',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('deadline_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case_record.id'], ),
    sa.ForeignKeyConstraint(['deadline_id'], ['deadline.id'], ),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['requested_by_id'], ['user_account.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('extension') as batch_op:
        batch_op.create_index(batch_op.f('ix_extension_case_id'), ['case_id'], unique=False)

    op.create_table('notification',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('card_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['card_id'], ['card.id'], ),
    sa.ForeignKeyConstraint(['case_id'], ['case_record.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'key')
    )
    with op.batch_alter_table('notification') as batch_op:
        batch_op.create_index('ix_notification_unread', ['user_id', 'read_at', 'created_at'], unique=False)

    # Plain ALTERs, not a batch rebuild: rebuilding case_record on SQLite would break the keys that point at it.
    op.add_column("case_record", sa.Column("promised_provisional", sa.Boolean(), server_default=sa.text("false"),
                                           nullable=False))
    op.add_column("case_record", sa.Column("clock_started_at", sa.DateTime(timezone=True), nullable=True))
    # Until now every case's clock started when it was registered.
    op.execute("UPDATE case_record SET clock_started_at = accepted_at")



def downgrade() -> None:
    op.drop_column("case_record", "clock_started_at")
    op.drop_column("case_record", "promised_provisional")

    with op.batch_alter_table('notification') as batch_op:
        batch_op.drop_index('ix_notification_unread')

    op.drop_table('notification')
    with op.batch_alter_table('extension') as batch_op:
        batch_op.drop_index(batch_op.f('ix_extension_case_id'))

    op.drop_table('extension')
    with op.batch_alter_table('card') as batch_op:
        batch_op.drop_index('ix_card_raised')
        batch_op.drop_index(batch_op.f('ix_card_case_id'))

    op.drop_table('card')
    with op.batch_alter_table('deadline') as batch_op:
        batch_op.drop_index('ux_deadline_case_clock', 
                                postgresql_where=sa.text(CASE_CLOCK), sqlite_where=sa.text(CASE_CLOCK))
        batch_op.drop_index(batch_op.f('ix_deadline_task_id'))
        batch_op.drop_index('ix_deadline_open_card')
        batch_op.drop_index('ix_deadline_due_check', 
                                postgresql_where=sa.text(CHECK_ROWS), sqlite_where=sa.text(CHECK_ROWS))
        batch_op.drop_index(batch_op.f('ix_deadline_case_id'))

    op.drop_table('deadline')
    with op.batch_alter_table('clock_pause') as batch_op:
        batch_op.drop_index(batch_op.f('ix_clock_pause_case_id'))

    op.drop_table('clock_pause')

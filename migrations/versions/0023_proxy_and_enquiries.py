"""代办 steps of a case (委托, 传递, 回交, 签收) and the 便民服务事项登记表 of enquiries under 首问负责

Revision ID: 0023
Revises: 0022
"""
import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('proxy_step',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('happened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case_record.id'], ),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user_account.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_proxy_step_case_kind', 'proxy_step', ['case_id', 'kind'], unique=False)
    op.create_table('enquiry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('registered_by_id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('town_id', sa.Integer(), nullable=False),
    sa.Column('county_id', sa.Integer(), nullable=False),
    sa.Column('person_name', sa.String(length=100), nullable=False),
    sa.Column('contact', sa.String(length=20), nullable=False),
    sa.Column('matter', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('post_role_code', sa.String(length=50), nullable=False),
    sa.Column('post_org_id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('answer_method', sa.String(length=20), nullable=True),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('answered_by_id', sa.Integer(), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('trail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['answered_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['county_id'], ['org_unit.id'], ),
    sa.ForeignKeyConstraint(['owner_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['post_org_id'], ['org_unit.id'], ),
    sa.ForeignKeyConstraint(['post_role_code'], ['role.code'], ),
    sa.ForeignKeyConstraint(['registered_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['town_id'], ['org_unit.id'], ),
    sa.ForeignKeyConstraint(['village_id'], ['org_unit.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_enquiry_post', 'enquiry', ['post_role_code', 'post_org_id', 'status'], unique=False)
    op.create_index('ix_enquiry_town_registered', 'enquiry', ['town_id', 'registered_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_enquiry_town_registered', table_name='enquiry')
    op.drop_index('ix_enquiry_post', table_name='enquiry')
    op.drop_table('enquiry')
    op.drop_index('ix_proxy_step_case_kind', table_name='proxy_step')
    op.drop_table('proxy_step')

"""billing: remember the open Checkout session, so it can be expired

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27 19:30:00

A workspace switched back to "agency pays" (or an agency whose subscription was set up
another way) must not leave a payable Checkout link behind: the session's id is kept
beside its URL and expired through Stripe when it is no longer wanted.
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    for table in ("billing_accounts", "client_billing"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('checkout_session_id', sa.String(length=255),
                                          server_default='', nullable=False))


def downgrade():
    for table in ("billing_accounts", "client_billing"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('checkout_session_id')

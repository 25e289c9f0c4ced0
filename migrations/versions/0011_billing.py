"""billing: the agency's Stripe subscription, each workspace's plan, invoices, events

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-14 10:00:00

Four tenant tables, each under row-level security like every other: billing_accounts
(one per agency), client_billing (a workspace's plan and payer), billing_invoices, and
stripe_events, the log of the Stripe events applied. The event log is a tenant table
too: an event is stored with the agency it was applied to, in the same transaction as
its effects. Its event id is UNIQUE across agencies, and a unique constraint is checked
by the database whatever row-level security hides, so a second delivery of an event
(even one running at the same moment, which waits on the first's uncommitted row) fails
at its insert and changes nothing.

Stripe's webhook carries no tenant. As for the reminders (0004), the dispatcher (0007)
and token health (0008), the cross-agency reads get narrow, named paths: SECURITY
DEFINER functions returning ids only, each behind a SELECT-only policy for the owner that
holds while the function runs:
- relais_billing_customer(customer): the agency (and client, for a client-paid workspace)
  whose Stripe customer this is, from Relais's own records;
- relais_billing_agencies_to_check(now, trial_started_before): the agencies whose billing
  needs a look by the periodic check (a payment overdue, a subscription ended, a trial
  over, holds in place, quantities not yet sent to Stripe).
Keep both in step with billing/lookup.py (the SQLite path): the tests run both.
"""
import sqlalchemy as sa
from alembic import op

from tenants.rls import enable_rls_sql

# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

TENANT_TABLES = ("billing_accounts", "client_billing", "billing_invoices", "stripe_events")

SCAN_SETTING = "relais.system_scan"
CUSTOMER_FUNCTION = "relais_billing_customer(text)"
CUSTOMER_SCAN = "billing_customer"
CHECK_FUNCTION = "relais_billing_agencies_to_check(timestamptz, timestamptz)"
CHECK_SCAN = "billing_check"
# Which tables each function reads (and so where its policy goes).
POLICIES = {
    "system_billing_customer": (CUSTOMER_SCAN, ("billing_accounts", "client_billing")),
    "system_billing_check": (CHECK_SCAN, ("billing_accounts", "client_billing", "agencies",
                                          "clients")),
}

CREATE_CUSTOMER_FUNCTION = """
CREATE OR REPLACE FUNCTION relais_billing_customer(customer text)
RETURNS TABLE(agency_id uuid, client_id uuid)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public
AS $$
#variable_conflict use_column
BEGIN
    -- Set here, transaction-local, and cleared on the way out (see migration 0004).
    PERFORM set_config('relais.system_scan', 'billing_customer', true);
    RETURN QUERY
    SELECT b.agency_id, NULL::uuid FROM billing_accounts b
     WHERE b.stripe_customer_id = customer
    UNION ALL
    SELECT c.agency_id, c.client_id FROM client_billing c
     WHERE c.stripe_customer_id = customer;
    PERFORM set_config('relais.system_scan', '', true);
END
$$
"""

# Statuses in which a subscription does not pay: the grace period or a hold applies.
CREATE_CHECK_FUNCTION = """
CREATE OR REPLACE FUNCTION relais_billing_agencies_to_check(
    now timestamptz, trial_started_before timestamptz)
RETURNS TABLE(agency_id uuid)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public
AS $$
#variable_conflict use_column
BEGIN
    PERFORM set_config('relais.system_scan', 'billing_check', true);
    RETURN QUERY
    SELECT b.agency_id FROM billing_accounts b
     WHERE b.synced_seq < b.change_seq
        OR b.held_at IS NOT NULL
        OR b.subscription_status IN ('past_due', 'unpaid', 'canceled', 'incomplete',
                                     'incomplete_expired', 'paused')
        OR (b.stripe_subscription_id IS NULL AND b.trial_ends_at <= now)
    UNION
    SELECT c.agency_id FROM client_billing c
     WHERE c.held_at IS NOT NULL
        OR c.subscription_status IN ('past_due', 'unpaid', 'canceled', 'incomplete',
                                     'incomplete_expired', 'paused')
    UNION
    -- Agencies that never opened their billing page but have clients and a trial over.
    SELECT a.id FROM agencies a
     WHERE a.created_at <= trial_started_before
       AND NOT EXISTS (SELECT 1 FROM billing_accounts b WHERE b.agency_id = a.id)
       AND EXISTS (SELECT 1 FROM clients c
                    WHERE c.agency_id = a.id AND c.archived_at IS NULL)
    ORDER BY 1;
    PERFORM set_config('relais.system_scan', '', true);
END
$$
"""


def upgrade():
    op.create_table('billing_accounts',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('stripe_customer_id', sa.String(length=255), nullable=True),
    sa.Column('stripe_subscription_id', sa.String(length=255), nullable=True),
    sa.Column('subscription_status', sa.String(length=32), server_default='', nullable=False),
    sa.Column('cancel_at_period_end', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('current_period_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('past_due_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('trial_ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('items', sa.JSON(), server_default='{}', nullable=False),
    sa.Column('change_seq', sa.Integer(), server_default='0', nullable=False),
    sa.Column('synced_seq', sa.Integer(), server_default='0', nullable=False),
    sa.Column('session_seq', sa.Integer(), server_default='0', nullable=False),
    sa.Column('checkout_url', sa.String(length=1000), server_default='', nullable=False),
    sa.Column('checkout_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('held_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('agency_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_billing_accounts_agency_id_agencies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_accounts')),
    sa.UniqueConstraint('agency_id', 'id', name=op.f('uq_billing_accounts_agency_id_id')),
    sa.UniqueConstraint('agency_id', name=op.f('uq_billing_accounts_agency_id')),
    sa.UniqueConstraint('stripe_customer_id', name=op.f('uq_billing_accounts_stripe_customer_id'))
    )
    op.create_table('stripe_events',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('event_id', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('event_created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('agency_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_stripe_events_agency_id_agencies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stripe_events')),
    sa.UniqueConstraint('agency_id', 'id', name=op.f('uq_stripe_events_agency_id_id')),
    sa.UniqueConstraint('event_id', name=op.f('uq_stripe_events_event_id'))
    )
    with op.batch_alter_table('stripe_events', schema=None) as batch_op:
        batch_op.create_index('ix_stripe_events_agency_id_applied_at', ['agency_id', 'applied_at'], unique=False)

    op.create_table('billing_invoices',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('stripe_invoice_id', sa.String(length=255), nullable=False),
    sa.Column('client_id', sa.Uuid(), nullable=True),
    sa.Column('number', sa.String(length=64), server_default='', nullable=False),
    sa.Column('status', sa.String(length=16), server_default='', nullable=False),
    sa.Column('currency', sa.String(length=3), server_default='eur', nullable=False),
    sa.Column('total', sa.Integer(), server_default='0', nullable=False),
    sa.Column('amount_due', sa.Integer(), server_default='0', nullable=False),
    sa.Column('amount_paid', sa.Integer(), server_default='0', nullable=False),
    sa.Column('hosted_invoice_url', sa.String(length=1000), server_default='', nullable=False),
    sa.Column('invoice_pdf', sa.String(length=1000), server_default='', nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('agency_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['agency_id', 'client_id'], ['clients.agency_id', 'clients.id'], name=op.f('fk_billing_invoices_agency_id_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_billing_invoices_agency_id_agencies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_invoices')),
    sa.UniqueConstraint('agency_id', 'id', name=op.f('uq_billing_invoices_agency_id_id')),
    sa.UniqueConstraint('agency_id', 'stripe_invoice_id', name=op.f('uq_billing_invoices_agency_id_stripe_invoice_id'))
    )
    with op.batch_alter_table('billing_invoices', schema=None) as batch_op:
        batch_op.create_index('ix_billing_invoices_agency_id_issued_at', ['agency_id', 'issued_at'], unique=False)

    op.create_table('client_billing',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('client_id', sa.Uuid(), nullable=False),
    sa.Column('plan', sa.String(length=16), server_default='essentiel', nullable=False),
    sa.Column('payer', sa.String(length=16), server_default='agency', nullable=False),
    sa.Column('stripe_customer_id', sa.String(length=255), nullable=True),
    sa.Column('stripe_subscription_id', sa.String(length=255), nullable=True),
    sa.Column('subscription_status', sa.String(length=32), server_default='', nullable=False),
    sa.Column('current_period_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('past_due_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('checkout_url', sa.String(length=1000), server_default='', nullable=False),
    sa.Column('checkout_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('held_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('agency_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['agency_id', 'client_id'], ['clients.agency_id', 'clients.id'], name=op.f('fk_client_billing_agency_id_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_client_billing_agency_id_agencies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_client_billing')),
    sa.UniqueConstraint('agency_id', 'client_id', name=op.f('uq_client_billing_agency_id_client_id')),
    sa.UniqueConstraint('agency_id', 'id', name=op.f('uq_client_billing_agency_id_id')),
    sa.UniqueConstraint('stripe_customer_id', name=op.f('uq_client_billing_stripe_customer_id'))
    )

    if op.get_bind().dialect.name != "postgresql":
        return  # no row-level security on SQLite: the lookups are system-scoped queries
    for table in TENANT_TABLES:
        for statement in enable_rls_sql(table):
            op.execute(statement)
    for policy, (value, tables) in POLICIES.items():
        for table in tables:
            op.execute(f"DROP POLICY IF EXISTS {policy} ON {table}")
            # TO CURRENT_USER: the owner running this migration, who owns the functions.
            op.execute(f"CREATE POLICY {policy} ON {table} FOR SELECT TO CURRENT_USER "
                       f"USING (current_setting('{SCAN_SETTING}', true) = '{value}')")
    op.execute(CREATE_CUSTOMER_FUNCTION)
    op.execute(CREATE_CHECK_FUNCTION)
    for function in (CUSTOMER_FUNCTION, CHECK_FUNCTION):
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for function in (CUSTOMER_FUNCTION, CHECK_FUNCTION):
            op.execute(f"DROP FUNCTION IF EXISTS {function}")
        for policy, (_, tables) in POLICIES.items():
            for table in ("agencies", "clients"):
                if table in tables:
                    op.execute(f"DROP POLICY IF EXISTS {policy} ON {table}")
    op.drop_table('client_billing')
    with op.batch_alter_table('billing_invoices', schema=None) as batch_op:
        batch_op.drop_index('ix_billing_invoices_agency_id_issued_at')

    op.drop_table('billing_invoices')
    with op.batch_alter_table('stripe_events', schema=None) as batch_op:
        batch_op.drop_index('ix_stripe_events_agency_id_applied_at')

    op.drop_table('stripe_events')
    op.drop_table('billing_accounts')

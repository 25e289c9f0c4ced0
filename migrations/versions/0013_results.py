"""results: the networks' figures, and the cross-agency scan that collects them

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-18 10:00:00

Two tenant tables, each under row-level security like every other:
post_metric_snapshots (one reading of a published post's counters, taken an hour, a
day, a week and a month after it went out) and account_metric_days (an account's
counters, followers first, one row per account and client-local day).

The hourly collection must find, across agencies, the connected accounts with figures
due: a published post whose next reading is due, or no reading yet today (the client's
day, in its time zone). As for the reminders (0004), the dispatcher (0007), token health
(0008) and billing (0011), it gets one narrow, named path: the SECURITY DEFINER function
relais_metrics_due(now) returning ids only, behind a SELECT-only policy for the owner on
the five tables it reads, which holds while the function runs. The app role gains no
policy and may only EXECUTE the function (granted in tenants.rls.grant_app_role after
every upgrade). Keep it in step with agency/results/lookup.py and schedule.py (the
SQLite path and the reading ages): the tests run both.
"""
import sqlalchemy as sa
from alembic import op

from tenants.rls import enable_rls_sql

# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

TENANT_TABLES = ("post_metric_snapshots", "account_metric_days")

FUNCTION = "relais_metrics_due(timestamptz)"
POLICY = "system_metrics_due"
SCAN_SETTING = "relais.system_scan"
SCAN_VALUE = "metrics_due"
# What the function reads (and so where its policy goes).
SCANNED_TABLES = ("social_accounts", "clients", "publications", "post_metric_snapshots",
                  "account_metric_days")

# The reading ages (1 hour, 24 hours, 7 days, 30 days), the month's grace (7 days) and
# the horizon (90 days) are agency/results/schedule.py's AGES, GRACE and HORIZON.
# A client's time zone PostgreSQL does not know counts as UTC (never an error that would
# stop the scan for every agency).
CREATE_FUNCTION = """
CREATE OR REPLACE FUNCTION relais_metrics_due(now timestamptz)
RETURNS TABLE(agency_id uuid, account_id uuid)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public
AS $$
#variable_conflict use_column
BEGIN
    -- Set here, transaction-local, and cleared on the way out (see migration 0004).
    PERFORM set_config('relais.system_scan', 'metrics_due', true);
    RETURN QUERY
    WITH zones AS MATERIALIZED (SELECT name FROM pg_timezone_names)  -- read once
    SELECT a.agency_id, a.id
      FROM social_accounts a
      JOIN clients c ON c.agency_id = a.agency_id AND c.id = a.client_id
     WHERE a.status = 'connected' AND c.archived_at IS NULL
       AND (NOT EXISTS (
                SELECT 1 FROM account_metric_days d
                 WHERE d.agency_id = a.agency_id AND d.social_account_id = a.id
                   AND d.day = (now AT TIME ZONE (
                       CASE WHEN c.timezone IN (SELECT name FROM zones) THEN c.timezone
                            ELSE 'UTC' END))::date)
            OR EXISTS (
                SELECT 1
                  FROM publications p
                  LEFT JOIN LATERAL (
                       SELECT max(s.taken_at) AS taken_at FROM post_metric_snapshots s
                        WHERE s.agency_id = p.agency_id AND s.publication_id = p.id) r
                    ON true
                 WHERE p.agency_id = a.agency_id AND p.social_account_id = a.id
                   AND p.state = 'published' AND p.external_id <> ''
                   AND p.published_at <= now - interval '1 hour'
                   AND p.published_at > now - interval '90 days'
                   AND (r.taken_at IS NULL
                        OR (p.published_at > now - interval '37 days'
                            AND r.taken_at < p.published_at + CASE
                                WHEN p.published_at <= now - interval '30 days'
                                    THEN interval '30 days'
                                WHEN p.published_at <= now - interval '7 days'
                                    THEN interval '7 days'
                                WHEN p.published_at <= now - interval '24 hours'
                                    THEN interval '24 hours'
                                ELSE interval '1 hour' END))))
     ORDER BY a.agency_id, a.id;
    PERFORM set_config('relais.system_scan', '', true);
END
$$
"""


def upgrade():
    op.create_table('account_metric_days',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('client_id', sa.Uuid(), nullable=False),
    sa.Column('social_account_id', sa.Uuid(), nullable=False),
    sa.Column('network', sa.String(length=32), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('followers', sa.Integer(), nullable=True),
    sa.Column('taken_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('raw', sa.JSON(), nullable=False),
    sa.Column('agency_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['agency_id', 'client_id'], ['clients.agency_id', 'clients.id'], name=op.f('fk_account_metric_days_agency_id_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['agency_id', 'social_account_id'], ['social_accounts.agency_id', 'social_accounts.id'], name=op.f('fk_account_metric_days_agency_id_social_account_id_social_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_account_metric_days_agency_id_agencies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_metric_days')),
    sa.UniqueConstraint('agency_id', 'id', name=op.f('uq_account_metric_days_agency_id_id')),
    sa.UniqueConstraint('agency_id', 'social_account_id', 'day', name=op.f('uq_account_metric_days_agency_id_social_account_id_day'))
    )
    with op.batch_alter_table('account_metric_days', schema=None) as batch_op:
        batch_op.create_index('ix_account_metric_days_client', ['agency_id', 'client_id', 'day'], unique=False)

    op.create_table('post_metric_snapshots',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('client_id', sa.Uuid(), nullable=False),
    sa.Column('publication_id', sa.Uuid(), nullable=False),
    sa.Column('network', sa.String(length=32), nullable=False),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('impressions', sa.Integer(), nullable=True),
    sa.Column('reach', sa.Integer(), nullable=True),
    sa.Column('reactions', sa.Integer(), nullable=True),
    sa.Column('comments', sa.Integer(), nullable=True),
    sa.Column('shares', sa.Integer(), nullable=True),
    sa.Column('clicks', sa.Integer(), nullable=True),
    sa.Column('saves', sa.Integer(), nullable=True),
    sa.Column('raw', sa.JSON(), nullable=False),
    sa.Column('agency_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['agency_id', 'client_id'], ['clients.agency_id', 'clients.id'], name=op.f('fk_post_metric_snapshots_agency_id_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['agency_id', 'publication_id'], ['publications.agency_id', 'publications.id'], name=op.f('fk_post_metric_snapshots_agency_id_publication_id_publications'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_post_metric_snapshots_agency_id_agencies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_post_metric_snapshots')),
    sa.UniqueConstraint('agency_id', 'id', name=op.f('uq_post_metric_snapshots_agency_id_id'))
    )
    with op.batch_alter_table('post_metric_snapshots', schema=None) as batch_op:
        batch_op.create_index('ix_post_metric_snapshots_client', ['agency_id', 'client_id', 'taken_at'], unique=False)
        batch_op.create_index('ix_post_metric_snapshots_publication', ['agency_id', 'publication_id', 'taken_at'], unique=False)
    # The results pages read a client's publications by the time they went out.
    with op.batch_alter_table('publications', schema=None) as batch_op:
        batch_op.create_index('ix_publications_agency_id_client_id_published_at', ['agency_id', 'client_id', 'published_at'], unique=False)

    if op.get_bind().dialect.name != "postgresql":
        return  # no row-level security on SQLite: the scan is a system-scoped query
    for table in TENANT_TABLES:
        for statement in enable_rls_sql(table):
            op.execute(statement)
    for table in SCANNED_TABLES:
        op.execute(f"DROP POLICY IF EXISTS {POLICY} ON {table}")
        # TO CURRENT_USER: the owner running this migration, who owns the function.
        op.execute(f"CREATE POLICY {POLICY} ON {table} FOR SELECT TO CURRENT_USER "
                   f"USING (current_setting('{SCAN_SETTING}', true) = '{SCAN_VALUE}')")
    op.execute(CREATE_FUNCTION)
    op.execute(f"REVOKE ALL ON FUNCTION {FUNCTION} FROM PUBLIC")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}")
        for table in ("social_accounts", "clients", "publications"):
            op.execute(f"DROP POLICY IF EXISTS {POLICY} ON {table}")
    with op.batch_alter_table('publications', schema=None) as batch_op:
        batch_op.drop_index('ix_publications_agency_id_client_id_published_at')
    with op.batch_alter_table('post_metric_snapshots', schema=None) as batch_op:
        batch_op.drop_index('ix_post_metric_snapshots_publication')
        batch_op.drop_index('ix_post_metric_snapshots_client')

    op.drop_table('post_metric_snapshots')
    with op.batch_alter_table('account_metric_days', schema=None) as batch_op:
        batch_op.drop_index('ix_account_metric_days_client')

    op.drop_table('account_metric_days')

"""monthly reports sent on their own: contacts who opted in, and the months sent

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-27 20:10:00

At the start of each month (the client's), the report of the month just ended is
e-mailed to the client's contacts who opted in (``contacts.receives_reports``). A
``monthly_reports`` row is written with the e-mails, and (client, month) is unique, so a
month is sent once whatever the retries; its ``generated_at`` is the time the report's
figures stand at.

Like the other scans (0004, 0007, 0008, 0011, 0013), finding the clients due across
agencies goes through a SECURITY DEFINER function returning ids only,
``relais_reports_due(now)``, behind SELECT-only policies for the owner that hold while
it runs. A client is due from 08:00 on the 1st of its month until the 7th (a report
arriving mid-month would surprise more than help), when it is active, has a contact
opted in with an e-mail address, and its previous month has no row yet. Keep it in step
with agency/results/report_due.py (the SQLite path): the tests run both.
"""
import sqlalchemy as sa
from alembic import op

from tenants.rls import enable_rls_sql

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

FUNCTION = "relais_reports_due(timestamptz)"
POLICY = "system_reports_due"
SCAN_SETTING = "relais.system_scan"
SCAN_VALUE = "reports_due"
SCANNED_TABLES = ("clients", "contacts", "monthly_reports")

# A client's time zone PostgreSQL does not know counts as Europe/Paris, the default.
CREATE_FUNCTION = """
CREATE OR REPLACE FUNCTION relais_reports_due(now timestamptz)
RETURNS TABLE(agency_id uuid, client_id uuid, month date)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public
AS $$
#variable_conflict use_column
BEGIN
    PERFORM set_config('relais.system_scan', 'reports_due', true);
    RETURN QUERY
    WITH zones AS MATERIALIZED (SELECT name FROM pg_timezone_names),
    local AS (
        SELECT c.agency_id, c.id AS client_id,
               (now AT TIME ZONE (CASE WHEN c.timezone IN (SELECT name FROM zones)
                                       THEN c.timezone ELSE 'Europe/Paris' END)) AS at
          FROM clients c
         WHERE c.archived_at IS NULL)
    SELECT l.agency_id, l.client_id,
           (date_trunc('month', l.at) - interval '1 month')::date
      FROM local l
     WHERE extract(day FROM l.at) <= 7
       AND (extract(day FROM l.at) > 1 OR extract(hour FROM l.at) >= 8)
       AND EXISTS (SELECT 1 FROM contacts k
                    WHERE k.agency_id = l.agency_id AND k.client_id = l.client_id
                      AND k.receives_reports AND k.email <> '')
       AND NOT EXISTS (SELECT 1 FROM monthly_reports r
                        WHERE r.agency_id = l.agency_id AND r.client_id = l.client_id
                          AND r.month = (date_trunc('month', l.at) - interval '1 month')::date)
     ORDER BY 1, 2;
    PERFORM set_config('relais.system_scan', '', true);
END
$$
"""


def upgrade():
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('receives_reports', sa.Boolean(),
                                      server_default=sa.false(), nullable=False))
    op.create_table('monthly_reports',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('client_id', sa.Uuid(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('generated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recipients', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['agency_id', 'client_id'], ['clients.agency_id', 'clients.id'], name=op.f('fk_monthly_reports_agency_id_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_monthly_reports_agency_id_agencies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_monthly_reports')),
    sa.UniqueConstraint('agency_id', 'client_id', 'month', name=op.f('uq_monthly_reports_agency_id_client_id_month')),
    sa.UniqueConstraint('agency_id', 'id', name=op.f('uq_monthly_reports_agency_id_id'))
    )
    if op.get_bind().dialect.name != "postgresql":
        return  # no row-level security on SQLite: the scan is a system-scoped query
    for statement in enable_rls_sql("monthly_reports"):
        op.execute(statement)
    for table in SCANNED_TABLES:
        op.execute(f"DROP POLICY IF EXISTS {POLICY} ON {table}")
        op.execute(f"CREATE POLICY {POLICY} ON {table} FOR SELECT TO CURRENT_USER "
                   f"USING (current_setting('{SCAN_SETTING}', true) = '{SCAN_VALUE}')")
    op.execute(CREATE_FUNCTION)
    op.execute(f"REVOKE ALL ON FUNCTION {FUNCTION} FROM PUBLIC")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}")
        for table in ("clients", "contacts"):
            op.execute(f"DROP POLICY IF EXISTS {POLICY} ON {table}")
    op.drop_table('monthly_reports')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_column('receives_reports')

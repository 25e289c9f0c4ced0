"""accounts to check: the cross-agency scan behind token health

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 10:00:00

Token health (agency/networks/token_health.py) must look at the connected accounts of
every agency, which row-level security hides from the app role (and, FORCEd, from the
owner). As for the approval reminders (0004) and the dispatcher (0007) it gets one narrow,
named path: a SECURITY DEFINER function returning ids only. Inside it, and only there, a
SELECT-only policy for the owner role admits every agency's accounts; the app role gains
no policy and may only EXECUTE the function (granted in tenants.rls.grant_app_role after
every upgrade). The credentials are sealed, so the expiry itself is judged per account,
inside its agency, by the job the scan enqueues.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

FUNCTION = "relais_accounts_to_check()"
POLICY = "system_accounts_to_check"
SCAN_SETTING = "relais.system_scan"
SCAN_VALUE = "accounts_to_check"

# Keep the conditions in step with agency.networks.token_health._accounts_without_rls (the
# SQLite path): the tests run both.
CREATE_FUNCTION = """
CREATE OR REPLACE FUNCTION relais_accounts_to_check()
RETURNS TABLE(agency_id uuid, account_id uuid)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public
AS $$
#variable_conflict use_column
BEGIN
    -- Set here, transaction-local, and cleared on the way out (see migration 0004).
    PERFORM set_config('relais.system_scan', 'accounts_to_check', true);
    RETURN QUERY
    SELECT a.agency_id, a.id
      FROM social_accounts a
     WHERE a.status = 'connected' AND a.credentials <> ''
     ORDER BY a.agency_id, a.id;
    PERFORM set_config('relais.system_scan', '', true);
END
$$
"""


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return  # no row-level security on SQLite: the scan is a plain system-scoped query
    op.execute(f"DROP POLICY IF EXISTS {POLICY} ON social_accounts")
    # TO CURRENT_USER: the owner running this migration, who owns the function.
    op.execute(f"CREATE POLICY {POLICY} ON social_accounts FOR SELECT TO CURRENT_USER "
               f"USING (current_setting('{SCAN_SETTING}', true) = '{SCAN_VALUE}')")
    op.execute(CREATE_FUNCTION)
    op.execute(f"REVOKE ALL ON FUNCTION {FUNCTION} FROM PUBLIC")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}")
    op.execute(f"DROP POLICY IF EXISTS {POLICY} ON social_accounts")

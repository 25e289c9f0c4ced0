"""due approval requests: the cross-agency scan behind approval reminders

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 14:05:00

Row-level security hides other agencies' rows from the app role, and FORCEd RLS hides
them from the owner too. The reminder scheduler must still find due requests in every
agency, so it gets one narrow, named path: a SECURITY DEFINER function that returns
ids only. Inside it (and only there) a SELECT-only policy for the owner role lets the
scan see every agency's rows; the app role gains no policy and may only EXECUTE the
function (granted in tenants.rls.grant_app_role, after every upgrade).
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

FUNCTION = "relais_due_approval_requests(timestamptz)"
SCAN_TABLES = ("approval_requests", "approval_items", "posts", "clients")
POLICY = "system_due_approval_scan"
# Set by the function (below) while it runs, and cleared before it returns.
SCAN_SETTING = "relais.system_scan"
SCAN_VALUE = "due_approval_requests"

# Keep the conditions in step with agency.approvals.reminders.due_steps (the SQLite path
# and the per-request check): the tests run both.
CREATE_FUNCTION = """
CREATE OR REPLACE FUNCTION relais_due_approval_requests(now timestamptz)
RETURNS TABLE(agency_id uuid, request_id uuid)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public
AS $$
#variable_conflict use_column
BEGIN
    -- A function's own SET clause cannot name a custom setting unless a superuser
    -- creates it: the flag is set here, transaction-local, and cleared on the way out.
    PERFORM set_config('relais.system_scan', 'due_approval_requests', true);
    RETURN QUERY
    SELECT r.agency_id, r.id
    FROM approval_requests r
    JOIN clients c ON c.agency_id = r.agency_id AND c.id = r.client_id
    WHERE c.archived_at IS NULL
      AND EXISTS (
          SELECT 1
          FROM approval_items i
          JOIN posts p ON p.agency_id = i.agency_id AND p.id = i.post_id
          WHERE i.agency_id = r.agency_id AND i.request_id = r.id
            AND p.status = 'awaiting_client' AND p.content_hash = i.content_hash)
      AND (
          -- the deadline, not yet handled (handling it sets escalated_at >= expires_at)
          (r.expires_at <= now
           AND (r.escalated_at IS NULL OR r.escalated_at < r.expires_at))
          OR (now < r.expires_at AND r.reminded_at IS NULL
              AND r.created_at + make_interval(hours => c.reminder_after_hours) <= now)
          OR (now < r.expires_at AND r.escalated_at IS NULL
              AND r.created_at + make_interval(hours => c.escalate_after_hours) <= now))
    ORDER BY r.expires_at, r.id;
    PERFORM set_config('relais.system_scan', '', true);
END
$$
"""


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return  # no row-level security on SQLite: the scan is a plain system-scoped query
    for table in SCAN_TABLES:
        op.execute(f"DROP POLICY IF EXISTS {POLICY} ON {table}")
        # TO CURRENT_USER: the owner running this migration, who owns the function.
        op.execute(f"CREATE POLICY {POLICY} ON {table} FOR SELECT TO CURRENT_USER "
                   f"USING (current_setting('{SCAN_SETTING}', true) = '{SCAN_VALUE}')")
    op.execute(CREATE_FUNCTION)
    op.execute(f"REVOKE ALL ON FUNCTION {FUNCTION} FROM PUBLIC")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}")
    for table in SCAN_TABLES:
        op.execute(f"DROP POLICY IF EXISTS {POLICY} ON {table}")

"""PostgreSQL row-level security: the second, independent wall between tenants.

- Each transaction starts with ``set_config('app.agency_id', …, true)`` (transaction-local),
  so a pooled connection never carries one request's tenant into the next.
- Migrations (run as the owner) enable and FORCE RLS on every table with ``agency_id``
  and grant the app role only what it needs.
- The app refuses (production) or warns loudly (elsewhere) if its role could bypass RLS.
"""

from __future__ import annotations

import logging

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from .context import current_context

log = logging.getLogger(__name__)

TENANT_PREDICATE = "agency_id = NULLIF(current_setting('app.agency_id', true), '')::uuid"
USER_PREDICATE = "NULLIF(current_setting('app.user_id', true), '')::uuid"

# Extra rows a policy lets through beyond the tenant's own, each a narrow, named path:
# a signed-in user may list their own memberships (to choose an agency at login) and the
# client contacts they are (an SME owner's own sign-in, since migration 0006), and an API
# token is found by its hash alone (the token is the principal).
EXTRA_VISIBILITY = {
    "memberships": f"user_id = {USER_PREDICATE}",
    "contacts": f"user_id = {USER_PREDICATE}",
    "api_tokens": "token_hash = NULLIF(current_setting('app.token_lookup', true), '')",
}

# Append-only tables: the app role may add and read, never change or remove.
APPEND_ONLY = {"audit_events"}


def enable_rls_sql(table: str, *, extra: bool = True) -> list[str]:
    """The statements a migration runs to put ``table`` under row-level security.

    ``extra=False`` leaves out the table's EXTRA_VISIBILITY clause: a migration older than
    the columns that clause names uses it."""
    using = TENANT_PREDICATE
    if extra and table in EXTRA_VISIBILITY:
        using = f"({TENANT_PREDICATE}) OR ({EXTRA_VISIBILITY[table]})"
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"DROP POLICY IF EXISTS tenant_isolation ON {table}",
        f"CREATE POLICY tenant_isolation ON {table} USING ({using}) "
        f"WITH CHECK ({TENANT_PREDICATE})",
    ]


def agencies_rls_sql() -> list[str]:
    """The tenant table itself: an agency sees only itself (and a user their agencies)."""
    own = "id = NULLIF(current_setting('app.agency_id', true), '')::uuid"
    # The subquery runs under memberships' own policy, which admits the user's rows.
    mine = f"id IN (SELECT agency_id FROM memberships WHERE user_id = {USER_PREDICATE})"
    return [
        "ALTER TABLE agencies ENABLE ROW LEVEL SECURITY",
        "ALTER TABLE agencies FORCE ROW LEVEL SECURITY",
        "DROP POLICY IF EXISTS tenant_isolation ON agencies",
        f"CREATE POLICY tenant_isolation ON agencies USING (({own}) OR ({mine})) "
        f"WITH CHECK ({own})",
    ]


def _is_postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def _set_tenant_settings(conn: Connection) -> None:
    ctx = current_context()
    conn.execute(
        text("SELECT set_config('app.agency_id', :a, true), set_config('app.user_id', :u, true)"),
        {"a": str(ctx.agency_id or ""), "u": str(ctx.user_id or "")},
    )


@event.listens_for(Session, "after_begin")
def _on_begin(session: Session, transaction, connection: Connection) -> None:
    if _is_postgres(connection):
        _set_tenant_settings(connection)


def apply_to_open_transaction() -> None:
    """Re-issue the tenant settings on the current transaction after a tenant change."""
    from agency.extensions import db

    try:
        session = db.session()
    except RuntimeError:  # no application context: nothing is open
        return
    if not session.in_transaction():
        return
    conn = session.connection()  # the transaction's own connection, already open
    if _is_postgres(conn):
        _set_tenant_settings(conn)


def set_token_lookup(session: Session, token_hash: str) -> None:
    """Admit the one ``api_tokens`` row with this hash for the rest of the transaction."""
    conn = session.connection()
    if _is_postgres(conn):
        conn.execute(
            text("SELECT set_config('app.token_lookup', :h, true)"), {"h": token_hash}
        )


def grant_app_role(conn: Connection, app_role: str) -> None:
    """Grant the app role exactly what it needs on every table (run after migrations)."""
    if not _is_postgres(conn):
        return
    owner = conn.execute(text("SELECT current_user")).scalar_one()
    if app_role == owner:
        log.warning("DATABASE_URL and MIGRATION_DATABASE_URL use the same role %r: "
                    "row-level security is bypassed by the table owner", app_role)
        return
    role = conn.dialect.identifier_preparer.quote(app_role)
    tables = conn.execute(
        text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    ).scalars()
    conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {role}"))
    for table in tables:
        if table == "alembic_version":
            conn.execute(text(f"GRANT SELECT ON {table} TO {role}"))
        elif table in APPEND_ONLY:
            conn.execute(text(f"REVOKE ALL ON {table} FROM {role}"))
            conn.execute(text(f"GRANT SELECT, INSERT ON {table} TO {role}"))
        else:
            conn.execute(text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {role}"))
    conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}"))
    conn.execute(text(f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO {role}"))


class UnsafeDatabaseRole(RuntimeError):
    pass


def role_problems(conn: Connection) -> list[str]:
    """What makes the connected role able to bypass row-level security, if anything."""
    if not _is_postgres(conn):
        return []
    row = conn.execute(
        text("SELECT rolsuper, rolbypassrls, current_user FROM pg_roles "
             "WHERE rolname = current_user")
    ).one()
    problems = []
    if row.rolsuper:
        problems.append(f"role {row.current_user} is a superuser")
    if row.rolbypassrls:
        problems.append(f"role {row.current_user} has BYPASSRLS")
    owned = conn.execute(
        text("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() "
             "AND tableowner = current_user")
    ).scalar_one()
    if owned:
        problems.append(f"role {row.current_user} owns {owned} table(s)")
    return problems


def check_app_role(engine, production: bool) -> list[str]:
    """Warn loudly, or refuse in production, when the app's role can bypass RLS."""
    with engine.connect() as conn:
        problems = role_problems(conn)
    if problems:
        message = (
            "UNSAFE DATABASE ROLE: " + "; ".join(problems) + ". Row-level security does not "
            "protect tenants with this role. Connect DATABASE_URL as a role that owns nothing "
            "and run migrations with MIGRATION_DATABASE_URL."
        )
        if production:
            raise UnsafeDatabaseRole(message)
        log.warning("!" * 20 + " " + message + " " + "!" * 20)
    return problems

"""The cross-agency scan: ids of due requests in every agency, and nothing more."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from agency.approvals.reminders import due_requests
from tenants.context import clear_tenant
from tests.factories import make_world

from .conftest import at, send_posts


def test_the_scan_finds_due_requests_of_several_agencies(app, db, world):
    beta = make_world("Agence Beta")
    alpha_sent = send_posts(app, db, world)
    beta_sent = send_posts(app, db, beta)
    later = send_posts(app, db, beta, client=beta.client, sent_at=at(10))  # not yet due
    clear_tenant()

    due = due_requests(at(48))

    assert sorted(due) == sorted([(world.agency.id, alpha_sent.request_id),
                                  (beta.agency.id, beta_sent.request_id)])
    assert (beta.agency.id, later.request_id) not in due
    assert (beta.agency.id, later.request_id) in due_requests(at(58))


@pytest.mark.postgres
def test_the_app_role_gets_ids_through_the_function_and_no_rows(app, db, world):
    beta = make_world("Agence Beta")
    send_posts(app, db, world)
    send_posts(app, db, beta)
    clear_tenant()
    conn = db.session.connection()
    assert conn.execute(text("SELECT current_user")).scalar_one() != conn.execute(text(
        "SELECT pg_get_userbyid(proowner) FROM pg_proc "
        "WHERE proname = 'relais_due_approval_requests'")).scalar_one()

    assert len(due_requests(at(48))) == 2
    for table in ("approval_requests", "approval_items", "posts", "clients"):
        assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0
    # The scan's policy belongs to the owner: the app role setting the flag gains nothing.
    conn.execute(text("SELECT set_config('relais.system_scan', 'due_approval_requests', true)"))
    assert conn.execute(text("SELECT count(*) FROM approval_requests")).scalar_one() == 0
    assert conn.execute(text(
        "SELECT has_function_privilege('public', 'relais_due_approval_requests(timestamptz)', "
        "'EXECUTE')")).scalar_one() is False

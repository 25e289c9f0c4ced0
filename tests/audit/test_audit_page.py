from __future__ import annotations

import re

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import ProgrammingError

from agency.audit.models import AuditEvent
from agency.audit.services import Action, record
from agency.extensions import db
from tenants.context import tenant_scope
from tests.auth.helpers import committed_world
from tests.factories import login


@pytest.fixture
def world(db):
    return committed_world()


def _rows(page: str) -> list[str]:
    body = page.split("<tbody>")[1].split("</tbody>")[0] if "<tbody>" in page else ""
    return re.findall(r"<tr>(.*?)</tr>", body, re.S)


@pytest.mark.parametrize("who", ["admin", "manager", "member"])
def test_only_owners_see_the_audit_log(client, world, who):
    login(client, getattr(world, who))
    assert client.get("/audit").status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(client, db):
    response = client.get("/audit")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_owner_sees_entries_newest_first_with_labels_actor_and_ip(client, world):
    client.post("/login", data={"email": world.admin.email, "password": "wrong password!"},
                environ_base={"REMOTE_ADDR": "192.0.2.7"})
    login(client, world.owner)
    response = client.get("/audit")
    assert response.status_code == 200
    rows = _rows(response.get_data(as_text=True))
    assert "Signed in" in rows[0] and world.owner.email in rows[0]
    failed = next(r for r in rows if "Failed sign-in" in r)
    assert world.admin.email in failed and "192.0.2.7" in failed
    assert any("Agency created" in r for r in rows)
    assert "Signed in" not in rows[-1]  # the sign-in is the newest, not the oldest


def test_audit_times_are_shown_in_paris_time(client, world):
    login(client, world.owner)
    with tenant_scope(world.agency_id):
        event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        at = event.at
    from datetime import UTC
    from zoneinfo import ZoneInfo

    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    paris = at.astimezone(ZoneInfo("Europe/Paris"))
    page = client.get("/audit").get_data(as_text=True)
    # English shows a 12-hour clock ("1:45 PM"), French a 24-hour one ("13:45").
    assert paris.strftime("%H:%M") in page or paris.strftime("%-I:%M") in page


def test_filter_by_action(client, world):
    login(client, world.owner)
    page = client.get("/audit?action=" + Action.LOGIN).get_data(as_text=True)
    rows = _rows(page)
    assert rows and all("Signed in" in r for r in rows)
    assert f'value="{Action.LOGIN}" selected' in page
    # An unknown action is ignored rather than an error.
    assert client.get("/audit?action=nonsense").status_code == 200


def test_pages_of_fifty(app, client, world):
    with app.test_request_context(), tenant_scope(world.agency_id):
        for n in range(60):
            record(Action.CLIENT_UPDATED, details={"fields": [f"field{n:02d}"]})
        db.session.commit()
    login(client, world.owner)
    first = client.get("/audit").get_data(as_text=True)
    assert len(_rows(first)) == 50
    assert "field59" in first and "field00" not in first
    assert 'rel="next"' in first
    second = client.get("/audit?page=2").get_data(as_text=True)
    assert "field00" in second and "field59" not in second
    assert 'rel="prev"' in second
    assert client.get("/audit?page=abc").status_code == 200


def test_entries_of_another_agency_are_not_shown(client, db):
    alpha, beta = committed_world("Alpha"), committed_world("Beta")
    login(client, alpha.owner)
    page = client.get("/audit").get_data(as_text=True)
    assert alpha.owner.email in page
    assert beta.owner.email not in page


@pytest.mark.postgres
def test_the_app_role_cannot_change_or_delete_audit_rows(world):
    with tenant_scope(world.agency_id):
        event_id = db.session.scalars(select(AuditEvent.id)).first()
        for statement in (
            update(AuditEvent).where(AuditEvent.id == event_id).values(action="tampered"),
            text("DELETE FROM audit_events"),
        ):
            nested = db.session.begin_nested()
            with pytest.raises(ProgrammingError) as refused:
                db.session.execute(statement)
            nested.rollback()
            assert "permission denied" in str(refused.value).lower()
        db.session.expire_all()
        assert db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.id == event_id)).one() != "tampered"

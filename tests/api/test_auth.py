"""Bearer tokens: who gets in, as whom, and what they see."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from agency.auth.services import revoke_api_token
from agency.clients.models import Client
from tenants.context import tenant_scope
from tenants.roles import ROLE_PERMISSIONS, Role
from tests.factories import login

from .conftest import assert_problem, bearer, build, membership, token_for, token_row


def _assert_challenge(response, error: str | None = None) -> None:
    assert_problem(response, 401)
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.lower().startswith("bearer")
    if error:
        assert re.search(rf'error="?{error}"?', challenge), challenge


def test_missing_token_is_401_with_a_bearer_challenge(client, world):
    _assert_challenge(client.get("/api/v1/me"))
    _assert_challenge(client.get("/api/v1/clients", headers={"Authorization": "Basic eDp5"}))
    _assert_challenge(client.get("/api/v1/clients", headers={"Authorization": "Bearer "}))


def test_unknown_token_is_401(client, world):
    _assert_challenge(client.get("/api/v1/me", headers=bearer("rls_nope")), "invalid_token")
    _assert_challenge(client.get("/api/v1/me", headers=bearer(world.token + "x")),
                      "invalid_token")
    _assert_challenge(client.get("/api/v1/me", headers=bearer("x" * 5000)), "invalid_token")


def test_revoked_token_is_401(client, db, world):
    assert client.get("/api/v1/me", headers=bearer(world.token)).status_code == 200
    with tenant_scope(world.agency_id):
        revoke_api_token(token_row(db, world, world.token))
        db.session.commit()
    _assert_challenge(client.get("/api/v1/me", headers=bearer(world.token)), "invalid_token")


def test_a_signed_in_browser_session_does_not_open_the_api(client, db, world):
    login(client, membership(db, world, world.owner_id))
    _assert_challenge(client.get("/api/v1/me"))
    _assert_challenge(client.post("/api/v1/clients", json={"name": "Ridden"}))


def test_401_before_anything_else(client, world):
    response = client.post("/api/v1/clients", data="nope", content_type="text/plain")
    _assert_challenge(response)


def test_me_describes_the_token_owner(client, world):
    response = client.get("/api/v1/me", headers=bearer(world.token))
    assert response.status_code == 200
    body = response.get_json()
    assert body["user"]["email"] == "owner@agence-alpha.test"
    assert set(body["user"]) == {"id", "email", "name", "locale"}
    assert body["agency"] == {"id": str(world.agency_id), "name": "Agence Alpha"}
    assert body["membership"] == {"id": str(world.owner_id), "role": "owner"}
    assert sorted(body["permissions"]) == sorted(p.value for p in ROLE_PERMISSIONS[Role.OWNER])


def test_me_for_a_member_lists_fewer_permissions(client, db, world):
    token = token_for(db, world, world.member_id)
    body = client.get("/api/v1/me", headers=bearer(token)).get_json()
    assert body["membership"]["role"] == "member"
    assert "client.create" not in body["permissions"]
    assert "contact.manage" in body["permissions"]


def test_last_use_is_recorded_at_most_once_a_minute(client, db, world):
    assert token_row(db, world, world.token).last_used_at is None
    assert client.get("/api/v1/me", headers=bearer(world.token)).status_code == 200
    db.session.expire_all()
    first = token_row(db, world, world.token).last_used_at
    assert first is not None
    assert client.get("/api/v1/clients", headers=bearer(world.token)).status_code == 200
    db.session.expire_all()
    assert token_row(db, world, world.token).last_used_at == first

    with tenant_scope(world.agency_id):
        token_row(db, world, world.token).last_used_at = datetime.now(UTC) - timedelta(hours=1)
        db.session.commit()
    assert client.get("/api/v1/me", headers=bearer(world.token)).status_code == 200
    db.session.expire_all()
    later = token_row(db, world, world.token).last_used_at
    if later.tzinfo is None:
        later = later.replace(tzinfo=UTC)
    assert datetime.now(UTC) - later < timedelta(minutes=1)


def test_member_sees_only_assigned_clients_and_cannot_create(client, db, world):
    token = token_for(db, world, world.member_id)
    listed = client.get("/api/v1/clients", headers=bearer(token)).get_json()
    assert [c["id"] for c in listed["items"]] == [str(world.client_id)]
    assert listed["total"] == 1
    assert client.get(f"/api/v1/clients/{world.client_id}",
                      headers=bearer(token)).status_code == 200
    assert_problem(client.get(f"/api/v1/clients/{world.other_client_id}",
                              headers=bearer(token)), 404)
    before = _client_count(db, world)
    assert_problem(client.post("/api/v1/clients", json={"name": "Nope"},
                               headers=bearer(token)), 403)
    assert_problem(client.post(f"/api/v1/clients/{world.client_id}/archive",
                               headers=bearer(token)), 403)
    assert _client_count(db, world) == before


def test_manager_token_may_create(client, db, world):
    token = token_for(db, world, world.manager_id)
    response = client.post("/api/v1/clients", json={"name": "Fleuriste"}, headers=bearer(token))
    assert response.status_code == 201


def test_another_agency_gets_404_on_our_client(client, db, world):
    beta = build(db, "Agence Beta")
    theirs = bearer(beta.token)
    url = f"/api/v1/clients/{world.client_id}"
    assert_problem(client.get(url, headers=theirs), 404)
    assert_problem(client.patch(url, json={"name": "Pris"}, headers=theirs), 404)
    assert_problem(client.post(url + "/archive", headers=theirs), 404)
    assert_problem(client.get(url + "/contacts", headers=theirs), 404)
    assert_problem(client.get(f"{url}/contacts/{world.contact_id}", headers=theirs), 404)
    listed = client.get("/api/v1/clients", headers=theirs).get_json()
    assert {c["name"] for c in listed["items"]} == {"Agence Beta Boulangerie",
                                                    "Agence Beta Garage"}
    with tenant_scope(world.agency_id):
        ours = db.session.scalars(select(Client).where(Client.id == world.client_id)).one()
        assert (ours.name, ours.archived_at) == ("Agence Alpha Boulangerie", None)


def test_api_posts_need_no_csrf_token(app, client, world):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = client.post("/api/v1/clients", json={"name": "Sans jeton"},
                               headers=bearer(world.token))
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 201


def _client_count(db, world) -> int:
    with tenant_scope(world.agency_id):
        return db.session.scalar(select(func.count()).select_from(Client))


def test_token_of_a_deactivated_user_is_401(client, db, world):
    from agency.auth.models import User

    user = db.session.scalars(select(User).where(User.id == world.owner_user_id)).one()
    user.is_active_flag = False
    db.session.commit()
    _assert_challenge(client.get("/api/v1/me", headers=bearer(world.token)), "invalid_token")


def test_a_request_does_not_leak_its_user_into_the_next(client, db, world):
    assert client.get("/api/v1/me", headers=bearer(world.token)).status_code == 200
    _assert_challenge(client.get("/api/v1/me"))

"""Client workspaces through the API."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from agency.audit.models import AuditEvent
from agency.clients.models import Client
from agency.clients.services import create_client
from tenants.context import tenant_scope

from .conftest import assert_problem, bearer, token_for


def _count(db, world) -> int:
    with tenant_scope(world.agency_id):
        return db.session.scalar(select(func.count()).select_from(Client))


def _add_clients(db, world, n: int, prefix: str = "Client") -> None:
    with tenant_scope(world.agency_id):
        for i in range(n):
            create_client({"name": f"{prefix} {i:02d}"})
        db.session.commit()


# --- list -------------------------------------------------------------------------------

def test_list_is_paginated_with_totals_and_links(client, db, world, owner):
    _add_clients(db, world, 25)  # plus the world's two: 27
    first = client.get("/api/v1/clients?per_page=10", headers=owner)
    assert first.status_code == 200
    body = first.get_json()
    assert (body["page"], body["per_page"], body["total"]) == (1, 10, 27)
    assert len(body["items"]) == 10
    assert 'rel="next"' in first.headers["Link"]
    assert 'rel="prev"' not in first.headers["Link"]
    assert "page=3" in first.headers["Link"]  # last

    seen = []
    for page in (1, 2, 3):
        items = client.get(f"/api/v1/clients?per_page=10&page={page}",
                           headers=owner).get_json()["items"]
        seen += [c["name"] for c in items]
    assert len(seen) == 27 == len(set(seen))
    assert seen == sorted(seen)

    last = client.get("/api/v1/clients?per_page=10&page=3", headers=owner)
    assert len(last.get_json()["items"]) == 7
    assert 'rel="next"' not in last.headers["Link"]
    assert 'rel="prev"' in last.headers["Link"]
    beyond = client.get("/api/v1/clients?per_page=10&page=9", headers=owner).get_json()
    assert beyond["items"] == [] and beyond["total"] == 27


def test_default_page_size_is_20(client, db, world, owner):
    _add_clients(db, world, 25)
    body = client.get("/api/v1/clients", headers=owner).get_json()
    assert (body["page"], body["per_page"], len(body["items"])) == (1, 20, 20)


@pytest.mark.parametrize("query", ["per_page=1000", "per_page=101", "per_page=0", "page=0",
                                   "page=abc", "archived=maybe"])
def test_bad_paging_is_refused_not_clamped(client, world, owner, query):
    body = assert_problem(client.get(f"/api/v1/clients?{query}", headers=owner), 422)
    assert set(body["errors"]) <= {"per_page", "page", "archived"}
    assert body["errors"]


def test_the_page_size_limit_comes_from_config(app, client, world, owner):
    assert client.get("/api/v1/clients?per_page=100", headers=owner).status_code == 200
    app.config["API_PAGE_SIZE_MAX"] = 5
    try:
        assert_problem(client.get("/api/v1/clients?per_page=6", headers=owner), 422)
    finally:
        app.config["API_PAGE_SIZE_MAX"] = 100


def test_list_filters_archived_and_by_name(client, db, world, owner):
    _add_clients(db, world, 3, prefix="Pâtisserie")
    assert client.post(f"/api/v1/clients/{world.other_client_id}/archive",
                       headers=owner).status_code == 200
    active = client.get("/api/v1/clients", headers=owner).get_json()
    assert str(world.other_client_id) not in {c["id"] for c in active["items"]}
    assert active["total"] == 4
    archived = client.get("/api/v1/clients?archived=true", headers=owner).get_json()
    assert [c["id"] for c in archived["items"]] == [str(world.other_client_id)]
    # Case-folding of non-ASCII letters is the database's: SQLite folds ASCII only.
    found = client.get("/api/v1/clients?q=PâTISSERIE 0", headers=owner).get_json()
    assert found["total"] == 3
    found = client.get("/api/v1/clients?q=boulang", headers=owner).get_json()
    assert [c["id"] for c in found["items"]] == [str(world.client_id)]
    wildcard = client.get("/api/v1/clients?q=%25", headers=owner).get_json()
    assert wildcard["total"] == 0  # % is a character to find, not a wildcard


# --- create -----------------------------------------------------------------------------

def test_create_applies_defaults_and_answers_201_with_location(client, db, world, owner):
    response = client.post("/api/v1/clients", json={"name": "  Fromagerie  "}, headers=owner)
    assert response.status_code == 201
    body = response.get_json()
    assert body["name"] == "Fromagerie"
    assert body["timezone"] == "Europe/Paris"
    assert body["language"] == "fr"
    assert body["archived"] is False and body["archived_at"] is None
    assert body["created_at"] and body["updated_at"]
    assert set(body) == {"id", "name", "timezone", "language", "brand_tone", "brand_words_use",
                         "brand_words_avoid", "brand_hashtags", "archived", "archived_at",
                         "created_at", "updated_at"}
    assert response.headers["Location"].endswith(f"/api/v1/clients/{body['id']}")
    fetched = client.get(response.headers["Location"], headers=owner)
    assert fetched.get_json() == body
    with tenant_scope(world.agency_id):
        assert db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "client.created", AuditEvent.target_id == body["id"],
            AuditEvent.actor_user_id == world.owner_user_id,
        )).one()


def test_create_with_every_field(client, world, owner):
    values = {"name": "Café", "timezone": "America/Montreal", "language": "en",
              "brand_tone": "warm", "brand_words_use": "local", "brand_words_avoid": "cheap",
              "brand_hashtags": "#cafe"}
    body = client.post("/api/v1/clients", json=values, headers=owner).get_json()
    assert {k: body[k] for k in values} == values


BAD_BODIES = [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": "x" * 121}, "name"),
    ({"name": "Ok", "timezone": "Mars/Olympus"}, "timezone"),
    ({"name": "Ok", "language": "de"}, "language"),
    ({"name": "Ok", "colour": "red"}, "colour"),
    ({"name": 42}, "name"),
    ({"name": None}, "name"),
    ({"name": "Ok", "brand_tone": ["a"]}, "brand_tone"),
    ({"name": "   "}, "name"),  # refused by the service, not the schema
    ({"name": "Ok", "plan": "platinum"}, "plan"),
]


@pytest.mark.parametrize(("payload", "field"), BAD_BODIES)
def test_create_refuses_bad_fields_with_422(client, db, world, owner, payload, field):
    before = _count(db, world)
    body = assert_problem(client.post("/api/v1/clients", json=payload, headers=owner), 422)
    assert field in body["errors"], body
    assert all(isinstance(m, str) for m in body["errors"][field])
    assert body["detail"]
    assert _count(db, world) == before


def test_create_on_a_plan_needs_the_right_to_manage_billing(client, db, world, owner):
    from billing.models import ClientBilling

    body = client.post("/api/v1/clients", json={"name": "Cave", "plan": "pro"},
                       headers=owner).get_json()
    with tenant_scope(world.agency_id):
        assert db.session.scalars(select(ClientBilling.plan).where(
            ClientBilling.client_id == uuid.UUID(body["id"]))).one() == "pro"
    manager = bearer(token_for(db, world, world.manager_id))
    before = _count(db, world)
    assert_problem(client.post("/api/v1/clients", json={"name": "Cave", "plan": "pro"},
                               headers=manager), 403)
    assert _count(db, world) == before


def test_create_refuses_a_body_that_is_not_an_object(client, db, world, owner):
    body = assert_problem(client.post("/api/v1/clients", json=["Ok"], headers=owner), 422)
    assert "_schema" in body["errors"]


def test_name_of_120_characters_is_fine(client, world, owner):
    response = client.post("/api/v1/clients", json={"name": "x" * 120}, headers=owner)
    assert response.status_code == 201


# --- read, change, archive --------------------------------------------------------------

def test_get_one(client, world, owner):
    body = client.get(f"/api/v1/clients/{world.client_id}", headers=owner).get_json()
    assert body["id"] == str(world.client_id)
    assert body["name"] == "Agence Alpha Boulangerie"
    assert body["created_at"].endswith("+00:00")


def test_unknown_client_is_404(client, world, owner):
    url = "/api/v1/clients/00000000-0000-7000-8000-000000000000"
    assert_problem(client.get(url, headers=owner), 404)
    assert_problem(client.patch(url, json={"name": "x"}, headers=owner), 404)


def test_patch_changes_only_what_is_sent(client, db, world, owner):
    url = f"/api/v1/clients/{world.client_id}"
    before = client.get(url, headers=owner).get_json()
    response = client.patch(url, json={"brand_tone": "playful", "language": "en"},
                            headers=owner)
    assert response.status_code == 200
    after = response.get_json()
    assert after["brand_tone"] == "playful" and after["language"] == "en"
    assert after["name"] == before["name"] and after["timezone"] == before["timezone"]
    assert client.get(url, headers=owner).get_json() == after
    assert client.patch(url, json={}, headers=owner).get_json() == after


@pytest.mark.parametrize(("payload", "field"), [
    ({"name": ""}, "name"), ({"timezone": "Nowhere"}, "timezone"),
    ({"language": "de"}, "language"), ({"id": "123"}, "id"), ({"archived": True}, "archived"),
])
def test_patch_refuses_bad_fields_and_writes_nothing(client, db, world, owner, payload, field):
    url = f"/api/v1/clients/{world.client_id}"
    before = client.get(url, headers=owner).get_json()
    body = assert_problem(client.patch(url, json={**payload, "brand_tone": "changed"},
                                       headers=owner), 422)
    assert field in body["errors"]
    assert client.get(url, headers=owner).get_json() == before


def test_member_may_edit_an_assigned_client(client, db, world):
    token = bearer(token_for(db, world, world.member_id))
    response = client.patch(f"/api/v1/clients/{world.client_id}", json={"brand_tone": "calm"},
                            headers=token)
    assert response.status_code == 200
    assert_problem(client.patch(f"/api/v1/clients/{world.other_client_id}",
                                json={"brand_tone": "calm"}, headers=token), 404)


def test_archive_and_restore_are_idempotent(client, db, world, owner):
    url = f"/api/v1/clients/{world.client_id}"
    first = client.post(url + "/archive", headers=owner)
    assert first.status_code == 200
    assert first.get_json()["archived"] is True
    archived_at = first.get_json()["archived_at"]
    assert archived_at
    again = client.post(url + "/archive", headers=owner)
    assert again.status_code == 200
    assert again.get_json()["archived_at"] == archived_at
    assert client.get(url, headers=owner).get_json()["archived"] is True

    restored = client.post(url + "/restore", headers=owner)
    assert restored.status_code == 200
    assert restored.get_json()["archived"] is False
    assert restored.get_json()["archived_at"] is None
    assert client.post(url + "/restore", headers=owner).get_json()["archived"] is False
    with tenant_scope(world.agency_id):
        actions = db.session.scalars(select(AuditEvent.action).where(
            AuditEvent.target_id == str(world.client_id),
            AuditEvent.action.in_(["client.archived", "client.restored"]),
        )).all()
    assert sorted(actions) == ["client.archived", "client.restored"]

"""Every error under /api/ is application/problem+json, with the right status."""

from __future__ import annotations

from sqlalchemy import func, select

from agency.clients.models import Client
from tenants.context import tenant_scope

from .conftest import assert_problem


def _count(db, world) -> int:
    with tenant_scope(world.agency_id):
        return db.session.scalar(select(func.count()).select_from(Client))


def test_unknown_route_is_a_404_problem(client, world, owner):
    assert_problem(client.get("/api/v1/nothing-here", headers=owner), 404)
    assert_problem(client.get("/api/v2/clients"), 404)


def test_malformed_uuid_in_the_path_is_404(client, world, owner):
    assert_problem(client.get("/api/v1/clients/not-a-uuid", headers=owner), 404)
    assert_problem(client.get(f"/api/v1/clients/{world.client_id}/contacts/123",
                              headers=owner), 404)


def test_wrong_method_is_405_with_allow(client, world, owner):
    response = client.delete("/api/v1/clients", headers=owner)
    assert_problem(response, 405)
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    response = client.get(f"/api/v1/clients/{world.client_id}/archive", headers=owner)
    assert_problem(response, 405)
    assert "POST" in response.headers["Allow"]


def test_malformed_json_is_400(client, db, world, owner):
    before = _count(db, world)
    response = client.post("/api/v1/clients", data='{"name": "Oops",',
                           content_type="application/json", headers=owner)
    body = assert_problem(response, 400)
    assert "JSON" in body["detail"]
    assert _count(db, world) == before


def test_non_json_body_is_415(client, db, world, owner):
    before = _count(db, world)
    assert_problem(client.post("/api/v1/clients", data={"name": "Form"}, headers=owner), 415)
    assert_problem(client.post("/api/v1/clients", data="name=Text", content_type="text/plain",
                               headers=owner), 415)
    assert_problem(client.patch(f"/api/v1/clients/{world.client_id}", data="<name/>",
                                content_type="application/xml", headers=owner), 415)
    assert _count(db, world) == before


def test_body_over_the_limit_is_413(app, client, db, world, owner):
    before = _count(db, world)
    too_big = "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    response = client.post("/api/v1/clients", json={"name": "Big", "brand_tone": too_big},
                           headers=owner)
    assert_problem(response, 413)
    assert _count(db, world) == before


def test_vendor_json_types_are_accepted(client, world, owner):
    response = client.post("/api/v1/clients", data='{"name": "Vendor"}',
                           content_type="application/vnd.relais+json", headers=owner)
    assert response.status_code == 201


def test_bodyless_post_is_allowed_where_no_body_is_needed(client, world, owner):
    response = client.post(f"/api/v1/clients/{world.client_id}/archive", headers=owner)
    assert response.status_code == 200
    assert response.mimetype == "application/json"


def test_unexpected_error_is_a_500_problem(app, client, world, owner, monkeypatch):
    from agency.clients import services

    def boom(values):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(services, "create_client", boom)
    body = assert_problem(client.post("/api/v1/clients", json={"name": "X"}, headers=owner), 500)
    assert "kaboom" not in body.get("detail", "")

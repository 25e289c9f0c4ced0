"""A client's contacts through the API."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from agency.clients.models import Client, Contact
from agency.clients.services import create_contact
from tenants.context import tenant_scope

from .conftest import assert_problem, bearer, token_for


def _contacts(db, world) -> int:
    with tenant_scope(world.agency_id):
        return db.session.scalar(select(func.count()).select_from(Contact))


def test_list_contacts(client, world, owner):
    response = client.get(f"/api/v1/clients/{world.client_id}/contacts", headers=owner)
    assert response.status_code == 200
    assert response.get_json() == [{
        "id": str(world.contact_id), "name": "Sophie", "email": "sophie@agence-alpha.test",
        "phone": "", "approves_posts": True, "receives_reports": False,
    }]
    empty = client.get(f"/api/v1/clients/{world.other_client_id}/contacts", headers=owner)
    assert empty.get_json() == []


def test_contact_crud(client, db, world, owner):
    base = f"/api/v1/clients/{world.other_client_id}/contacts"
    created = client.post(base, json={"name": "Marc", "phone": "+33 6 12 34 56 78"},
                          headers=owner)
    assert created.status_code == 201
    contact = created.get_json()
    assert contact["approves_posts"] is False and contact["email"] == ""
    assert created.headers["Location"].endswith(f"{base}/{contact['id']}")
    assert client.get(f"{base}/{contact['id']}", headers=owner).get_json() == contact

    changed = client.patch(f"{base}/{contact['id']}",
                           json={"email": "Marc@Example.TEST", "approves_posts": True},
                           headers=owner)
    assert changed.status_code == 200
    assert changed.get_json()["email"] == "marc@example.test"
    assert changed.get_json()["approves_posts"] is True
    assert changed.get_json()["name"] == "Marc"

    deleted = client.delete(f"{base}/{contact['id']}", headers=owner)
    assert deleted.status_code == 204
    assert deleted.get_data() == b""
    assert_problem(client.get(f"{base}/{contact['id']}", headers=owner), 404)
    assert_problem(client.delete(f"{base}/{contact['id']}", headers=owner), 404)


@pytest.mark.parametrize(("payload", "field"), [
    ({}, "name"),
    ({"name": "x" * 121}, "name"),
    ({"name": "A", "email": "not-an-email"}, "email"),
    ({"name": "A", "phone": "call me"}, "phone"),
    ({"name": "A", "approves_posts": True}, "email"),  # an approver needs an e-mail
    ({"name": "A", "approves_posts": "sometimes"}, "approves_posts"),
    ({"name": "A", "client_id": "x"}, "client_id"),
])
def test_contact_create_refuses_bad_fields(client, db, world, owner, payload, field):
    before = _contacts(db, world)
    body = assert_problem(client.post(f"/api/v1/clients/{world.client_id}/contacts",
                                      json=payload, headers=owner), 422)
    assert field in body["errors"]
    assert _contacts(db, world) == before


def test_contact_patch_refuses_removing_an_approvers_email(client, world, owner):
    url = f"/api/v1/clients/{world.client_id}/contacts/{world.contact_id}"
    body = assert_problem(client.patch(url, json={"email": ""}, headers=owner), 422)
    assert "email" in body["errors"]
    assert client.get(url, headers=owner).get_json()["email"] == "sophie@agence-alpha.test"


def test_a_contact_of_another_client_is_404(client, db, world, owner):
    with tenant_scope(world.agency_id):
        other = db.session.scalars(select(Client).where(Client.id == world.other_client_id)).one()
        theirs = create_contact(other, {"name": "Léa"}).id
        db.session.commit()
    wrong = f"/api/v1/clients/{world.client_id}/contacts/{theirs}"
    assert_problem(client.get(wrong, headers=owner), 404)
    assert_problem(client.patch(wrong, json={"name": "Volée"}, headers=owner), 404)
    assert_problem(client.delete(wrong, headers=owner), 404)
    with tenant_scope(world.agency_id):
        assert db.session.scalars(select(Contact.name).where(Contact.id == theirs)).one() \
            == "Léa"


def test_member_manages_contacts_of_assigned_clients_only(client, db, world):
    token = bearer(token_for(db, world, world.member_id))
    mine = f"/api/v1/clients/{world.client_id}/contacts"
    assert client.post(mine, json={"name": "Paul"}, headers=token).status_code == 201
    others = f"/api/v1/clients/{world.other_client_id}/contacts"
    assert_problem(client.get(others, headers=token), 404)
    assert_problem(client.post(others, json={"name": "Paul"}, headers=token), 404)

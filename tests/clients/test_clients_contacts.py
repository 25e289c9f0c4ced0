"""A client's contacts: create, edit, delete, bad input, and ids that are not theirs."""

from __future__ import annotations

import pytest

from agency.clients.services import create_contact
from agency.extensions import db
from tenants.context import tenant_scope
from tests.clients.helpers import page, reduce_world
from tests.factories import login, make_world

VALID = {"name": "Marc Leroy", "email": "Marc@Example.test", "phone": "+33 6 12 34 56 78",
         "approves_posts": "y"}


def test_add_a_contact(client, world, read):
    login(client, world.member)
    url = f"/clients/{world.client_id}/contacts/new"
    assert client.get(url).status_code == 200
    response = client.post(url, data=VALID)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/clients/{world.client_id}")
    marc = next(c for c in read.contacts(world.client_id) if c.name == "Marc Leroy")
    assert (marc.email, marc.phone, marc.approves_posts) == (
        "marc@example.test", "+33 6 12 34 56 78", True)
    assert len(read.audit("contact.created", marc.id)) == 1
    html = page(client.get(f"/clients/{world.client_id}"))
    assert "Marc Leroy" in html


def test_a_contact_without_email_or_phone_is_fine(client, world, read):
    login(client, world.manager)
    response = client.post(f"/clients/{world.other_client_id}/contacts/new",
                           data={"name": "Jeanne"})
    assert response.status_code == 303
    [jeanne] = read.contacts(world.other_client_id)
    assert (jeanne.email, jeanne.phone, jeanne.approves_posts) == ("", "", False)


def test_edit_a_contact(client, world, read):
    login(client, world.member)
    url = f"/clients/{world.client_id}/contacts/{world.contact_id}/edit"
    assert "Sophie" in page(client.get(url))
    response = client.post(url, data={"name": "Sophie Martin", "email": "sophie@alpha.test",
                                      "phone": "04 78 00 00 00"})
    assert response.status_code == 303
    [sophie] = read.contacts(world.client_id)
    assert (sophie.name, sophie.phone, sophie.approves_posts) == (
        "Sophie Martin", "04 78 00 00 00", False)
    assert len(read.audit("contact.updated", world.contact_id)) == 1


def test_delete_a_contact(client, world, read):
    login(client, world.member)
    response = client.post(f"/clients/{world.client_id}/contacts/{world.contact_id}/delete")
    assert response.status_code == 303
    assert read.contacts(world.client_id) == []
    assert len(read.audit("contact.deleted", world.contact_id)) == 1


def test_delete_asks_for_confirmation_and_needs_a_post(client, world, read):
    login(client, world.member)
    html = page(client.get(f"/clients/{world.client_id}"))
    action = f'action="/clients/{world.client_id}/contacts/{world.contact_id}/delete"'
    assert "data-confirm=" in html.split(action)[1].split(">")[0]
    url = f"/clients/{world.client_id}/contacts/{world.contact_id}/delete"
    assert client.get(url).status_code == 405
    assert len(read.contacts(world.client_id)) == 1


@pytest.fixture
def other_clients_contact(world, read):
    with tenant_scope(world.agency_id):
        contact = create_contact(read.client(world.other_client_id), {"name": "Léa"})
        db.session.flush()
        return contact.id


@pytest.mark.parametrize(("method", "path"), [
    ("get", "edit"), ("post", "edit"), ("post", "delete"),
])
def test_contact_of_another_client_is_404(client, world, read, other_clients_contact,
                                          method, path):
    # The manager sees both clients: only the contact's own client may reach it.
    login(client, world.manager)
    before = read.state()
    url = f"/clients/{world.client_id}/contacts/{other_clients_contact}/{path}"
    response = getattr(client, method)(url, data={"name": "Changed"})
    assert response.status_code == 404
    assert read.state() == before


@pytest.mark.parametrize(("method", "path"), [
    ("get", "edit"), ("post", "edit"), ("post", "delete"),
])
def test_contact_of_another_agency_is_404(client, world, read, method, path):
    beta = reduce_world(make_world("Beta"))
    login(client, world.owner)
    before = read.state()
    url = f"/clients/{world.client_id}/contacts/{beta.contact_id}/{path}"
    assert getattr(client, method)(url, data={"name": "Changed"}).status_code == 404
    assert read.state() == before


def test_member_cannot_reach_contacts_of_an_unassigned_client(client, world, read,
                                                              other_clients_contact):
    login(client, world.member)
    base = f"/clients/{world.other_client_id}/contacts"
    assert client.get(base + "/new").status_code == 404
    assert client.post(base + "/new", data=VALID).status_code == 404
    assert client.post(f"{base}/{other_clients_contact}/delete").status_code == 404


BAD_CONTACT_INPUT = [
    ({"name": ""}, "name", "A contact needs a name."),
    ({"name": "  "}, "name", "A contact needs a name."),
    ({"name": "x" * 121}, "name", "At most 120 characters."),
    ({"email": "not-an-address"}, "email", "Enter a valid e-mail address."),
    ({"email": "a@" + "b" * 260 + ".test"}, "email", "Enter a valid e-mail address."),
    ({"phone": "call me"}, "phone", "Enter a valid phone number."),
    ({"phone": "123"}, "phone", "Enter a valid phone number."),
    ({"phone": "+33 (0)6 12 34 56 78 ext. 12345678"}, "phone", "Enter a valid phone number."),
    ({"email": "", "approves_posts": "y"}, "email",
     "A contact who approves posts needs an e-mail address."),
]


@pytest.mark.parametrize(("change", "field", "message"), BAD_CONTACT_INPUT)
def test_new_contact_refuses_bad_input(client, world, read, change, field, message):
    login(client, world.member)
    before = read.state()
    response = client.post(f"/clients/{world.client_id}/contacts/new",
                           data={**VALID, **change})
    assert response.status_code == 422
    html = page(response)
    assert message in html
    assert f'id="{field}-error"' in html
    assert read.state() == before


@pytest.mark.parametrize(("change", "field", "message"), BAD_CONTACT_INPUT)
def test_contact_edit_refuses_bad_input(client, world, read, change, field, message):
    login(client, world.member)
    before = read.state()
    response = client.post(f"/clients/{world.client_id}/contacts/{world.contact_id}/edit",
                           data={**VALID, **change})
    assert response.status_code == 422
    assert message in page(response)
    assert read.state() == before

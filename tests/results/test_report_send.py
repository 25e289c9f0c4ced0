"""Sending the report's link to the client's contacts, from the report page: only the
contacts chosen, of this client, with an address; in the client's language, with the
summary and a link that works; audited; never another client's contacts."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from agency.audit.models import AuditEvent
from agency.clients.services import create_contact
from agency.extensions import db
from agency.results import report_send
from tenants.context import tenant_scope
from tests.factories import login, make_world
from tests.results.test_report_support import flat, load_client, scene_for, set_language


@pytest.fixture
def world(db):
    return make_world("Agence Envoi")


@pytest.fixture
def scene(app, world):
    return scene_for(world)


def add_contact(app, world, client_id, name, email):
    with app.test_request_context(), tenant_scope(world.agency_id):
        return create_contact(load_client(client_id), {"name": name, "email": email}).id


def send(http, world, contacts, month="2026-10"):
    return http.post(f"/clients/{world.client.id}/report/send?month={month}",
                     data={"contacts": [str(c) for c in contacts]})


def test_the_chosen_contacts_get_the_link_in_the_clients_language(app, client, world,
                                                                    scene, mail):
    set_language(world, world.client.id, "en")
    paul = add_contact(app, world, world.client.id, "Paul", "paul@boulangerie.test")
    add_contact(app, world, world.client.id, "Zoé", "zoe@boulangerie.test")  # not chosen
    login(client, world.member)  # assigned to the client
    page = client.get(f"/clients/{world.client.id}/report?month=2026-10").get_data(
        as_text=True)
    assert "paul@boulangerie.test" in page and 'name="contacts"' in page
    response = send(client, world, [world.contact.id, paul])
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/report?month=2026-10")
    assert sorted(m.to for m in mail) == ["paul@boulangerie.test", "sophie@agence-envoi.test"]
    message = mail[0]
    assert message.subject == "Agence Envoi: the report for October 2026"
    assert "Your posts were seen" in message.text
    link = next(line for line in message.text.splitlines() if "/r/" in line).strip()
    html = app.test_client().get(link.split("localhost", 1)[-1]).get_data(as_text=True)
    assert "Agence Envoi Boulangerie" in html and "October 2026" in html
    after = client.get(f"/clients/{world.client.id}/report?month=2026-10").get_data(
        as_text=True)
    assert "The report was sent to 2 contacts." in after
    with tenant_scope(world.agency_id):
        assert len(list(db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == report_send.ReportAction.SENT)))) == 1


def test_french_by_default(app, client, world, scene, mail):
    login(client, world.owner)
    send(client, world, [world.contact.id])
    [message] = mail
    assert "octobre 2026" in message.subject
    assert "septembre" in flat(message.text)


def test_another_clients_contact_is_never_sent_to(app, client, world, scene, mail):
    garage = add_contact(app, world, world.other_client.id, "Marc", "marc@garage.test")
    beta = make_world("Agence Beta")
    foreign = beta.contact.id
    login(client, world.owner)
    response = send(client, world, [garage, foreign])
    assert response.status_code == 302
    assert mail == []
    page = client.get(f"/clients/{world.client.id}/report?month=2026-10").get_data(
        as_text=True)
    assert "Choose at least one contact with an e-mail address." in page
    assert "marc@garage.test" not in page


def test_nothing_chosen_sends_nothing(client, world, scene, mail):
    login(client, world.owner)
    assert send(client, world, []).status_code == 302
    assert mail == []


def test_a_member_not_assigned_cannot_send(client, world, scene, mail):
    login(client, world.member)
    response = client.post(f"/clients/{world.other_client.id}/report/send?month=2026-10",
                           data={"contacts": []})
    assert response.status_code == 404
    assert mail == []

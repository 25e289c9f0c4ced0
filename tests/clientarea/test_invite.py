"""Staff invite a contact to their own sign-in: a signed e-mail link in the client's
language, refused where it cannot apply, audited."""

from __future__ import annotations

import re

from sqlalchemy import select

from agency.audit.models import AuditEvent
from agency.clientarea.services import SignInAction
from agency.clients.models import Contact
from agency.clients.services import create_contact
from tenants.context import tenant_scope
from tests.factories import login

from .conftest import link_contact


def _invite_url(world, contact_id, client_id=None):
    client_id = client_id or world.client.id
    return f"/clients/{client_id}/contacts/{contact_id}/sign-in/invite"


def _events(read, action):
    return read.all(AuditEvent, AuditEvent.action == action)


def test_staff_invite_a_contact_by_email(app, db, client, world, read, mail):
    contact_id, client_id = world.contact.id, world.client.id
    login(client, world.member)  # a member assigned to the client manages its contacts
    response = client.post(_invite_url(world, contact_id))
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/clients/{client_id}")
    assert len(mail) == 1
    message = mail[0]
    assert message.to == "sophie@agence-alpha.test"
    assert "client area" in message.subject and "Agence Alpha Boulangerie" in message.subject
    assert "Hello Sophie," in message.text
    [event] = _events(read, SignInAction.INVITED)
    assert event.target_id == str(contact_id)
    assert event.details["email"] == "sophie@agence-alpha.test"
    page = client.get(f"/clients/{client_id}").get_data(as_text=True)
    assert "will receive an e-mail to set up their sign-in" in page
    assert "Invite to sign in" in page  # until it is accepted
    link = re.search(r"https?://\S+/client-area/invitation/\S+", message.text).group(0)
    assert client.get(link.split("relais.test", 1)[1]).status_code == 200


def test_the_mail_speaks_the_clients_language(app, db, client, world, mail):
    with tenant_scope(world.agency_id):
        world.client.language = "fr"
        db.session.flush()
    login(client, world.owner)
    assert client.post(_invite_url(world, world.contact.id)).status_code == 303
    assert mail[0].text.startswith("Bonjour Sophie,")


def test_a_contact_without_email_cannot_be_invited(app, db, client, world, read, mail):
    with tenant_scope(world.agency_id):
        no_mail = create_contact(world.client, {"name": "Paul"})
    login(client, world.owner)
    response = client.post(_invite_url(world, no_mail.id), follow_redirects=True)
    assert "Add the contact&#39;s e-mail address first." in response.get_data(as_text=True)
    assert mail == []
    assert _events(read, SignInAction.INVITED) == []


def test_a_contact_who_can_sign_in_is_not_invited_again(app, db, client, world, read, mail):
    link_contact(app, db, world.agency_id, world.contact.id)
    login(client, world.owner)
    response = client.post(_invite_url(world, world.contact.id), follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "Sophie can already sign in." in html
    assert "Revoke sign-in" in html and "Signs in" in html
    assert mail == []


def test_an_archived_clients_contact_is_not_invited(app, db, client, world, mail):
    login(client, world.owner)
    client.post(f"/clients/{world.client.id}/archive")
    response = client.post(_invite_url(world, world.contact.id), follow_redirects=True)
    assert "This client is archived" in response.get_data(as_text=True)
    assert mail == []


def test_another_clients_contact_is_404(app, db, client, world, mail):
    login(client, world.owner)
    response = client.post(_invite_url(world, world.contact.id, world.other_client.id))
    assert response.status_code == 404
    assert mail == []


def test_inviting_needs_contact_management(app, db, client, world, mail, monkeypatch):
    from tenants import roles
    from tenants.roles import Permission, Role

    table = dict(roles.ROLE_PERMISSIONS)
    table[Role.MEMBER] = table[Role.MEMBER] - {Permission.CONTACT_MANAGE}
    monkeypatch.setattr(roles, "ROLE_PERMISSIONS", table)
    login(client, world.member)
    assert client.post(_invite_url(world, world.contact.id)).status_code == 403
    assert mail == []
    with tenant_scope(world.agency_id):
        contact = db.session.scalars(select(Contact).where(Contact.id == world.contact.id)).one()
        assert contact.user_id is None

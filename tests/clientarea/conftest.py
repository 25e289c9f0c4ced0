"""Fixtures for the client area: the approvals world (posts sent to Sophie, the client's
approving contact), and Sophie's own sign-in made through the product's services."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from agency.clientarea.services import accept_sign_in, invitation_for_token, invite_to_sign_in
from agency.clients.models import Client, Contact
from tenants.context import tenant_scope
from tests.approvals.conftest import Reader, send_posts  # noqa: F401 - used by the tests
from tests.factories import PASSWORD, make_world


@pytest.fixture
def world(db):
    world = make_world()
    # Assertions read the English source strings; tests about French set it themselves.
    with tenant_scope(world.agency_id):
        world.client.language = "en"
        world.other_client.language = "en"
        db.session.flush()
    return world


@pytest.fixture
def read(db, world) -> Reader:
    return Reader(db, world.agency_id)


def invite_token(app, db, agency_id, contact_id) -> str:
    """An invitation to sign in for the contact, as staff would send it (mail cleared)."""
    with app.test_request_context(), tenant_scope(agency_id):
        contact = db.session.scalars(select(Contact).where(Contact.id == contact_id)).one()
        client = db.session.scalars(select(Client).where(Client.id == contact.client_id)).one()
        token = invite_to_sign_in(contact, client)
        db.session.commit()
    app.extensions["relais_mail_memory"].clear()
    return token


def link_contact(app, db, agency_id, contact_id, password: str = PASSWORD) -> uuid.UUID:
    """Invite and accept: the contact can now sign in. Returns their user's id."""
    token = invite_token(app, db, agency_id, contact_id)
    with app.test_request_context():
        invitation = invitation_for_token(token)
        user = accept_sign_in(invitation, password)
        db.session.commit()
        return user.id


def sign_in(http, email: str, password: str = PASSWORD):
    response = http.post("/login", data={"email": email, "password": password})
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
    return response


@pytest.fixture
def sophie(app, db, world) -> SimpleNamespace:
    """The world's approving contact, with her own sign-in (not signed in yet)."""
    with tenant_scope(world.agency_id):
        contact_id, email = world.contact.id, world.contact.email
    user_id = link_contact(app, db, world.agency_id, contact_id)
    return SimpleNamespace(contact_id=contact_id, email=email, user_id=user_id,
                           agency_id=world.agency_id)


def contact_of(read, contact_id) -> Contact:
    return read.one(Contact, contact_id)

"""Signing in to a client area: straight there for a contact without a membership, at
the chooser for someone with several places to go; the session names the contact and
never carries a membership."""

from __future__ import annotations

from contextlib import contextmanager

from flask import session, template_rendered
from sqlalchemy import select

from agency.audit.models import AuditEvent
from agency.audit.services import Action
from agency.clients.services import archive_client, create_client, create_contact
from tenants.context import tenant_scope
from tests.auth.helpers import actions
from tests.factories import PASSWORD, add_member, make_world

from .conftest import link_contact, sign_in


@contextmanager
def rendered(app):
    """The context of each template rendered meanwhile (what the page was given)."""
    contexts = []

    def keep(sender, template, context, **extra):
        contexts.append(context)

    template_rendered.connect(keep, app)
    try:
        yield contexts
    finally:
        template_rendered.disconnect(keep, app)


def test_a_contact_signs_in_to_their_client_area(app, db, client, world, sophie):
    with client:
        response = sign_in(client, sophie.email)
        assert response.headers["Location"].endswith("/client-area")
        assert session["contact_id"] == str(sophie.contact_id)
        assert session["agency_id"] == str(world.agency_id)
    with rendered(app) as contexts:
        page = client.get("/client-area")
    assert page.status_code == 200
    assert contexts[0]["contact"].id == sophie.contact_id
    assert contexts[0]["membership"] is None  # never a membership in a client area
    assert "Agence Alpha Boulangerie" in page.get_data(as_text=True)
    assert client.get("/").headers["Location"].endswith("/client-area")
    assert client.get("/login").headers["Location"].endswith("/client-area")
    assert Action.LOGIN in actions(world.agency_id)


def test_a_next_page_outside_the_client_area_is_not_followed(app, db, client, world, sophie):
    response = client.post("/login", data={"email": sophie.email, "password": PASSWORD,
                                           "next": f"/clients/{world.client.id}"})
    assert response.headers["Location"].endswith("/client-area")
    response = app.test_client().post("/login", data={
        "email": sophie.email, "password": PASSWORD, "next": "/client-area/decisions"})
    assert response.headers["Location"].endswith("/client-area/decisions")


def test_staff_who_are_also_a_contact_choose_where_to_go(app, db, client, world):
    # The agency's manager is also the contact of a client (of another agency).
    other = make_world("Agence Beta")
    manager_email = "manager@alpha.test"
    manager = add_member(world.agency, world.owner.role.MANAGER, email=manager_email)
    with tenant_scope(other.agency_id):
        contact = create_contact(other.client, {"name": "Marc", "email": manager_email,
                                                "approves_posts": True})
    link_contact(app, db, other.agency_id, contact.id)
    response = sign_in(client, manager_email)
    assert response.headers["Location"].endswith("/login/agency")
    html = client.get("/login/agency").get_data(as_text=True)
    assert "Where do you want to go?" in html
    assert "Agence Alpha" in html and "Agence Beta Boulangerie" in html
    with client:
        chosen = client.post("/login/agency", data={"contact_id": str(contact.id)})
        assert chosen.headers["Location"].endswith("/client-area")
        assert session["agency_id"] == str(other.agency_id)
        assert client.get("/client-area").status_code == 200
        assert client.get("/clients").status_code == 403  # not the staff session
    # Signing in again, the agency this time: a staff session, no client area.
    staff = app.test_client()
    sign_in(staff, manager_email)
    with staff:
        staff.post("/login/agency", data={"agency_id": str(world.agency_id)})
        assert "contact_id" not in session
    with rendered(app) as contexts:
        assert staff.get("/clients").status_code == 200
    assert contexts[0]["membership"].id == manager.id
    assert staff.get("/client-area").status_code == 404


def test_a_contact_of_several_clients_chooses_one(app, db, client, world):
    email = "sophie@agence-alpha.test"
    with tenant_scope(world.agency_id):
        second = create_contact(world.other_client, {"name": "Sophie", "email": email,
                                                     "approves_posts": True})
    link_contact(app, db, world.agency_id, world.contact.id)
    link_contact(app, db, world.agency_id, second.id)
    assert sign_in(client, email).headers["Location"].endswith("/login/agency")
    html = client.get("/login/agency").get_data(as_text=True)
    assert "Choose a client area" in html
    assert "Agence Alpha Boulangerie" in html and "Agence Alpha Garage" in html
    assert client.post("/login/agency", data={"contact_id": str(world.member.id)}
                       ).status_code == 404  # not one of theirs
    with client:
        client.post("/login/agency", data={"contact_id": str(second.id)})
        assert session["contact_id"] == str(second.id)


def test_an_archived_clients_area_is_closed(app, db, client, world, sophie):
    with tenant_scope(world.agency_id):
        archive_client(world.client)
        db.session.flush()
    response = client.post("/login", data={"email": sophie.email, "password": PASSWORD})
    assert response.status_code == 200
    assert "not part of any agency" in response.get_data(as_text=True)


def test_archiving_closes_an_open_client_area(app, db, client, world, sophie):
    sign_in(client, sophie.email)
    with tenant_scope(world.agency_id):
        archive_client(world.client)
        db.session.flush()
    response = client.get("/client-area")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_wrong_password_is_audited_in_the_contacts_agency(app, db, client, world, sophie):
    response = client.post("/login", data={"email": sophie.email, "password": "wrong" * 4})
    assert "E-mail or password is incorrect." in response.get_data(as_text=True)
    with tenant_scope(world.agency_id):
        failed = db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == Action.LOGIN_FAILED)).all()
    assert [e.actor_user_id for e in failed] == [sophie.user_id]


def test_a_new_client_contact_sees_only_what_is_theirs_at_the_chooser(app, db, client):
    # A person who is a contact in two agencies sees each client once, named with its agency.
    alpha, beta = make_world("Agence Alpha"), make_world("Agence Beta")
    email = "lucie@example.test"
    contacts = []
    for world in (alpha, beta):
        with tenant_scope(world.agency_id):
            shop = create_client({"name": "Fleuriste"})
            contacts.append((world.agency_id, create_contact(shop, {
                "name": "Lucie", "email": email, "approves_posts": True}).id))
    for agency_id, contact_id in contacts:
        link_contact(app, db, agency_id, contact_id)
    sign_in(client, email)
    html = client.get("/login/agency").get_data(as_text=True)
    assert html.count("Fleuriste") == 2
    assert "Agence Alpha" in html and "Agence Beta" in html
    assert "Boulangerie" not in html and "Garage" not in html

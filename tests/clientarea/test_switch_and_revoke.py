"""A contact of several clients switches between them; staff revoke a sign-in, which
ends the contact's client-area sessions at once."""

from __future__ import annotations

from flask import session
from sqlalchemy import select

from agency.audit.models import AuditEvent
from agency.auth.models import UserSession
from agency.clientarea.services import SignInAction
from agency.clients.models import Contact
from agency.clients.services import create_client, create_contact
from agency.extensions import db as _db
from tenants.context import tenant_scope
from tests.factories import login, make_world

from .conftest import link_contact, send_posts, sign_in


def _sessions_of(user_id) -> int:
    return len(_db.session.scalars(select(UserSession).where(
        UserSession.user_id == user_id)).all())


def test_a_contact_of_two_clients_switches(app, db, client, world, sophie):
    beta = make_world("Agence Beta")
    with tenant_scope(beta.agency_id):
        shop = create_client({"name": "Fleuriste Beta", "language": "en"})
        second = create_contact(shop, {"name": "Sophie", "email": sophie.email,
                                       "approves_posts": True})
        second_id = second.id
    link_contact(app, db, beta.agency_id, second_id)
    alpha_posts = send_posts(app, db, world, texts=("Chez Alpha",))
    beta_posts = send_posts(app, db, beta, texts=("Chez Beta",), client=shop)
    sign_in(client, sophie.email)
    client.post("/login/agency", data={"contact_id": str(sophie.contact_id)})
    html = client.get("/client-area").get_data(as_text=True)
    assert "Chez Alpha" in html and "Chez Beta" not in html
    assert "Another client" in html and "Fleuriste Beta" in html
    with client:
        response = client.post("/client-area/switch", data={"contact_id": str(second_id)})
        assert response.status_code == 303
        assert session["contact_id"] == str(second_id)
        assert session["agency_id"] == str(beta.agency_id)
    html = client.get("/client-area").get_data(as_text=True)
    assert "Chez Beta" in html and "Chez Alpha" not in html
    assert str(beta_posts.post_ids[0]) in html and str(alpha_posts.post_ids[0]) not in html
    # Only to one of their own contacts: another contact's id is a 404.
    assert client.post("/client-area/switch",
                       data={"contact_id": str(world.contact.id)}).status_code == 303
    with tenant_scope(world.agency_id):
        lea = create_contact(world.other_client, {"name": "Léa", "email": "lea@alpha.test"})
    assert client.post("/client-area/switch", data={"contact_id": str(lea.id)}
                       ).status_code == 404
    assert client.post("/client-area/switch", data={"contact_id": "nope"}).status_code == 404


def test_one_client_has_no_switch(app, db, client, world, sophie):
    sign_in(client, sophie.email)
    assert "Another client" not in client.get("/client-area").get_data(as_text=True)


def test_revoking_ends_the_client_area_sessions(app, db, client, world, sophie, read):
    sign_in(client, sophie.email)
    assert client.get("/client-area").status_code == 200
    assert _sessions_of(sophie.user_id) == 1
    staff = app.test_client()
    login(staff, world.member)
    response = staff.post(f"/clients/{world.client.id}/contacts/{sophie.contact_id}"
                          "/sign-in/revoke", follow_redirects=True)
    assert "Sophie can no longer sign in to the client area." in response.get_data(as_text=True)
    assert read.one(Contact, sophie.contact_id).user_id is None
    [event] = read.all(AuditEvent, AuditEvent.action == SignInAction.REVOKED)
    assert event.target_id == str(sophie.contact_id)
    assert event.details["email"] == sophie.email
    # The next request of the contact's browser is signed out, and its session is gone.
    after = client.get("/client-area")
    assert after.status_code == 302 and "/login" in after.headers["Location"]
    assert _sessions_of(sophie.user_id) == 0
    # Signing in again leads nowhere: no membership, no client area.
    response = client.post("/login", data={"email": sophie.email,
                                           "password": "correct horse battery staple"})
    assert "not part of any agency" in response.get_data(as_text=True)
    # Revoking twice changes nothing more.
    again = staff.post(f"/clients/{world.client.id}/contacts/{sophie.contact_id}"
                       "/sign-in/revoke", follow_redirects=True)
    assert "Sophie had no sign-in." in again.get_data(as_text=True)
    assert len(read.all(AuditEvent, AuditEvent.action == SignInAction.REVOKED)) == 1


def test_removing_the_contact_ends_the_client_area(app, db, client, world, sophie):
    sign_in(client, sophie.email)
    staff = app.test_client()
    login(staff, world.owner)
    staff.post(f"/clients/{world.client.id}/contacts/{sophie.contact_id}/delete")
    after = client.get("/client-area")
    assert after.status_code == 302 and "/login" in after.headers["Location"]


def test_revoking_leaves_other_client_areas_of_the_person(app, db, client, world, sophie):
    with tenant_scope(world.agency_id):
        second = create_contact(world.other_client, {"name": "Sophie", "email": sophie.email,
                                                      "approves_posts": True})
        second_id = second.id
    link_contact(app, db, world.agency_id, second_id)
    sign_in(client, sophie.email)
    client.post("/login/agency", data={"contact_id": str(second_id)})
    staff = app.test_client()
    login(staff, world.owner)
    staff.post(f"/clients/{world.client.id}/contacts/{sophie.contact_id}/sign-in/revoke")
    assert client.get("/client-area").status_code == 200  # the other client's area
    assert client.post("/client-area/switch", data={"contact_id": str(sophie.contact_id)}
                       ).status_code == 404


def test_revoking_needs_an_assigned_staff_member(app, db, client, world, sophie, read):
    from tenants.roles import Role
    from tests.factories import add_member

    outsider = add_member(world.agency, Role.MEMBER)  # not assigned to the client
    login(client, outsider)
    response = client.post(f"/clients/{world.client.id}/contacts/{sophie.contact_id}"
                           "/sign-in/revoke")
    assert response.status_code == 404
    assert read.one(Contact, sophie.contact_id).user_id == sophie.user_id

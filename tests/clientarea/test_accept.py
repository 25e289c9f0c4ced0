"""Accepting the invitation: a new account with the sign-up password rules, or the
existing account of that e-mail; the link works once and dies when the sign-in is
revoked or the contact's e-mail changes."""

from __future__ import annotations

from flask import session
from sqlalchemy import select

from agency.audit.models import AuditEvent
from agency.auth.models import User, UserSession
from agency.clientarea.services import SignInAction
from agency.clients.models import Contact
from agency.extensions import db as _db
from tenants.context import tenant_scope
from tests.factories import PASSWORD, add_member, make_world

from .conftest import invite_token, link_contact

NEW_PASSWORD = "une phrase assez longue et rare"


def _url(token: str) -> str:
    return f"/client-area/invitation/{token}"


def _user(email):
    return _db.session.scalars(select(User).where(User.email == email)).one_or_none()


def _contact(read, contact_id) -> Contact:
    return read.one(Contact, contact_id)


def test_a_new_account_is_made_and_signed_in(app, db, client, world, read):
    contact_id = world.contact.id
    token = invite_token(app, db, world.agency_id, contact_id)
    page = client.get(_url(token))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Your client area for Agence Alpha Boulangerie" in html
    assert "sophie@agence-alpha.test" in html and 'name="confirm"' in html
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"

    with client:
        response = client.post(_url(token), data={"password": NEW_PASSWORD,
                                                  "confirm": NEW_PASSWORD})
        assert response.status_code == 303
        assert response.headers["Location"].endswith("/client-area")
        assert session["contact_id"] == str(contact_id)
    user = _user("sophie@agence-alpha.test")
    assert user is not None and user.name == "Sophie" and user.locale == "en"
    assert _contact(read, contact_id).user_id == user.id
    [event] = read.all(AuditEvent, AuditEvent.action == SignInAction.LINKED)
    assert (event.target_id, event.actor_user_id) == (str(contact_id), user.id)
    assert client.get("/client-area").status_code == 200


def test_the_password_follows_the_signup_rules(app, db, client, world, read):
    contact_id = world.contact.id
    token = invite_token(app, db, world.agency_id, contact_id)
    short = client.post(_url(token), data={"password": "court", "confirm": "court"})
    assert short.status_code == 422
    assert "Use at least 12 characters." in short.get_data(as_text=True)
    common = client.post(_url(token), data={"password": "password1234",
                                            "confirm": "password1234"})
    assert common.status_code == 422
    assert "This password is too common" in common.get_data(as_text=True)
    different = client.post(_url(token), data={"password": NEW_PASSWORD, "confirm": "x" * 20})
    assert different.status_code == 422
    assert "The two passwords differ." in different.get_data(as_text=True)
    assert _user("sophie@agence-alpha.test") is None
    assert _contact(read, contact_id).user_id is None


def test_an_existing_account_signs_in_with_its_password(app, db, client, world, read):
    # The contact's e-mail is already someone's login (staff of another agency).
    other = make_world("Agence Beta")
    member = add_member(other.agency, other.owner.role.MEMBER, email="sophie@agence-alpha.test")
    member_user_id = member.user_id  # the wrong password's rollback expires the row
    contact_id = world.contact.id
    token = invite_token(app, db, world.agency_id, contact_id)
    html = client.get(_url(token)).get_data(as_text=True)
    assert "already has a Relais account" in html and 'name="confirm"' not in html
    wrong = client.post(_url(token), data={"password": "not the right one at all"})
    assert wrong.status_code == 422
    assert "enter its password" in wrong.get_data(as_text=True)
    assert _contact(read, contact_id).user_id is None
    right = client.post(_url(token), data={"password": PASSWORD})
    assert right.status_code == 303
    assert _contact(read, contact_id).user_id == member_user_id
    assert len(_db.session.scalars(select(User).where(
        User.email == "sophie@agence-alpha.test")).all()) == 1  # no second account


def test_the_link_works_once(app, db, client, world):
    token = invite_token(app, db, world.agency_id, world.contact.id)
    client.post(_url(token), data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    again = app.test_client().get(_url(token))
    assert again.status_code == 400
    assert "This invitation cannot be used" in again.get_data(as_text=True)


def test_a_link_sent_before_a_revocation_never_works_again(app, db, client, world, read):
    contact_id = world.contact.id
    old = invite_token(app, db, world.agency_id, contact_id)
    link_contact(app, db, world.agency_id, contact_id)  # accepted through a later link
    from tests.factories import login

    login(client, world.owner)
    client.post(f"/clients/{world.client.id}/contacts/{contact_id}/sign-in/revoke")
    assert _contact(read, contact_id).user_id is None
    assert app.test_client().get(_url(old)).status_code == 400
    fresh = invite_token(app, db, world.agency_id, contact_id)
    assert app.test_client().get(_url(fresh)).status_code == 200


def test_a_link_dies_when_the_contacts_email_changes(app, db, client, world):
    token = invite_token(app, db, world.agency_id, world.contact.id)
    with tenant_scope(world.agency_id):
        world.contact.email = "sophie.martin@agence-alpha.test"
        db.session.flush()
    assert client.get(_url(token)).status_code == 400


def test_tampered_and_expired_links(app, db, client, world):
    token = invite_token(app, db, world.agency_id, world.contact.id)
    assert client.get(_url(token[:-3] + "abc")).status_code == 400
    app.config["INVITATION_MAX_AGE"], before = -1, app.config["INVITATION_MAX_AGE"]
    try:
        expired = client.get(_url(token))
    finally:
        app.config["INVITATION_MAX_AGE"] = before
    assert expired.status_code == 410
    assert "This invitation has expired" in expired.get_data(as_text=True)
    # A staff invitation's token is not accepted here (each purpose has its salt).
    from agency.auth.links import make_link_token
    from agency.auth.services import INVITATION_SALT

    with app.test_request_context():
        staff_token = make_link_token(INVITATION_SALT, {"a": str(world.agency_id),
                                                        "c": str(world.contact.id)})
    assert client.get(_url(staff_token)).status_code == 400


def test_accepting_ends_the_session_this_browser_had(app, db, client, world):
    from tests.factories import login

    login(client, world.owner)
    token = invite_token(app, db, world.agency_id, world.contact.id)
    owner_sessions = _db.session.scalars(select(UserSession).where(
        UserSession.user_id == world.owner.user_id)).all()
    assert len(owner_sessions) == 1
    client.post(_url(token), data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert _db.session.scalars(select(UserSession).where(
        UserSession.user_id == world.owner.user_id)).all() == []
    assert client.get("/clients").status_code == 403  # now a client-area session


from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from agency.audit.services import Action
from agency.auth.models import ApiToken, User, UserSession
from agency.auth.passwords import verify_password
from agency.auth.services import create_api_token
from agency.auth.sessions import principal_from_api_token
from agency.extensions import db
from tenants.context import tenant_scope
from tests.auth.helpers import actions, committed_world, email_of, is_signed_in
from tests.factories import PASSWORD, login

NEW = "Une hirondelle ne fait pas le printemps"


@pytest.fixture
def world(db):
    return committed_world()


def _user(email) -> User:
    return db.session.scalars(select(User).where(User.email == email)).one()


def _api_principal(app, raw):
    with app.test_request_context():
        return principal_from_api_token(raw)


def test_settings_needs_a_signed_in_person(client, db):
    response = client.get("/settings")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_profile_name_and_language_are_saved(client, world):
    email = email_of(world.member)
    login(client, world.member)
    response = client.post("/settings/profile",
                           data={"profile-name": "Hugo M.", "profile-locale": "en"})
    assert response.status_code == 302
    user = _user(email)
    assert (user.name, user.locale) == ("Hugo M.", "en")
    assert '<html lang="en">' in client.get("/settings").get_data(as_text=True)

    response = client.post("/settings/profile",
                           data={"profile-name": "Hugo", "profile-locale": "de"})
    assert response.status_code == 422
    db.session.refresh(user)
    assert user.locale == "en"


def test_changing_password_keeps_this_browser_in_and_signs_out_the_others(app, client, world):
    agency_id, email = world.agency_id, email_of(world.admin)
    other = app.test_client()
    login(other, world.admin)
    login(client, world.admin)

    response = client.post("/settings/password", data={
        "password-current_password": "wrong current password",
        "password-password": NEW, "password-confirm": NEW})
    assert response.status_code == 422
    assert 'id="password-current_password-error"' in response.get_data(as_text=True)
    assert is_signed_in(other)

    response = client.post("/settings/password", data={
        "password-current_password": PASSWORD, "password-password": NEW,
        "password-confirm": NEW})
    assert response.status_code == 302
    assert is_signed_in(client)
    assert not is_signed_in(other)
    assert verify_password(_user(email).password_hash, NEW)
    assert Action.PASSWORD_CHANGED in actions(agency_id)


def test_change_password_applies_the_rules(client, world):
    login(client, world.admin)
    response = client.post("/settings/password", data={
        "password-current_password": PASSWORD, "password-password": "tooshort",
        "password-confirm": "tooshort"})
    assert response.status_code == 422
    assert "at least 12" in response.get_data(as_text=True)


def test_api_token_is_shown_once_works_and_dies_when_revoked(app, client, world):
    agency_id = world.agency_id
    login(client, world.manager)
    response = client.post("/settings/tokens", data={"token-name": "Zapier"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    raw = re.search(r'id="new-token">(rls_[^<]+)<', response.get_data(as_text=True)).group(1)
    assert Action.TOKEN_CREATED in actions(agency_id)

    listing = client.get("/settings").get_data(as_text=True)
    assert "Zapier" in listing and raw[:12] in listing and raw not in listing

    principal = _api_principal(app, raw)
    assert principal is not None
    token_id = principal[2].id
    assert str(principal[1].id) == str(world.manager.id)

    response = client.post(f"/settings/tokens/{token_id}/revoke")
    assert response.status_code == 302
    assert _api_principal(app, raw) is None
    assert Action.TOKEN_REVOKED in actions(agency_id)
    # Revoking again changes nothing and is not an error.
    assert client.post(f"/settings/tokens/{token_id}/revoke").status_code == 302


def test_a_teammate_s_token_cannot_be_revoked_from_my_settings(app, client, world):
    # The owner's token (made by make_world) belongs to another membership of the agency.
    with tenant_scope(world.agency_id):
        owner_token_id = db.session.scalars(
            select(ApiToken.id).where(ApiToken.membership_id == world.owner.id)).one()
    raw = world.token
    login(client, world.admin)
    assert client.post(f"/settings/tokens/{owner_token_id}/revoke").status_code == 404
    assert _api_principal(app, raw) is not None
    assert "tests" not in re.sub(r"<[^>]+>", " ", client.get("/settings").get_data(as_text=True)
                                 ).split("API tokens")[1].split("Signed-in devices")[0]


def test_token_name_is_required(client, world):
    login(client, world.member)
    assert client.post("/settings/tokens", data={"token-name": " "}).status_code == 422


def test_another_device_can_be_signed_out_but_not_someone_else_s(app, client, world):
    email = email_of(world.member)
    phone = app.test_client()
    login(phone, world.member)
    login(client, world.member)
    user = _user(email)
    sessions = db.session.scalars(
        select(UserSession).where(UserSession.user_id == user.id)).all()
    assert len(sessions) == 2
    with client.session_transaction() as cookie_session:
        from agency.auth.sessions import token_hash

        mine = token_hash(cookie_session["sid"])
    phone_session = next(s for s in sessions if s.token_hash != mine)
    phone_session_id = phone_session.id

    # Someone else cannot end it.
    intruder = app.test_client()
    login(intruder, world.manager)
    assert intruder.post(f"/settings/sessions/{phone_session_id}/revoke").status_code == 404
    assert is_signed_in(phone)

    assert client.post(f"/settings/sessions/{phone_session_id}/revoke").status_code == 302
    assert not is_signed_in(phone)
    assert is_signed_in(client)


def test_owner_api_token_made_for_the_world_is_listed_for_the_owner(client, world):
    login(client, world.owner)
    with tenant_scope(world.agency_id):
        create_api_token(world.owner, "second")
        db.session.commit()
    page = client.get("/settings").get_data(as_text=True)
    assert "tests" in page and "second" in page

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from agency.audit.services import Action
from agency.auth.models import User
from agency.extensions import db
from tenants.context import tenant_scope
from tenants.models import Agency, Membership
from tenants.roles import Role
from tests.auth.helpers import actions, is_signed_in
from tests.factories import UserFactory

GOOD = "Un café au lait, merci"


def _signup(client, **overrides):
    data = {"agency_name": "Agence Nouvelle", "name": "Nora", "email": "nora@nouvelle.test",
            "password": GOOD, "confirm": GOOD}
    data.update(overrides)
    return client.post("/signup", data=data)


def _user(email):
    return db.session.scalars(select(User).where(User.email == email)).one_or_none()


def test_signup_creates_the_agency_and_its_owner_and_signs_in(client, db):
    assert client.get("/signup").status_code == 200
    response = _signup(client, email="Nora@Nouvelle.test")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/clients")
    user = _user("nora@nouvelle.test")
    assert user is not None and user.name == "Nora"
    with client.session_transaction() as cookie_session:
        agency_id = uuid.UUID(cookie_session["agency_id"])
    with tenant_scope(agency_id):
        agency = db.session.scalars(select(Agency)).one()
        membership = db.session.scalars(select(Membership)).one()
        assert agency.name == "Agence Nouvelle"
        assert membership.role == Role.OWNER and membership.user_id == user.id
    assert Action.SIGNUP in actions(agency.id)
    assert is_signed_in(client)


def test_signup_with_an_email_that_has_an_account_is_refused_on_the_field(client, db):
    UserFactory(email="taken@example.test")
    db.session.commit()  # the view rolls back its own work; this must survive it
    response = _signup(client, email="TAKEN@example.test")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="email-error"' in page and "already exists" in page
    assert db.session.scalar(select(func.count()).select_from(User)
                             .where(User.email == "taken@example.test")) == 1
    assert not is_signed_in(client)


@pytest.mark.parametrize(("password", "message"), [
    ("short pass", "at least 12"),
    ("x" * 60 + "yz!" * 23, "at most 128"),  # 129 characters
    ("password1234", "too common"),
])
def test_password_rules_are_enforced_with_a_message(client, db, password, message):
    response = _signup(client, password=password, confirm=password)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="password-error"' in page and message in page
    assert _user("nora@nouvelle.test") is None


def test_a_129_character_password_is_refused_and_128_accepted(client, db):
    too_long = ("abcdefgh" * 17)[:129]
    assert len(too_long) == 129
    assert _signup(client, password=too_long, confirm=too_long).status_code == 422
    longest = too_long[:128]
    assert _signup(client, password=longest, confirm=longest).status_code == 302


def test_twelve_good_characters_are_enough(client, db):
    password = "Kq7!vLp2#xWz"
    assert len(password) == 12
    assert _signup(client, password=password, confirm=password).status_code == 302
    client.post("/logout")
    response = client.post("/login", data={"email": "nora@nouvelle.test", "password": password})
    assert response.status_code == 302


def test_mismatched_confirmation_is_refused(client, db):
    response = _signup(client, confirm=GOOD + "!")
    assert response.status_code == 422
    assert 'id="confirm-error"' in response.get_data(as_text=True)
    assert _user("nora@nouvelle.test") is None


def test_invalid_email_is_refused(client, db):
    response = _signup(client, email="not-an-email")
    assert response.status_code == 422
    assert 'id="email-error"' in response.get_data(as_text=True)

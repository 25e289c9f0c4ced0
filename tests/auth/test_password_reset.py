from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from agency.audit.services import Action
from agency.auth.models import User
from agency.extensions import db
from tests.auth.helpers import actions, committed_world, email_of, is_signed_in, without_csrf
from tests.factories import PASSWORD, login

NEW = "Le vent se lève, il faut tenter de vivre"
LINK = re.compile(r"http://relais\.test/password/reset/(\S+)")


@pytest.fixture
def world(db):
    return committed_world()


def _request_link(client, mail, email) -> str:
    response = client.post("/password/forgot", data={"email": email})
    assert response.status_code == 200
    assert len(mail) == 1
    match = LINK.search(mail[0].text)
    assert match, mail[0].text
    return match.group(0)


def test_password_reset_end_to_end_and_the_link_works_once(app, client, world, mail):
    agency_id, email = world.agency_id, email_of(world.owner)
    other_device = app.test_client()
    login(other_device, world.owner)
    link = _request_link(client, mail, email)
    assert mail[0].to == email
    assert mail[0].subject  # translated, never empty
    path = link.removeprefix("http://relais.test")

    assert client.get(path).status_code == 200
    response = client.post(path, data={"password": NEW, "confirm": NEW})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert Action.PASSWORD_RESET in actions(agency_id)
    assert not is_signed_in(other_device)  # every session ended

    # The old password no longer works; the new one does.
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 200
    assert client.post("/login", data={"email": email, "password": NEW}).status_code == 302

    # Used once: the same link is now refused, for viewing and for posting.
    assert client.get(path).status_code == 400
    response = client.post(path, data={"password": NEW + "!", "confirm": NEW + "!"})
    assert response.status_code == 400
    assert "new link" in response.get_data(as_text=True)


def test_forgot_form_answers_the_same_whether_or_not_the_account_exists(client, world, mail):
    email = email_of(world.owner)
    known = client.post("/password/forgot", data={"email": email})
    unknown = client.post("/password/forgot", data={"email": "nobody@example.test"})
    assert known.status_code == unknown.status_code == 200
    assert without_csrf(known.get_data(as_text=True)) == without_csrf(
        unknown.get_data(as_text=True))
    assert "If an account exists" in known.get_data(as_text=True)
    assert [m.to for m in mail] == [email]


def test_forgot_form_is_rate_limited_per_ip(client, db, mail):
    for n in range(5):
        response = client.post("/password/forgot", data={"email": f"n{n}@example.test"})
        assert response.status_code == 200
    assert client.post("/password/forgot",
                       data={"email": "n9@example.test"}).status_code == 429


def test_expired_reset_link_answers_410_and_says_how_to_get_a_new_one(app, client, world, mail,
                                                                     monkeypatch):
    link = _request_link(client, mail, email_of(world.owner))
    monkeypatch.setitem(app.config, "PASSWORD_RESET_MAX_AGE", -1)
    response = client.get(link.removeprefix("http://relais.test"))
    assert response.status_code == 410
    page = response.get_data(as_text=True)
    assert "expired" in page and "/password/forgot" in page


def test_tampered_reset_link_answers_400(client, world, mail):
    path = _request_link(client, mail, email_of(world.owner)).removeprefix("http://relais.test")
    tampered = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    assert client.get(tampered).status_code == 400
    assert client.get("/password/reset/garbage").status_code == 400


def test_reset_refuses_a_weak_password_and_keeps_the_old_one(client, world, mail):
    email = email_of(world.owner)
    path = _request_link(client, mail, email).removeprefix("http://relais.test")
    response = client.post(path, data={"password": "password1234", "confirm": "password1234"})
    assert response.status_code == 422
    assert 'id="password-error"' in response.get_data(as_text=True)
    user = db.session.scalars(select(User).where(User.email == email)).one()
    from agency.auth.passwords import verify_password

    assert verify_password(user.password_hash, PASSWORD)
    assert client.get(path).status_code == 200  # the link still works after a refusal


def test_reset_mail_speaks_the_person_s_language(client, world, mail):
    email = email_of(world.owner)
    user = db.session.scalars(select(User).where(User.email == email)).one()
    user.locale = "en"
    db.session.flush()
    _request_link(client, mail, email)
    assert "Reset your Relais password" in mail[0].subject
    assert "only once" in mail[0].text

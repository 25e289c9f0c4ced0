from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from agency.audit.services import Action
from agency.auth import routes as auth_routes
from agency.auth.models import User, UserSession
from agency.auth.services import LoginResult
from agency.extensions import db
from tenants.context import tenant_scope
from tenants.models import Membership
from tenants.roles import Role
from tests.auth.helpers import actions, committed_world, email_of, is_signed_in
from tests.factories import PASSWORD, UserFactory, login, make_world

GENERIC = "E-mail or password is incorrect."


@pytest.fixture
def world(db):
    return committed_world()


def test_login_with_the_right_password_signs_in_and_is_audited(client, world):
    agency_id, email = world.agency_id, email_of(world.owner)
    response = client.post("/login", data={"email": email.upper(), "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/clients")
    assert is_signed_in(client)
    assert Action.LOGIN in actions(agency_id)


@pytest.mark.parametrize("which", ["wrong password", "unknown e-mail"])
def test_failed_login_gives_one_generic_message(client, world, which):
    agency_id, email = world.agency_id, email_of(world.owner)
    data = ({"email": email, "password": "not the password at all"} if which == "wrong password"
            else {"email": "nobody@nowhere.test", "password": PASSWORD})
    response = client.post("/login", data=data, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert GENERIC in page
    assert "unknown" not in page.lower() and "no account" not in page.lower()
    assert not is_signed_in(client)
    if which == "wrong password":
        assert Action.LOGIN_FAILED in actions(agency_id)


def test_empty_login_form_is_422(client, db):
    assert client.post("/login", data={"email": "", "password": ""}).status_code == 422


def test_next_is_followed_only_to_a_local_path(client, world):
    email = email_of(world.owner)
    response = client.post("/login", data={"email": email, "password": PASSWORD,
                                           "next": "/team"})
    assert response.headers["Location"].endswith("/team")
    client.post("/logout")
    response = client.post("/login", data={"email": email, "password": PASSWORD,
                                           "next": "https://evil.example/steal"})
    assert "evil" not in response.headers["Location"]
    assert response.headers["Location"].endswith("/clients")


def test_login_page_keeps_the_next_parameter(client, db):
    page = client.get("/login?next=/team").get_data(as_text=True)
    assert re.search(r'name="next"[^>]*value="/team"', page)


def test_sixth_login_attempt_from_one_ip_in_a_minute_is_refused(client, db):
    ip = {"REMOTE_ADDR": "10.1.1.1"}
    for n in range(5):
        response = client.post("/login", data={"email": f"x{n}@example.test", "password": "x"},
                               environ_base=ip)
        assert response.status_code == 200
    response = client.post("/login", data={"email": "x9@example.test", "password": "x"},
                           environ_base=ip)
    assert response.status_code == 429
    # Another address is not affected.
    other = client.post("/login", data={"email": "y@example.test", "password": "x"},
                        environ_base={"REMOTE_ADDR": "10.1.1.2"})
    assert other.status_code == 200


def test_sixth_attempt_on_one_email_from_many_ips_is_refused(client, world):
    email = email_of(world.owner)
    for n in range(5):
        response = client.post("/login", data={"email": email, "password": "wrong one"},
                               environ_base={"REMOTE_ADDR": f"10.2.0.{n}"})
        assert response.status_code == 200
    # Even with the right password and a fresh address, and whatever the case of the e-mail.
    response = client.post("/login", data={"email": email.upper(), "password": PASSWORD},
                           environ_base={"REMOTE_ADDR": "10.2.0.99"})
    assert response.status_code == 429


def _forget_minute_limits(redis_url, key_prefix):
    import redis

    r = redis.Redis.from_url(redis_url)
    for key in r.scan_iter(match=f"*{key_prefix}limits*", count=500):
        if b"/minute" in key:
            r.delete(key)


def test_an_account_gets_at_most_100_attempts_an_hour(client, db, monkeypatch, redis_url,
                                                     key_prefix):
    # Checking a password is deliberately slow; the limit, not argon2, is under test here.
    monkeypatch.setattr(auth_routes.services, "authenticate",
                        lambda email, password: LoginResult(None, []))
    data = {"email": "target@example.test", "password": "guess"}
    for n in range(100):
        if n % 5 == 0:  # what a patient attacker gets by waiting a minute each time
            _forget_minute_limits(redis_url, key_prefix)
        response = client.post("/login", data=data,
                               environ_base={"REMOTE_ADDR": f"10.3.{n // 250}.{n % 250}"})
        assert response.status_code == 200, n
    _forget_minute_limits(redis_url, key_prefix)
    response = client.post("/login", data=data, environ_base={"REMOTE_ADDR": "10.4.0.1"})
    assert response.status_code == 429
    # Another account is still open.
    response = client.post("/login", data={"email": "other@example.test", "password": "x"},
                           environ_base={"REMOTE_ADDR": "10.4.0.2"})
    assert response.status_code == 200


def test_logout_ends_the_server_side_session_so_a_copied_cookie_dies(app, client, world):
    agency_id = world.agency_id
    login(client, world.owner)
    cookie = client.get_cookie("relais_session", domain="relais.test").value
    thief = app.test_client()
    thief.set_cookie("relais_session", cookie, domain="relais.test")
    assert thief.get("/settings").status_code == 200  # the copy works while signed in

    response = client.post("/logout")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert Action.LOGOUT in actions(agency_id)

    replay = app.test_client()
    replay.set_cookie("relais_session", cookie, domain="relais.test")
    response = replay.get("/settings")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_logout_needs_post_and_a_signed_in_person(client, db):
    assert client.get("/logout").status_code == 405
    response = client.post("/logout")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_login_without_csrf_token_is_refused_when_csrf_is_on(app, client, world):
    email = email_of(world.owner)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = client.post("/login", data={"email": email, "password": PASSWORD})
        assert response.status_code == 400
        assert not is_signed_in(client)
        # The same form with the token from the page goes through.
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        response = client.post("/login", data={"email": email, "password": PASSWORD,
                                               "csrf_token": token})
        assert response.status_code == 302
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_person_in_several_agencies_chooses_one(app, client, db):
    alpha, beta, gamma = make_world("Alpha"), make_world("Beta"), make_world("Gamma")
    email = email_of(alpha.member)
    alpha_id, beta_id, gamma_id = alpha.agency.id, beta.agency.id, gamma.agency.id
    with tenant_scope(alpha_id):
        user_id = alpha.member.user_id
    with tenant_scope(beta_id):
        db.session.add(Membership(agency_id=beta_id, user_id=user_id, role=Role.MANAGER))
        db.session.flush()

    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login/agency")
    assert not is_signed_in(client)
    page = client.get("/login/agency").get_data(as_text=True)
    assert "Alpha" in page and "Beta" in page and "Gamma" not in page

    # An agency they do not belong to is refused like one that does not exist.
    assert client.post("/login/agency", data={"agency_id": str(gamma_id)}).status_code == 404
    assert client.post("/login/agency", data={"agency_id": "not-a-uuid"}).status_code == 404
    assert not is_signed_in(client)

    response = client.post("/login/agency", data={"agency_id": str(beta_id)})
    assert response.status_code == 302
    with client.session_transaction() as cookie_session:
        assert cookie_session["agency_id"] == str(beta_id)
        assert "pending_login" not in cookie_session
    assert is_signed_in(client)
    assert Action.LOGIN in actions(beta_id)
    assert Action.LOGIN not in actions(alpha_id)


def test_chooser_without_a_correct_password_sends_back_to_login(client, db):
    response = client.get("/login/agency")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.post("/login/agency", data={"agency_id": "x"}).status_code == 302


def test_account_without_agency_is_told_so(client, db):
    user = UserFactory()
    email = user.email
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 200
    assert "not part of any agency" in response.get_data(as_text=True)
    assert db.session.scalar(select(UserSession.id).where(UserSession.user_id == user.id)) is None


def test_deactivated_account_cannot_sign_in(client, world):
    email = email_of(world.member)
    with tenant_scope(world.agency_id):
        user = db.session.scalars(select(User).where(User.email == email)).one()
        user.is_active_flag = False
        db.session.flush()
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 200 and GENERIC in response.get_data(as_text=True)


def test_signing_in_again_ends_the_previous_session(client, world):
    login(client, world.admin)
    first = client.get_cookie("relais_session", domain="relais.test").value
    login(client, world.admin)
    with tenant_scope(world.agency_id):
        user_id = world.admin.user_id
    count = db.session.scalar(
        select(db.func.count()).select_from(UserSession).where(UserSession.user_id == user_id)
    )
    assert count == 1
    assert client.get_cookie("relais_session", domain="relais.test").value != first

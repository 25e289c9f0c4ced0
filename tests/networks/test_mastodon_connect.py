"""Connecting a Mastodon account, through the pages and against the fake instance: with
an access token, through the instance's sign-in (OAuth), reconnecting an expired
account, and every way a sign-in can come back unusable."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest
from markupsafe import escape
from sqlalchemy import select

from agency.audit.models import AuditEvent
from agency.auth.services import ServiceError
from agency.clients.models import Client
from agency.extensions import db
from agency.networks import connect_mastodon as service
from agency.networks.credentials import unseal
from agency.networks.models import AccountStatus, SocialAccount
from tenants.context import tenant_scope
from tenants.scoping import tenant_get
from tests.clients.helpers import reduce_world
from tests.factories import login, make_world
from tests.fakes.mastodon import FakeMastodon


@pytest.fixture
def world(db):
    return reduce_world(make_world())


@pytest.fixture
def fake(app, monkeypatch):
    monkeypatch.setitem(app.config, "NETWORK_TIMEOUT_SECONDS", 2)
    with FakeMastodon(max_characters=1000) as server:
        server.token = server.add_account("boulangerie", "Boulangerie Martin")
        yield server


def accounts(agency_id) -> list[SocialAccount]:
    with tenant_scope(agency_id):
        db.session.expire_all()
        rows = list(db.session.scalars(select(SocialAccount).where(
            SocialAccount.network == "mastodon").order_by(SocialAccount.created_at)))
        db.session.expunge_all()
        return rows


def audit(agency_id, action) -> list[AuditEvent]:
    with tenant_scope(agency_id):
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def text(response) -> str:
    return response.get_data(as_text=True)


def connect_token(http, world, fake, *, token=None, instance=None, visibility="public",
                  client_id=None):
    return http.post(f"/clients/{client_id or world.client_id}/accounts/mastodon/token", data={
        "token-instance_url": instance or fake.url, "token-access_token": token or fake.token,
        "token-visibility": visibility})


def start_sign_in(http, world, fake, *, visibility="unlisted", client_id=None):
    return http.post(f"/clients/{client_id or world.client_id}/accounts/mastodon/authorize",
                     data={"oauth-instance_url": fake.url, "oauth-visibility": visibility})


def approve_on_instance(response) -> str:
    """Follow the page's link to the fake instance, which approves at once and sends the
    browser back: the callback's path and query."""
    body = text(response)
    start = body.index('id="mastodon-authorize" href="') + len('id="mastodon-authorize" href="')
    link = body[start:body.index('"', start)].replace("&amp;", "&")
    answer = httpx.get(link, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["Location"])
    assert (back.scheme, back.netloc, back.path) == ("http", "relais.test",
                                                      "/networks/mastodon/callback")
    return f"{back.path}?{back.query}"


# --- the page -----------------------------------------------------------------------------

def test_the_client_page_links_to_the_connect_page(client, world):
    login(client, world.member)
    page = text(client.get(f"/clients/{world.client_id}"))
    assert f"/clients/{world.client_id}/accounts/mastodon" in page
    connect = client.get(f"/clients/{world.client_id}/accounts/mastodon")
    assert connect.status_code == 200
    assert "Sign in on the instance" in text(connect) and "access token" in text(connect)


def test_an_unassigned_client_is_not_found(client, world, fake):
    login(client, world.member)
    assert client.get(f"/clients/{world.other_client_id}/accounts/mastodon").status_code == 404
    assert connect_token(client, world, fake,
                         client_id=world.other_client_id).status_code == 404
    assert fake.requests == []


def test_an_archived_client_cannot_connect(client, world, fake):
    with tenant_scope(world.agency_id):
        from agency.clients.services import archive_client

        archive_client(tenant_get(Client, world.client_id))
        db.session.flush()
    login(client, world.manager)
    response = connect_token(client, world, fake)
    assert response.status_code == 303
    assert accounts(world.agency_id) == []


# --- with an access token -----------------------------------------------------------------

def test_connect_with_a_token(client, world, fake):
    login(client, world.member)
    response = connect_token(client, world, fake, visibility="unlisted")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/clients/{world.client_id}#accounts")
    [account] = accounts(world.agency_id)
    assert (account.display_name, account.handle, account.status) == (
        "Boulangerie Martin", "@boulangerie@fake.social", AccountStatus.CONNECTED)
    assert account.settings == {
        "instance_url": fake.url, "account_id": next(iter(fake.accounts)),
        "acct": "boulangerie", "username": "boulangerie", "domain": "fake.social",
        "max_characters": 1000, "visibility": "unlisted", "connected_via": "token"}
    assert fake.token not in account.credentials  # sealed
    with tenant_scope(world.agency_id):
        assert unseal(account.credentials) == {"access_token": fake.token}
    assert [e.target_id for e in audit(world.agency_id, "account.connected")] == [
        str(account.id)]
    assert "@boulangerie@fake.social" in text(client.get(f"/clients/{world.client_id}"))


def test_a_refused_token_saves_nothing(client, world, fake):
    login(client, world.member)
    fake.revoke_token(fake.token)
    response = connect_token(client, world, fake)
    assert response.status_code == 422
    assert escape("refused this access token (The access token is invalid)") in text(response)
    assert 'id="token-access_token-error"' in text(response)
    assert accounts(world.agency_id) == []
    assert audit(world.agency_id, "account.connected") == []


def test_a_token_without_read_scope_is_refused(client, world, fake):
    login(client, world.member)
    token = fake.issue_token("boulangerie", scopes=("write:statuses", "write:media"))
    response = connect_token(client, world, fake, token=token)
    assert response.status_code == 422
    assert "outside the authorized scopes" in text(response)
    assert accounts(world.agency_id) == []


def test_an_unreachable_instance_saves_nothing(client, world, fake):
    with FakeMastodon() as gone:
        url = gone.url
    login(client, world.member)
    response = connect_token(client, world, fake, instance=url)
    assert response.status_code == 422
    assert "Could not talk to a Mastodon instance" in text(response)
    assert 'id="token-instance_url-error"' in text(response)
    assert accounts(world.agency_id) == []


def test_empty_forms_are_refused_without_calling_anyone(client, world, fake):
    login(client, world.member)
    url = f"/clients/{world.client_id}/accounts/mastodon"
    assert client.post(url + "/token", data={}).status_code == 422
    assert client.post(url + "/authorize", data={}).status_code == 422
    assert fake.requests == []


def test_the_limit_falls_back_to_the_v1_instance_then_to_500(client, world, fake):
    login(client, world.member)
    fake.v2_instance, fake.max_characters = False, 640
    assert connect_token(client, world, fake).status_code == 303
    assert accounts(world.agency_id)[0].settings["max_characters"] == 640
    fake.max_characters = 0  # says nothing usable
    assert connect_token(client, world, fake).status_code == 303
    assert accounts(world.agency_id)[0].settings["max_characters"] == 500


def test_reconnecting_an_expired_account_updates_it_and_resumes(client, world, fake,
                                                               monkeypatch):
    from agency.publishing import services as publishing

    resumed = []
    monkeypatch.setattr(publishing, "account_reconnected", resumed.append)
    login(client, world.member)
    connect_token(client, world, fake)
    [first] = accounts(world.agency_id)
    with tenant_scope(world.agency_id):
        account = tenant_get(SocialAccount, first.id)
        account.status, account.status_reason = AccountStatus.EXPIRED, "Token revoked"
        db.session.flush()
    page = text(client.get(f"/clients/{world.client_id}"))
    assert "Reconnect" in page

    fake.revoke_token(fake.token)
    new_token = fake.issue_token("boulangerie")
    response = connect_token(client, world, fake, token=new_token, visibility="private")
    assert response.status_code == 303
    [account] = accounts(world.agency_id)
    assert account.id == first.id
    assert (account.status, account.status_reason) == (AccountStatus.CONNECTED, "")
    assert account.settings["visibility"] == "private"
    with tenant_scope(world.agency_id):
        assert unseal(account.credentials)["access_token"] == new_token
    assert [a.id for a in resumed] == [first.id]
    [event] = audit(world.agency_id, "account.reconnected")
    assert event.details["was"] == "expired"


def test_connecting_a_connected_account_again_does_not_resume_anything(client, world, fake,
                                                                      monkeypatch):
    from agency.publishing import services as publishing

    resumed = []
    monkeypatch.setattr(publishing, "account_reconnected", resumed.append)
    login(client, world.member)
    connect_token(client, world, fake)
    connect_token(client, world, fake)
    assert len(accounts(world.agency_id)) == 1
    assert resumed == []


def test_the_same_mastodon_account_may_serve_two_clients(client, world, fake):
    login(client, world.manager)
    connect_token(client, world, fake)
    connect_token(client, world, fake, client_id=world.other_client_id)
    assert {a.client_id for a in accounts(world.agency_id)} == {world.client_id,
                                                               world.other_client_id}


# --- through the instance's sign-in (OAuth) -----------------------------------------------

def test_sign_in_on_the_instance(client, world, fake):
    login(client, world.member)
    start = start_sign_in(client, world, fake)
    assert start.status_code == 200
    assert accounts(world.agency_id) == []  # nothing saved before the callback
    [app] = fake.apps.values()
    assert (app.name, app.redirect_uri) == ("Relais", "http://relais.test/networks/mastodon/"
                                                      "callback")
    assert app.scopes == {"read", "write:statuses", "write:media"}

    response = client.get(approve_on_instance(start))
    assert response.status_code == 303
    [account] = accounts(world.agency_id)
    assert (account.handle, account.settings["visibility"], account.settings["connected_via"]
            ) == ("@boulangerie@fake.social", "unlisted", "oauth")
    with tenant_scope(world.agency_id):
        credentials = unseal(account.credentials)
    assert (credentials["client_id"], credentials["client_secret"]) == (app.client_id,
                                                                        app.client_secret)
    assert credentials["access_token"] not in (fake.token, "")
    [event] = audit(world.agency_id, "account.connected")
    assert event.details["via"] == "oauth"


def test_the_app_is_registered_once_per_instance(client, world, fake):
    login(client, world.manager)
    client.get(approve_on_instance(start_sign_in(client, world, fake)))
    fake.add_account("garage", "Garage Dupont")
    fake.authorize_as = "garage"
    client.get(approve_on_instance(start_sign_in(client, world, fake,
                                                 client_id=world.other_client_id)))
    assert len(fake.apps) == 1
    assert sorted(a.handle for a in accounts(world.agency_id)) == [
        "@boulangerie@fake.social", "@garage@fake.social"]


def test_a_cancelled_sign_in_saves_nothing(client, world, fake):
    login(client, world.member)
    fake.deny_authorization = True
    response = client.get(approve_on_instance(start_sign_in(client, world, fake)))
    assert response.status_code == 303
    assert f"/clients/{world.client_id}/accounts/mastodon" in response.headers["Location"]
    assert accounts(world.agency_id) == []


def test_a_code_used_twice_is_refused(client, world, fake):
    login(client, world.member)
    back = approve_on_instance(start_sign_in(client, world, fake))
    assert client.get(back).status_code == 303
    again = client.get(back)
    assert again.status_code == 422
    assert "did not accept this sign-in" in text(again)
    assert len(accounts(world.agency_id)) == 1


def test_a_tampered_state_is_refused(client, world, fake):
    login(client, world.member)
    back = approve_on_instance(start_sign_in(client, world, fake))
    response = client.get(back.replace("state=", "state=x"))
    assert response.status_code == 400
    assert "not valid" in text(response)
    assert accounts(world.agency_id) == []


def test_an_expired_state_is_refused(client, world, fake, monkeypatch):
    login(client, world.member)
    back = approve_on_instance(start_sign_in(client, world, fake))
    monkeypatch.setattr(service, "STATE_MAX_AGE", -1)
    response = client.get(back)
    assert response.status_code == 400
    assert "took too long" in text(response)
    assert accounts(world.agency_id) == []


def test_a_state_started_by_someone_else_is_refused(app, client, world, fake):
    login(client, world.member)
    back = approve_on_instance(start_sign_in(client, world, fake))
    colleague = app.test_client()
    login(colleague, world.manager)
    response = colleague.get(back)
    assert response.status_code == 403
    assert accounts(world.agency_id) == []


def test_a_state_from_another_agency_is_refused(app, client, world, fake):
    login(client, world.member)
    back = approve_on_instance(start_sign_in(client, world, fake))
    stranger = app.test_client()
    login(stranger, reduce_world(make_world("Beta")).owner)
    assert stranger.get(back).status_code == 403
    assert accounts(world.agency_id) == []


def test_the_callback_needs_a_signed_in_person(app, client, world, fake):
    login(client, world.member)
    back = approve_on_instance(start_sign_in(client, world, fake))
    response = app.test_client().get(back)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_a_sign_in_to_an_unreachable_instance_is_refused(client, world):
    with FakeMastodon() as gone:
        url = gone.url
    login(client, world.member)
    response = client.post(f"/clients/{world.client_id}/accounts/mastodon/authorize",
                           data={"oauth-instance_url": url, "oauth-visibility": "public"})
    assert response.status_code == 422
    assert 'id="oauth-instance_url-error"' in text(response)


# --- instance addresses -------------------------------------------------------------------

@pytest.mark.parametrize(("typed", "normalised"), [
    ("mastodon.social", "https://mastodon.social"),
    ("https://Mastodon.Social/@alice", "https://mastodon.social"),
    ("@alice@piaille.fr", "https://piaille.fr"),
    ("alice@piaille.fr", "https://piaille.fr"),
    ("https://mastodon.example:8443/", "https://mastodon.example:8443"),
    ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
    ("http://localhost:3000", "http://localhost:3000"),
    ("https://café.example", "https://xn--caf-dma.example"),
])
def test_instance_addresses_are_normalised(app, typed, normalised):
    with app.test_request_context():
        assert service.normalise_instance_url(typed) == normalised


@pytest.mark.parametrize("typed", ["", "http://mastodon.social", "ftp://mastodon.social",
                                   "https://user:pw@mastodon.social", "https://"])
def test_bad_instance_addresses_are_refused(app, typed):
    with app.test_request_context(), pytest.raises(ServiceError) as refused:
        service.normalise_instance_url(typed)
    assert refused.value.field == "instance_url"


@pytest.mark.parametrize("typed", ["http://127.0.0.1:5000", "https://127.0.0.1",
                                   "https://10.0.0.5", "https://[::1]", "https://localhost",
                                   "https://169.254.169.254"])
def test_production_refuses_plain_http_and_inward_addresses(app, monkeypatch, typed):
    monkeypatch.setitem(app.config, "PRODUCTION", True)
    with app.test_request_context(), pytest.raises(ServiceError):
        service.normalise_instance_url(typed)


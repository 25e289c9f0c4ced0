"""Connecting a client's Bluesky account (handle + app password) and reconnecting an
expired one: the pages, the service, and what is stored — against the fake PDS."""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import select

from agency.audit.models import AuditEvent
from agency.clients.services import archive_client
from agency.extensions import db
from agency.networks import connect_bluesky
from agency.networks.credentials import unseal
from agency.networks.models import AccountStatus, SocialAccount
from agency.networks.services import add_account
from tenants.context import tenant_scope
from tests.factories import login, make_world
from tests.fakes.bluesky import APP_PASSWORD, MAIN_PASSWORD, serving

HANDLE = "boulangerie.bsky.social"


@pytest.fixture
def fake(app):
    with serving(app) as fake:
        fake.add_account(HANDLE, display_name="Boulangerie Martin")
        fake.add_account("moulin.bsky.social")  # no display name
        yield fake


@pytest.fixture
def world(db, client):
    world = make_world()
    login(client, world.member)  # members may edit their assigned client's accounts
    return world


def _url(world, suffix="") -> str:
    return f"/clients/{world.client.id}/accounts/bluesky{suffix}"


def _accounts(world) -> list[SocialAccount]:
    with tenant_scope(world.agency_id):
        return list(db.session.scalars(
            select(SocialAccount).where(SocialAccount.network == "bluesky")
            .execution_options(populate_existing=True)))


def _audit(world, action) -> list[AuditEvent]:
    with tenant_scope(world.agency_id):
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _connect(client, world, handle="@Boulangerie.BSKY.social ", password=APP_PASSWORD):
    return client.post(_url(world), data={"handle": handle, "app_password": password})


def test_the_client_page_links_to_the_form(client, world, fake):
    page = client.get(f"/clients/{world.client.id}").get_data(as_text=True)
    assert _url(world) in page
    form = client.get(_url(world))
    assert form.status_code == 200
    html = form.get_data(as_text=True)
    assert "App passwords" in html and 'type="password"' in html


def test_connecting_stores_the_session_sealed_and_the_did_as_settings(client, world, fake):
    response = _connect(client, world)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/clients/{world.client.id}#accounts")
    [account] = _accounts(world)
    did = next(iter(fake.accounts))
    assert (account.client_id, account.status) == (world.client.id, AccountStatus.CONNECTED)
    assert account.display_name == "Boulangerie Martin"  # from the profile
    assert account.handle == f"@{HANDLE}"  # normalised: no @, lower case
    assert account.settings == {"did": did, "handle": HANDLE}
    assert APP_PASSWORD not in account.credentials and "accessJwt" not in account.credentials
    secrets = unseal(account.credentials)
    assert secrets["did"] == did and secrets["handle"] == HANDLE
    assert secrets["app_password"] == APP_PASSWORD
    assert secrets["accessJwt"] and secrets["refreshJwt"] and secrets["session_created_at"]
    assert fake.created_sessions(HANDLE) == 1
    [event] = _audit(world, "account.connected")
    assert event.target_id == str(account.id) and event.details["network"] == "bluesky"
    assert "connected" in client.get(f"/clients/{world.client.id}").get_data(as_text=True)


def test_without_a_display_name_the_handle_names_the_account(client, world, fake):
    assert _connect(client, world, handle="moulin.bsky.social").status_code == 303
    [account] = _accounts(world)
    assert account.display_name == "moulin.bsky.social"


@pytest.mark.parametrize("password", [MAIN_PASSWORD, "hunter2", "abcd-efgh-ijkl"])
def test_a_main_password_is_refused_before_asking_bluesky(client, world, fake, password):
    response = _connect(client, world, password=password)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Never give Relais the account" in html and "App passwords" in html
    assert 'id="app_password-error"' in html
    assert password not in html  # a password is never shown back
    assert fake.calls == [] and _accounts(world) == []


def test_a_wrong_app_password_is_refused_and_nothing_is_saved(client, world, fake):
    response = _connect(client, world, password="zzzz-zzzz-zzzz-zzzz")
    assert response.status_code == 422
    assert "did not accept this handle and app password" in response.get_data(as_text=True)
    assert _accounts(world) == [] and _audit(world, "account.connected") == []


@pytest.mark.parametrize("handle", ["", "boulangerie", "pas un handle.fr", "@@x..y"])
def test_a_handle_that_is_not_one_is_refused(client, world, fake, handle):
    response = _connect(client, world, handle=handle)
    assert response.status_code == 422
    assert 'id="handle-error"' in response.get_data(as_text=True)
    assert fake.calls == []


def test_bluesky_out_of_reach_is_said_plainly(client, world, app, monkeypatch):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setitem(app.config, "BLUESKY_PDS_URL", f"http://127.0.0.1:{port}")
    response = _connect(client, world)
    assert response.status_code == 422
    assert "Bluesky could not be reached" in response.get_data(as_text=True)
    assert _accounts(world) == []


def test_too_many_sign_ins_say_when_to_try_again(client, world, fake):
    fake.fail_next(429, nsid="com.atproto.server.createSession")
    response = _connect(client, world)
    assert response.status_code == 422
    assert "limiting sign-ins" in response.get_data(as_text=True)


def test_the_same_account_cannot_be_connected_twice(client, world, fake):
    assert _connect(client, world).status_code == 303
    response = _connect(client, world)
    assert response.status_code == 422
    assert "already connected" in response.get_data(as_text=True)
    assert len(_accounts(world)) == 1


def _expire(world, reason="Bluesky refused the app password: it was probably revoked."):
    [account] = _accounts(world)
    with tenant_scope(world.agency_id):
        account.status, account.status_reason = AccountStatus.EXPIRED, reason
        db.session.commit()  # a view's rollback must not undo it
    return account.id


def test_reconnecting_an_expired_account_updates_it_and_resumes_its_posts(
        client, world, fake, monkeypatch):
    import agency.publishing.services as publishing

    resumed = []
    real = publishing.account_reconnected
    monkeypatch.setattr(publishing, "account_reconnected",
                        lambda account: resumed.append(account.id) or real(account))
    assert _connect(client, world).status_code == 303
    account_id = _expire(world)
    before = unseal(_accounts(world)[0].credentials)
    url = _url(world).replace("/bluesky", f"/{account_id}/bluesky")
    page = client.get(url).get_data(as_text=True)
    assert "probably revoked" in page and f'value="{HANDLE}"' in page
    response = client.post(url, data={"handle": HANDLE, "app_password": "wxyz-2345-abcd-efgh"})
    assert response.status_code == 422  # that app password does not exist yet
    fake.accounts[before["did"]].app_passwords.add("wxyz-2345-abcd-efgh")
    response = client.post(url, data={"handle": HANDLE, "app_password": "wxyz-2345-abcd-efgh"})
    assert response.status_code == 303
    [account] = _accounts(world)
    assert account.id == account_id
    assert (account.status, account.status_reason) == (AccountStatus.CONNECTED, "")
    after = unseal(account.credentials)
    assert after["app_password"] == "wxyz-2345-abcd-efgh"
    assert after["accessJwt"] != before["accessJwt"]
    assert resumed == [account_id]
    assert len(_audit(world, "account.reconnected")) == 1


def test_connecting_an_expired_account_again_reconnects_the_same_row(client, world, fake):
    assert _connect(client, world).status_code == 303
    account_id = _expire(world)
    assert _connect(client, world).status_code == 303
    [account] = _accounts(world)
    assert (account.id, account.status) == (account_id, AccountStatus.CONNECTED)


def test_reconnecting_with_another_bluesky_account_is_refused(client, world, fake):
    assert _connect(client, world).status_code == 303
    account_id = _expire(world)
    url = _url(world).replace("/bluesky", f"/{account_id}/bluesky")
    response = client.post(url, data={"handle": "moulin.bsky.social",
                                      "app_password": APP_PASSWORD})
    assert response.status_code == 422
    assert "same Bluesky account" in response.get_data(as_text=True)
    [account] = _accounts(world)
    assert account.status == AccountStatus.EXPIRED and account.settings["handle"] == HANDLE


def test_reconnect_answers_404_for_an_account_that_is_not_this_clients_bluesky(
        app, client, world, fake):
    with app.test_request_context(), tenant_scope(world.agency_id):
        sandbox = add_account(world.client, "sandbox", "Bac à sable")
        elsewhere = add_account(world.other_client, "sandbox", "Ailleurs")
    for account_id in (sandbox.id, elsewhere.id):
        url = _url(world).replace("/bluesky", f"/{account_id}/bluesky")
        assert client.get(url).status_code == 404
        assert client.post(url, data={"handle": HANDLE,
                                      "app_password": APP_PASSWORD}).status_code == 404
    # A client the member is not assigned to: 404 before anything.
    other = f"/clients/{world.other_client.id}/accounts/bluesky"
    assert client.post(other, data={"handle": HANDLE, "app_password": APP_PASSWORD}
                       ).status_code == 404
    assert fake.calls == []


def test_an_archived_client_takes_no_new_account(app, client, world, fake):
    with app.test_request_context(), tenant_scope(world.agency_id):
        archive_client(world.client)
    response = _connect(client, world)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/clients/{world.client.id}")
    assert _accounts(world) == [] and fake.calls == []


@pytest.mark.parametrize("raw, handle", [
    ("@Alice.BSKY.social", "alice.bsky.social"), ("  bob.example.fr ", "bob.example.fr"),
    ("at://carol.bsky.social", "carol.bsky.social"),
])
def test_handles_are_normalised(raw, handle):
    assert connect_bluesky.normalise_handle(raw) == handle

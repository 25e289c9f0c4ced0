"""X tokens against the fake: the refresh call and its rotation, token_health renewing an
X account under its per-account lock, and the adapter renewing an access token that
expired by publish time — under the same lock, left held until the engine has stored
the new credentials, so a rotated refresh token is never lost."""

from __future__ import annotations

import base64
import time
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from agency.networks import token_health
from agency.networks.base import AuthExpiredError, Published, RetryableError
from agency.networks.credentials import unseal
from agency.networks.models import AccountStatus, SocialAccount
from agency.networks.token_health import Outcome, check_account
from agency.networks.x import XNetwork
from agency.networks.x_api import AppCredentialsRefused
from agency.networks.x_tokens import fingerprint
from agency.publishing.models import Publication, PublicationState
from agency.redis_conn import get_redis
from tenants.context import tenant_scope
from tests.factories import make_world
from tests.fakes.x import CLIENT_ID, CLIENT_SECRET, fake_x  # noqa: F401 (fixture)
from tests.networks.test_x_support import (  # noqa: F401 (fixture)
    Saved,
    outgoing,
    posts,
    x_account,
    x_fake,
)


@pytest.fixture
def fake(x_fake):  # noqa: F811 (the fake with an account, from test_x_support)
    return x_fake


def token_calls(fake) -> list[dict]:
    return [r for r in fake.requests if r["path"] == "/2/oauth2/token"]


@pytest.fixture
def locks(app):
    """Lock names to clear after the test (an inline renewal leaves its lock to expire)."""
    names: list[str] = []
    yield names
    with app.app_context():
        for name in names:
            get_redis().delete(name)


def expired(credentials: dict) -> dict:
    return {**credentials, "expires_at": int(time.time()) - 10}


# --- the refresh call ---------------------------------------------------------------------

def test_refresh_renews_and_rotates(fake):
    old = fake.credentials
    renewed = XNetwork().refresh(old)
    assert renewed["access_token"] != old["access_token"]
    assert renewed["refresh_token"] != old["refresh_token"]
    assert renewed["refreshable"] is True
    assert abs(renewed["expires_at"] - (time.time() + 7200)) < 60  # two hours
    # Documented form: POST /2/oauth2/token, form-encoded, HTTP Basic id:secret.
    [call] = token_calls(fake)
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert call["headers"]["authorization"] == f"Basic {basic}"
    assert call["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert call["form"] == {"grant_type": "refresh_token",
                            "refresh_token": old["refresh_token"], "client_id": CLIENT_ID}
    # Rotated: the old refresh token no longer works.
    with pytest.raises(AuthExpiredError) as caught:
        XNetwork().refresh(old)
    assert "Value passed for the token was invalid." in caught.value.reason
    assert old["refresh_token"] not in caught.value.reason + caught.value.detail


def test_refresh_without_a_refresh_token_means_reconnect(fake):
    with pytest.raises(AuthExpiredError):
        XNetwork().refresh({"access_token": "a", "expires_at": 1, "refreshable": False})
    assert token_calls(fake) == []


def test_wrong_app_credentials_never_expire_the_account(fake, app):
    app.config["X_CLIENT_SECRET"] = "wrong"
    with pytest.raises(AppCredentialsRefused) as caught:
        XNetwork().refresh(fake.credentials)
    assert isinstance(caught.value, RetryableError)
    assert "X_CLIENT_ID and X_CLIENT_SECRET" in caught.value.reason


def test_a_server_error_on_refresh_is_retryable(fake):
    fake.fail_next(503, path="/2/oauth2/token")
    with pytest.raises(RetryableError):
        XNetwork().refresh(fake.credentials)


# --- token_health -------------------------------------------------------------------------

@pytest.fixture
def world(db):
    return make_world()


def stored(db, world, account_id) -> SocialAccount:
    with tenant_scope(world.agency_id):
        db.session.expire_all()
        return db.session.scalars(select(SocialAccount).where(
            SocialAccount.id == account_id)).one()


def check(app, world, account_id) -> str:
    with app.test_request_context():
        return check_account(world.agency_id, account_id, datetime.now(UTC))


def test_token_health_renews_an_x_account_and_stores_the_rotated_token(app, db, world, fake):
    old = fake.credentials
    account_id = x_account(app, db, world, fake)
    assert check(app, world, account_id) == Outcome.REFRESHED  # two hours < the lead time
    new = unseal(stored(db, world, account_id).credentials)
    assert new["refresh_token"] != old["refresh_token"] and new["refreshable"] is True
    assert old["refresh_token"] in fake.rotated
    # What was stored works: the next renewal uses it (the old one is dead).
    assert check(app, world, account_id) == Outcome.REFRESHED
    assert new["refresh_token"] in fake.rotated


def test_token_health_expires_an_account_x_refuses_and_holds_its_posts(app, db, world, fake,
                                                                       mail):
    account_id = x_account(app, db, world, fake, posts=2)
    fake.revoke_token(fake.credentials["refresh_token"])
    assert check(app, world, account_id) == Outcome.EXPIRED
    account = stored(db, world, account_id)
    assert account.status == AccountStatus.EXPIRED
    assert "Reconnect the X account" in account.status_reason
    with tenant_scope(world.agency_id):
        states = set(db.session.scalars(select(Publication.state).where(
            Publication.social_account_id == account_id)))
    assert states == {PublicationState.HELD}
    # The client's staff are told, each in their language.
    assert mail and all("Boulangerie Martin" in m.subject for m in mail)


def test_token_health_skips_an_account_another_worker_is_renewing(app, db, world, fake):
    account_id = x_account(app, db, world, fake)
    with app.app_context():
        other = get_redis().lock(token_health.lock_name(account_id), timeout=30)
        assert other.acquire(blocking=False)
    try:
        assert check(app, world, account_id) == Outcome.LOCKED
        assert token_calls(fake) == []
    finally:
        other.release()


# --- renewing while publishing ------------------------------------------------------------

def test_an_access_token_expired_at_publish_time_is_renewed_once_inline(fake, locks):
    account_id = uuid.uuid4()
    locks.append(token_health.lock_name(account_id))
    adapter = XNetwork()
    sent = outgoing(fake, credentials=expired(fake.credentials), account_id=account_id)
    published = adapter.publish(sent)
    [call] = token_calls(fake)
    assert call["form"]["grant_type"] == "refresh_token"
    renewed = adapter.credentials_after_use()
    assert renewed is not None and renewed["refresh_token"] != fake.credentials["refresh_token"]
    [post] = posts(fake)
    assert post["headers"]["authorization"] == f"Bearer {renewed['access_token']}"
    assert published.external_id == fake.tweets[0]["id"]
    # The lock stays held past the lease: token_health cannot renew the stale stored
    # token (which X would refuse) before the engine has stored the new one.
    ttl = get_redis().ttl(token_health.lock_name(account_id))
    assert ttl > 120


def test_a_token_refused_mid_publish_is_renewed_and_the_call_repeated(fake, locks):
    account_id = uuid.uuid4()
    locks.append(token_health.lock_name(account_id))
    fake.expire_access(fake.credentials["access_token"])  # X says 401; we thought it valid
    adapter = XNetwork()
    adapter.publish(outgoing(fake, account_id=account_id))
    assert [p["headers"]["authorization"] for p in posts(fake)] == [
        f"Bearer {fake.credentials['access_token']}",
        f"Bearer {adapter.credentials_after_use()['access_token']}"]
    assert len(fake.tweets) == 1 and len(token_calls(fake)) == 1


def test_no_renewal_while_another_worker_holds_the_lock(fake, app):
    account_id = uuid.uuid4()
    other = get_redis().lock(token_health.lock_name(account_id), timeout=30)
    assert other.acquire(blocking=False)
    try:
        with pytest.raises(RetryableError) as caught:
            XNetwork().publish(outgoing(fake, credentials=expired(fake.credentials),
                                        account_id=account_id))
    finally:
        other.release()
    assert "being renewed" in caught.value.reason
    assert token_calls(fake) == [] and fake.tweets == []


def test_a_refused_inline_renewal_retries_once_then_means_reconnect(fake, app):
    account_id = uuid.uuid4()
    credentials = expired(fake.credentials)
    fake.revoke_token(credentials["refresh_token"])
    saved = Saved()
    # First refusal: maybe another worker renewed it since this attempt read it.
    with pytest.raises(RetryableError) as caught:
        XNetwork().publish(outgoing(fake, credentials=credentials, account_id=account_id,
                                    saved=saved))
    assert caught.value.retry_after == 60
    assert saved.last["refused_refresh"] == fingerprint(credentials["refresh_token"])
    assert credentials["refresh_token"] not in str(saved.last)  # only a one-way mark
    # The lock was released: nothing new to protect.
    assert not get_redis().exists(token_health.lock_name(account_id))
    # The next attempt reads the same refused token: nobody renewed it.
    with pytest.raises(AuthExpiredError):
        XNetwork().publish(outgoing(fake, credentials=credentials, account_id=account_id,
                                    progress=saved.last))
    assert fake.tweets == []


def test_a_token_renewed_meanwhile_by_token_health_just_works(fake, locks):
    account_id = uuid.uuid4()
    locks.append(token_health.lock_name(account_id))
    stale = expired(fake.credentials)
    current = XNetwork().refresh(fake.credentials)  # token_health renewed it meanwhile
    saved = Saved()
    with pytest.raises(RetryableError):  # this attempt read the stale one
        XNetwork().publish(outgoing(fake, credentials=stale, account_id=account_id,
                                    saved=saved))
    published = XNetwork().publish(outgoing(fake, credentials=current, account_id=account_id,
                                            progress=saved.last))
    assert isinstance(published, Published) and len(fake.tweets) == 1

"""LinkedIn tokens: the credentials stored from a token answer, the refresh against the fake
token endpoint (programmatic refresh tokens: a new 60-day access token, the refresh
token's 365 days not extended), and refresh through token health under the per-account
lock."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select

from agency.networks import token_health
from agency.networks.base import AuthExpiredError, PermanentError, RetryableError
from agency.networks.credentials import seal, unseal
from agency.networks.linkedin import LinkedInNetwork
from agency.networks.linkedin_tokens import credentials
from agency.networks.models import AccountStatus, SocialAccount
from agency.networks.services import add_account
from agency.redis_conn import get_redis
from tenants.context import tenant_scope
from tests.factories import make_world
from tests.fakes.linkedin import (  # noqa: F401 (fixture)
    ACCESS_TTL,
    REFRESH_TTL,
    FakeLinkedIn,
    fake_linkedin,
)
from tests.fakes.linkedin_oauth import DAY


@pytest.fixture
def fake(app, fake_linkedin):  # noqa: F811
    fake_linkedin.member = fake_linkedin.add_member("Léa Martin")
    fake_linkedin.page = fake_linkedin.add_organization(
        "Boulangerie Martin", "boulangerie-martin", {fake_linkedin.member: "ADMINISTRATOR"})
    with app.app_context():
        yield fake_linkedin


def signed_in(fake: FakeLinkedIn) -> dict:
    """The credentials a connect stores, from a fresh grant of the fake."""
    return credentials(fake.grant(fake.member))


def token_calls(fake: FakeLinkedIn) -> list[dict]:
    return [r for r in fake.requests if r["path"] == "/oauth/v2/accessToken"]


# --- the stored credentials ---------------------------------------------------------------

def test_a_grant_with_a_refresh_token_is_refreshable(app):
    with app.app_context():
        now = 1_900_000_000
        stored = credentials({"access_token": "AQV1", "expires_in": 5_184_000,
                              "refresh_token": "AQX1", "refresh_token_expires_in": 31_536_000},
                             now=now)
    assert stored == {"access_token": "AQV1", "expires_at": now + 5_184_000,
                      "refresh_token": "AQX1", "refresh_token_expires_at": now + 31_536_000,
                      "refreshable": True}


def test_a_grant_without_a_refresh_token_expires_in_60_days(app):
    with app.app_context():
        stored = credentials({"access_token": "AQV1", "expires_in": 5_184_000}, now=1000)
    assert stored["expires_at"] == 1000 + 5_184_000 and stored["refreshable"] is False
    assert stored["refresh_token"] == "" and stored["refresh_token_expires_at"] is None


def test_the_last_access_token_of_the_year_is_announced_not_refreshed(app):
    # Day 300 of the refresh token: the new access token runs to day 360, the refresh token
    # to day 365. Fewer than TOKEN_EXPIRY_WARNING_DAYS (14) between them: a person must
    # sign in again, so the agency is warned rather than the token refreshed once more.
    with app.app_context():
        stored = credentials({"access_token": "AQV2", "expires_in": 5_184_000,
                              "refresh_token": "AQX1", "refresh_token_expires_in": 65 * DAY},
                             now=0)
    assert stored["expires_at"] == 60 * DAY and stored["refreshable"] is False
    with app.app_context():  # and the access token never outlives the refresh token
        capped = credentials({"access_token": "AQV3", "expires_in": 5_184_000,
                              "refresh_token_expires_in": 5 * DAY}, now=0,
                             previous={"refresh_token": "AQX1"})
    assert capped["expires_at"] == 5 * DAY and capped["refresh_token"] == "AQX1"


# --- the refresh --------------------------------------------------------------------------

def test_refresh_returns_complete_new_credentials(fake):
    before = signed_in(fake)
    started = time.time()

    renewed = LinkedInNetwork().refresh(before)

    [call] = token_calls(fake)
    assert call["method"] == "POST"
    assert call["headers"]["content-type"] == "application/x-www-form-urlencoded"
    # The client secret goes in the body (authorization-code-flow, "Refresh tokens").
    assert call["form"] == {"grant_type": "refresh_token",
                            "refresh_token": before["refresh_token"],
                            "client_id": fake.client_id, "client_secret": fake.client_secret}
    assert renewed["access_token"] != before["access_token"]
    assert renewed["access_token"] in fake.tokens
    assert renewed["expires_at"] >= int(started + ACCESS_TTL) - 1
    assert renewed["refresh_token"] == before["refresh_token"]
    # The refresh token keeps the lifetime of the first sign-in.
    assert abs(renewed["refresh_token_expires_at"] - before["refresh_token_expires_at"]) <= 2
    assert renewed["refreshable"] is True
    # The new token works.
    answer = httpx.get(f"{fake.url}/v2/userinfo",
                       headers={"Authorization": f"Bearer {renewed['access_token']}"})
    assert answer.status_code == 200 and answer.json()["sub"] == fake.member.sub


def test_without_a_refresh_token_there_is_nothing_to_refresh(fake):
    fake.refresh_tokens = False
    stored = signed_in(fake)
    assert stored["refreshable"] is False
    assert LinkedInNetwork().refresh(stored) is None
    assert token_calls(fake) == []


def test_an_expired_or_revoked_refresh_token_means_reconnect(fake):
    stored = signed_in(fake)
    fake.revoke_token(stored["refresh_token"])
    with pytest.raises(AuthExpiredError) as caught:
        LinkedInNetwork().refresh(stored)
    assert "invalid, expired or revoked" in caught.value.reason
    assert "Reconnect" in caught.value.reason


def test_invalid_grant_means_reconnect(fake):
    fake.fail_next(400, code="invalid_grant", message="The refresh token is not valid",
                   path="/oauth/v2/accessToken")
    with pytest.raises(AuthExpiredError):
        LinkedInNetwork().refresh(signed_in(fake))


def test_refused_app_credentials_are_the_settings_fault_not_the_account(fake, app):
    stored = signed_in(fake)
    app.config["LINKEDIN_CLIENT_SECRET"] = "wrong"  # restored by the fixture's monkeypatch
    with pytest.raises(PermanentError) as caught:
        LinkedInNetwork().refresh(stored)
    assert "LINKEDIN_CLIENT_SECRET" in caught.value.reason


@pytest.mark.parametrize("status", [429, 500, 503])
def test_a_token_endpoint_that_cannot_answer_now_is_retryable(fake, status):
    fake.fail_next(status, code="temporarily_unavailable", message="Try later",
                   path="/oauth/v2/accessToken")
    with pytest.raises(RetryableError):
        LinkedInNetwork().refresh(signed_in(fake))


# --- through token health -----------------------------------------------------------------

@pytest.fixture
def world(db):
    return make_world()


def linkedin_account(app, db, world, fake: FakeLinkedIn, stored: dict) -> uuid.UUID:
    """A LinkedIn Page account of the world's client, as connect_oauth.add_choices saves it."""
    with app.test_request_context(), tenant_scope(world.agency_id):
        account = add_account(world.client, "sandbox", "Boulangerie Martin")
        account.network = "linkedin"
        account.settings = {"author_urn": fake.page.urn, "kind": "organization",
                            "vanity_name": "boulangerie-martin", "external_id": fake.page.urn,
                            "connected_via": "oauth"}
        account.credentials = seal(stored)
        db.session.commit()
        return account.id


def load(db, world, account_id) -> SocialAccount:
    with tenant_scope(world.agency_id):
        db.session.expire_all()
        return db.session.scalars(select(SocialAccount).where(
            SocialAccount.id == account_id)).one()


def check(app, world, account_id) -> str:
    with app.test_request_context():
        return token_health.check_account(world.agency_id, account_id, datetime.now(UTC))


def expiring(stored: dict, days: float) -> dict:
    return {**stored, "expires_at": int(time.time() + days * DAY)}


def test_token_health_refreshes_a_token_expiring_soon(app, db, world, fake, mail):
    before = expiring(signed_in(fake), 2)
    account_id = linkedin_account(app, db, world, fake, before)

    assert check(app, world, account_id) == token_health.Outcome.REFRESHED

    assert len(token_calls(fake)) == 1
    account = load(db, world, account_id)
    assert before["access_token"] not in account.credentials  # sealed
    with tenant_scope(world.agency_id):
        after = unseal(account.credentials)
    assert after["access_token"] != before["access_token"]
    assert after["expires_at"] > time.time() + 50 * DAY
    assert after["refresh_token"] == before["refresh_token"]
    assert account.status == AccountStatus.CONNECTED and mail == []
    # Renewed: nothing to do at the next check.
    assert check(app, world, account_id) == token_health.Outcome.NOT_DUE
    assert len(token_calls(fake)) == 1


def test_a_refresh_in_another_workers_hands_is_not_repeated(app, db, world, fake):
    before = expiring(signed_in(fake), 1)
    account_id = linkedin_account(app, db, world, fake, before)
    with app.app_context():
        other_worker = get_redis().lock(token_health.lock_name(account_id), timeout=30)
        assert other_worker.acquire(blocking=False)
    try:
        assert check(app, world, account_id) == token_health.Outcome.LOCKED
        assert token_calls(fake) == []  # LinkedIn was not asked twice
    finally:
        other_worker.release()
    assert check(app, world, account_id) == token_health.Outcome.REFRESHED
    assert len(token_calls(fake)) == 1


def test_a_refused_refresh_expires_the_account(app, db, world, fake, mail):
    before = expiring(signed_in(fake), 1)
    fake.revoke_token(before["refresh_token"])
    account_id = linkedin_account(app, db, world, fake, before)

    assert check(app, world, account_id) == token_health.Outcome.EXPIRED

    account = load(db, world, account_id)
    assert account.status == AccountStatus.EXPIRED
    assert "invalid, expired or revoked" in account.status_reason
    assert any(m.subject.startswith("Reconnect Boulangerie Martin") for m in mail)


def test_a_token_without_refresh_is_announced_before_it_expires(app, db, world, fake, mail):
    fake.refresh_tokens = False
    account_id = linkedin_account(app, db, world, fake, expiring(signed_in(fake), 10))
    assert check(app, world, account_id) == token_health.Outcome.WARNED
    assert token_calls(fake) == []
    assert any("before its access expires" in m.subject for m in mail)


def test_grants_last_as_documented(fake):
    answer = fake.grant(fake.member)
    assert answer["expires_in"] == ACCESS_TTL and answer["refresh_token_expires_in"] == REFRESH_TTL

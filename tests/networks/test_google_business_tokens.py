"""Google access tokens last an hour: token health (agency/networks/token_health.py)
renews them through the adapter's ``refresh`` under the account's Redis lock, against the
fake Google's token endpoint (``grant_type=refresh_token``); a refused refresh expires
the account and holds its work."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from agency.audit.models import AuditEvent
from agency.content.services import create_post, submit_post
from agency.networks import token_health
from agency.networks.base import Outgoing
from agency.networks.connect_oauth import add_choices
from agency.networks.credentials import unseal
from agency.networks.google_api import credentials_from
from agency.networks.google_business import GoogleBusinessNetwork
from agency.networks.models import AccountStatus, SocialAccount
from agency.networks.oauth import Choice
from agency.networks.token_health import Outcome, check_account
from agency.publishing.models import Publication, PublicationState
from agency.redis_conn import get_redis
from tenants.context import tenant_scope
from tests.factories import make_world
from tests.fakes.google_business import (
    CLIENT_ID,
    FakeGoogle,
    fake_google,  # noqa: F401 (fixture)
)


@pytest.fixture
def fake(fake_google):  # noqa: F811
    fake_google.location = fake_google.add_location("Boulangerie Martin", locality="Lyon")
    fake_google.account = fake_google.add_account("Martin", fake_google.location)
    fake_google.user = fake_google.add_user(fake_google.account)
    return fake_google


@pytest.fixture
def world(db):
    return make_world()


def make_account(app, db, world, fake: FakeGoogle, *, posts: int = 0):
    """A connected location whose access token expires within the hour, with ``posts``
    approved posts waiting on it."""
    credentials = credentials_from(fake.tokens_for(fake.user))
    with app.test_request_context(), tenant_scope(world.agency_id):
        world.client.approval_policy = "none"
        [account] = add_choices(world.client, "google_business", [Choice(
            external_id=fake.location.name, display_name="Boulangerie Martin (Lyon)",
            credentials=credentials,
            settings={"account": fake.account.name, "location": fake.location.name})])
        for n in range(posts):
            when = datetime.now(UTC) + timedelta(days=10 + n)
            post = create_post(world.client, {"text": f"Galettes {n}",
                                              "target_ids": [account.id],
                                              "scheduled_at": when}, world.owner.user_id)
            submit_post(post, world.client)
        db.session.commit()
        return account.id, credentials


def stored(db, world, account_id) -> tuple[SocialAccount, dict]:
    with tenant_scope(world.agency_id):
        db.session.expire_all()
        account = db.session.scalars(select(SocialAccount).where(
            SocialAccount.id == account_id)).one()
        return account, unseal(account.credentials)


def check(app, world, account_id) -> str:
    with app.test_request_context():
        return check_account(world.agency_id, account_id, datetime.now(UTC))


def refreshes(fake: FakeGoogle) -> list[dict]:
    return [r for r in fake.requests if r["path"] == "/token"]


def test_an_hour_long_token_is_renewed_and_stored_sealed(app, db, world, fake):
    account_id, old = make_account(app, db, world, fake)

    assert check(app, world, account_id) == Outcome.REFRESHED

    [call] = refreshes(fake)
    assert call["form"] == {"grant_type": ["refresh_token"],
                            "refresh_token": [old["refresh_token"]],
                            "client_id": [CLIENT_ID], "client_secret": [fake.client_secret]}
    account, new = stored(db, world, account_id)
    assert new["access_token"] != old["access_token"]
    assert new["access_token"] not in account.credentials
    assert new["refresh_token"] == old["refresh_token"]  # Google does not rotate it
    assert new["refreshable"] is True and new["expires_at"] > time.time() + 3500
    assert account.status == AccountStatus.CONNECTED
    with tenant_scope(world.agency_id):
        assert db.session.scalars(select(AuditEvent.action).where(
            AuditEvent.action == "account.token_refreshed")).all()

    # The renewed token publishes; the old one no longer would.
    fake.access_tokens[old["access_token"]]["expires"] = 0
    with app.app_context():
        adapter = GoogleBusinessNetwork()
        adapter.publish(Outgoing(
            publication_id=uuid.uuid4(), account_id=account_id, network="google_business",
            text="Galettes", media=(), first_comment="", scheduled_at=None,
            idempotency_key="k", settings=dict(account.settings), credentials=new))
    assert adapter.credentials_after_use() is None and len(refreshes(fake)) == 1


def test_an_account_locked_by_another_worker_is_left_to_it(app, db, world, fake):
    account_id, old = make_account(app, db, world, fake)
    with app.app_context():
        other_worker = get_redis().lock(token_health.lock_name(account_id), timeout=30)
        assert other_worker.acquire(blocking=False)
    try:
        assert check(app, world, account_id) == Outcome.LOCKED
        assert refreshes(fake) == []
        assert stored(db, world, account_id)[1] == old
    finally:
        other_worker.release()
    assert check(app, world, account_id) == Outcome.REFRESHED
    assert len(refreshes(fake)) == 1


def test_a_revoked_grant_expires_the_account_and_holds_its_work(app, db, world, fake, mail):
    account_id, _old = make_account(app, db, world, fake, posts=2)
    fake.revoke(fake.user)

    assert check(app, world, account_id) == Outcome.EXPIRED

    account, _ = stored(db, world, account_id)
    assert account.status == AccountStatus.EXPIRED
    assert "Reconnect the location" in account.status_reason
    with tenant_scope(world.agency_id):
        states = db.session.scalars(select(Publication.state).where(
            Publication.social_account_id == account_id)).all()
    assert states == [PublicationState.HELD] * 2
    # The client's staff are told why (others may be told too).
    assert any("Google no longer lets Relais renew" in m.text for m in mail)


def test_refused_app_credentials_change_nothing(app, db, world, fake, mail):
    account_id, old = make_account(app, db, world, fake)
    fake.token_failure = "invalid_client"  # Relais's own credentials: not the account's fault
    assert check(app, world, account_id) == Outcome.RETRY_LATER
    account, credentials = stored(db, world, account_id)
    assert account.status == AccountStatus.CONNECTED and credentials == old
    assert mail == []

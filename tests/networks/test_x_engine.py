"""X through the publishing engine (dispatcher pass → worker → adapter → fake X): a
thread published, a thread continued after a crash mid-thread and after a retryable
failure, a lost answer reconciled without a second post, and an access token renewed
while publishing whose rotated refresh token the engine stores (token_health then
renews from it, never from the dead one)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from agency.networks import token_health
from agency.networks.credentials import unseal
from agency.networks.models import AccountStatus, SocialAccount
from agency.networks.token_health import Outcome, check_account
from agency.publishing import engine
from agency.publishing.models import Publication, PublicationState
from agency.publishing.services import retry
from agency.redis_conn import get_redis
from tenants.context import tenant_scope
from tests.factories import make_world
from tests.fakes.x import fake_x  # noqa: F401 (fixture)
from tests.networks.test_x_support import TEXT, posts, x_account, x_fake, x_post  # noqa: F401
from tests.publishing.conftest import run_due

P = PublicationState
THREAD = ["Deuxième fournée à 11 h.", "Troisième à 16 h."]


@pytest.fixture
def fake(x_fake):  # noqa: F811 (the fake with an account, from test_x_support)
    return x_fake


@pytest.fixture
def world(db):
    return make_world()


def later(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def publication(db, world, post_id) -> Publication:
    with tenant_scope(world.agency_id):
        db.session.expire_all()
        return db.session.scalars(select(Publication).where(
            Publication.post_id == post_id)).one()


def stored_credentials(db, world, account_id) -> dict:
    with tenant_scope(world.agency_id):
        db.session.expire_all()
        return unseal(db.session.scalars(select(SocialAccount.credentials).where(
            SocialAccount.id == account_id)).one())


class Crash(BaseException):
    """Stands for the worker dying: nothing after it runs, nothing catches it."""


def test_a_thread_goes_out_through_the_engine(app, db, world, fake):
    account_id = x_account(app, db, world, fake)
    post_id = x_post(app, db, world, account_id, thread=THREAD, first_comment="Commandez !")
    assert run_due(app) == [("publish", "published")]
    done = publication(db, world, post_id)
    ids = [t["id"] for t in fake.tweets]
    assert fake.texts() == [TEXT, *THREAD, "Commandez !"]
    assert done.external_id == ids[0]
    assert done.external_url == f"https://x.com/boulangeriemartin/status/{ids[0]}"
    assert done.progress["posted"] == ids


def test_a_thread_continues_after_a_crash_mid_thread(app, db, world, fake, monkeypatch):
    account_id = x_account(app, db, world, fake)
    post_id = x_post(app, db, world, account_id, thread=THREAD)
    real = engine._checkpoint

    def dies_after_the_second_post(publication_id, attempt, progress):
        real(publication_id, attempt, progress)  # saved (committed), then the worker dies
        if len(progress.get("posted") or []) == 2:
            raise Crash("worker killed mid-thread")

    monkeypatch.setattr(engine, "_checkpoint", dies_after_the_second_post)
    with pytest.raises(Crash):
        run_due(app)
    monkeypatch.setattr(engine, "_checkpoint", real)
    crashed = publication(db, world, post_id)
    assert crashed.state == P.SENDING and len(crashed.progress["posted"]) == 2
    assert fake.texts() == [TEXT, THREAD[0]]

    # The lease runs out: reconciliation finds the thread cut short. It is not called
    # done (its last part would never go out) nor resent blindly: a person is asked.
    lease = app.config["PUBLISH_LEASE_SECONDS"]
    assert run_due(app, later(lease + 1)) == [("reconcile", "needs_attention")]
    # Retry continues after the last post saved.
    with app.test_request_context(), tenant_scope(world.agency_id):
        retry(db.session.scalars(select(Publication).where(
            Publication.post_id == post_id)).one())
        db.session.commit()
    assert run_due(app, later(lease + 2)) == [("publish", "published")]
    assert fake.texts() == [TEXT, *THREAD]  # each once
    ids = [t["id"] for t in fake.tweets]
    assert [t["reply_to"] for t in fake.tweets] == ["", ids[0], ids[1]]
    assert publication(db, world, post_id).external_id == ids[0]


def test_a_retryable_failure_mid_thread_continues_by_itself(app, db, world, fake):
    account_id = x_account(app, db, world, fake)
    post_id = x_post(app, db, world, account_id, thread=THREAD)
    fake.fail_next(503, skip=2)  # the third post
    assert run_due(app) == [("publish", "retrying")]
    assert len(publication(db, world, post_id).progress["posted"]) == 2
    assert run_due(app, later(7200)) == [("publish", "published")]
    assert fake.texts() == [TEXT, *THREAD]
    assert publication(db, world, post_id).attempts == 2


def test_a_lost_answer_is_reconciled_without_a_second_post(app, db, world, fake):
    account_id = x_account(app, db, world, fake)
    post_id = x_post(app, db, world, account_id)
    fake.hang_next()
    assert run_due(app) == [("publish", "unknown")]
    assert run_due(app, later(60)) == [("reconcile", "published")]
    done = publication(db, world, post_id)
    assert done.state == P.PUBLISHED and done.attempts == 1
    assert done.external_id == fake.tweets[0]["id"] and len(posts(fake)) == 1


def test_a_retry_after_needs_attention_finds_the_post_x_already_has(app, db, world, fake):
    account_id = x_account(app, db, world, fake)
    post_id = x_post(app, db, world, account_id)
    fake.hang_next()
    assert run_due(app) == [("publish", "unknown")]
    fake.fail_next(200, path=f"/2/users/{fake.user.id}/tweets", method="GET",
                   body={"meta": {"result_count": 0}})  # not shown yet
    assert run_due(app, later(60)) == [("reconcile", "needs_attention")]
    with app.test_request_context(), tenant_scope(world.agency_id):
        retry(db.session.scalars(select(Publication).where(
            Publication.post_id == post_id)).one())
        db.session.commit()
    assert run_due(app, later(61)) == [("publish", "published")]
    assert len(fake.tweets) == 1 and len(posts(fake)) == 1  # found, not sent again
    assert publication(db, world, post_id).external_id == fake.tweets[0]["id"]


def test_a_token_renewed_while_publishing_is_stored_and_guarded(app, db, world, fake):
    old = {**fake.credentials, "expires_at": int(datetime.now(UTC).timestamp()) - 60}
    account_id = x_account(app, db, world, fake, old)
    x_post(app, db, world, account_id)
    try:
        assert run_due(app) == [("publish", "published")]
        new = stored_credentials(db, world, account_id)
        assert new["refresh_token"] != old["refresh_token"]
        assert old["refresh_token"] in fake.rotated  # dead at X: only the new one works
        # The lock is still held: token_health does not renew meanwhile...
        with app.test_request_context():
            assert check_account(world.agency_id, account_id) == Outcome.LOCKED
    finally:
        with app.app_context():
            get_redis().delete(token_health.lock_name(account_id))
    # ...and afterwards renews from what the engine stored, which X accepts.
    with app.test_request_context():
        assert check_account(world.agency_id, account_id) == Outcome.REFRESHED
    assert new["refresh_token"] in fake.rotated


def test_access_revoked_at_x_holds_the_account_after_one_check(app, db, world, fake, mail):
    expired = {**fake.credentials, "expires_at": int(datetime.now(UTC).timestamp()) - 60}
    account_id = x_account(app, db, world, fake, expired)
    post_id = x_post(app, db, world, account_id)
    fake.revoke_token(expired["refresh_token"])
    # First refusal: perhaps renewed meanwhile by another worker; looked at again.
    assert run_due(app) == [("publish", "retrying")]
    # Same stored token refused again: nobody renewed it. The account needs a person.
    assert run_due(app, later(7200)) == [("publish", "held")]
    assert publication(db, world, post_id).state == P.HELD
    with tenant_scope(world.agency_id):
        account = db.session.scalars(select(SocialAccount).where(
            SocialAccount.id == account_id)).one()
        assert account.status == AccountStatus.EXPIRED
    assert fake.tweets == []

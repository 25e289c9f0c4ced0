"""Token health: refresh ahead of expiry under a per-account lock, expiry of accounts
whose refresh is refused (their publications held), one warning per expiry for tokens
only a person can renew, and the cross-agency scan behind the periodic job."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import redis
from rq import Queue
from sqlalchemy import select, text

from agency.audit.models import AuditEvent
from agency.content.services import create_post, submit_post
from agency.networks import jobs, registry, token_health
from agency.networks.base import AuthExpiredError, Network, RetryableError
from agency.networks.credentials import seal, unseal
from agency.networks.models import AccountStatus, SocialAccount
from agency.networks.services import add_account
from agency.networks.token_health import Outcome, accounts_to_check, check_account
from agency.periodic import PERIODIC_JOBS
from agency.publishing.models import Publication, PublicationState
from agency.publishing.services import account_reconnected
from agency.redis_conn import get_redis
from tenants.context import clear_tenant, tenant_scope
from tests.factories import make_world

NOW = datetime(2030, 6, 10, 8, 0, tzinfo=UTC)
DAY = 24 * 3600


def _in(days: float) -> float:
    return NOW.timestamp() + days * DAY


class FakeNetwork(Network):
    """A network whose refresh answers what the test says, and remembers its calls."""

    key = "faketok"
    answer: object = None
    calls: list = []

    def refresh(self, credentials):
        type(self).calls.append(dict(credentials))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.fixture
def fake(monkeypatch):
    real = registry._adapters
    monkeypatch.setattr(registry, "_adapters", lambda: {**real(), FakeNetwork.key: FakeNetwork})
    FakeNetwork.calls = []
    FakeNetwork.answer = None
    return FakeNetwork


@pytest.fixture
def world(db):
    return make_world()


def make_account(app, db, world, credentials: dict | None, *, posts: int = 0,
                 status: AccountStatus = AccountStatus.CONNECTED) -> uuid.UUID:
    """A faketok account of the world's client, with ``posts`` approved posts scheduled
    on it (in the future, so they wait as ``scheduled``)."""
    with app.test_request_context(), tenant_scope(world.agency_id):
        world.client.approval_policy = "none"
        account = add_account(world.client, "sandbox", "Boulangerie")
        for n in range(posts):
            when = datetime.now(UTC) + timedelta(days=10 + n)
            post = create_post(world.client, {"text": f"Croissants {n}",
                                              "target_ids": [account.id],
                                              "scheduled_at": when}, world.owner.user_id)
            submit_post(post, world.client)
        account.network = FakeNetwork.key
        account.credentials = seal(credentials) if credentials else ""
        account.status = status
        db.session.commit()
        return account.id


def load(db, world, model, object_id):
    with tenant_scope(world.agency_id):
        db.session.expire_all()
        return db.session.scalars(select(model).where(model.id == object_id)).one()


def publications(db, world, account_id) -> list[Publication]:
    with tenant_scope(world.agency_id):
        db.session.expire_all()
        return list(db.session.scalars(select(Publication).where(
            Publication.social_account_id == account_id)))


def member_email(db, world) -> str:
    """The member's address (assigned to the client, so the one told about it)."""
    from agency.auth.models import User

    with tenant_scope(world.agency_id):  # the test's objects may have been expired
        return db.session.scalars(select(User.email)
                                  .where(User.id == world.member.user_id)).one()


def audit_actions(db, world) -> list[str]:
    with tenant_scope(world.agency_id):
        return list(db.session.scalars(select(AuditEvent.action)))


def check(app, world, account_id, now=NOW) -> str:
    with app.test_request_context():
        return check_account(world.agency_id, account_id, now)


# --- refresh ------------------------------------------------------------------------------

def test_a_token_expiring_soon_is_refreshed_and_stored_sealed(app, db, world, fake, mail):
    old = {"access_token": "old", "expires_at": _in(2), "refreshable": True}
    # A token with characters a sealed value (URL-safe base64) never holds: finding it
    # in the column can only mean it was stored in clear.
    new = {"access_token": "new token.", "expires_at": _in(60), "refreshable": True}
    account_id = make_account(app, db, world, old)
    fake.answer = new

    assert check(app, world, account_id) == Outcome.REFRESHED

    assert fake.calls == [old]
    account = load(db, world, SocialAccount, account_id)
    assert "new token." not in account.credentials  # sealed, not stored in clear
    assert unseal(account.credentials) == new
    assert account.status == AccountStatus.CONNECTED
    assert "account.token_refreshed" in audit_actions(db, world)
    assert mail == []
    # Renewed: the next check has nothing to do.
    assert check(app, world, account_id) == Outcome.NOT_DUE
    assert len(fake.calls) == 1


def test_nothing_is_done_before_it_is_due(app, db, world, fake, mail):
    refreshable = make_account(app, db, world, {"access_token": "a", "expires_at": _in(4),
                                                "refreshable": True})
    lasting = make_account(app, db, world, {"access_token": "b", "expires_at": _in(20)})
    forever = make_account(app, db, world, {"access_token": "c"})
    fake.answer = {"access_token": "never"}

    assert check(app, world, refreshable) == Outcome.NOT_DUE
    assert check(app, world, lasting) == Outcome.NOT_DUE
    assert check(app, world, forever) == Outcome.NO_EXPIRY
    assert fake.calls == [] and mail == []
    assert unseal(load(db, world, SocialAccount, refreshable).credentials)["access_token"] == "a"


def test_an_account_locked_by_another_worker_is_skipped(app, db, world, fake):
    old = {"access_token": "old", "expires_at": _in(1), "refreshable": True}
    account_id = make_account(app, db, world, old)
    fake.answer = {"access_token": "new", "expires_at": _in(60), "refreshable": True}

    with app.app_context():
        other_worker = get_redis().lock(token_health.lock_name(account_id), timeout=30)
        assert other_worker.acquire(blocking=False)
    try:
        assert check(app, world, account_id) == Outcome.LOCKED
        assert fake.calls == []
        assert unseal(load(db, world, SocialAccount, account_id).credentials) == old
    finally:
        other_worker.release()

    assert check(app, world, account_id) == Outcome.REFRESHED
    with app.app_context():  # released after the refresh
        assert not get_redis().exists(token_health.lock_name(account_id))


def test_a_network_that_cannot_answer_now_changes_nothing(app, db, world, fake, mail):
    old = {"access_token": "old", "expires_at": _in(1), "refreshable": True}
    account_id = make_account(app, db, world, old, posts=1)
    fake.answer = RetryableError("The network is unavailable.")

    assert check(app, world, account_id) == Outcome.RETRY_LATER

    account = load(db, world, SocialAccount, account_id)
    assert account.status == AccountStatus.CONNECTED and unseal(account.credentials) == old
    assert [p.state for p in publications(db, world, account_id)] == [PublicationState.SCHEDULED]
    assert mail == []


def test_a_refused_refresh_expires_the_account_and_holds_its_publications(
        app, db, world, fake, mail):
    old = {"access_token": "old", "expires_at": _in(1), "refreshable": True}
    account_id = make_account(app, db, world, old, posts=2)
    fake.answer = AuthExpiredError("The network revoked Relais's access: reconnect it.")

    assert check(app, world, account_id) == Outcome.EXPIRED

    account = load(db, world, SocialAccount, account_id)
    assert account.status == AccountStatus.EXPIRED
    assert account.status_reason == "The network revoked Relais's access: reconnect it."
    held = publications(db, world, account_id)
    assert [p.state for p in held] == [PublicationState.HELD] * 2  # held, not failed
    assert [m.to for m in mail] == [member_email(db, world)]
    assert "Reconnect Boulangerie" in mail[0].subject
    assert "account.expired" in audit_actions(db, world)

    # Expired accounts are not checked again (nor mailed twice)...
    assert check(app, world, account_id) == Outcome.SKIPPED
    assert len(mail) == 1 and len(fake.calls) == 1
    # ...and once reconnected, what they held resumes.
    with app.test_request_context(), tenant_scope(world.agency_id):
        account = db.session.scalars(select(SocialAccount).where(
            SocialAccount.id == account_id)).one()
        assert account_reconnected(account) == 2
        db.session.commit()
    assert {p.state for p in publications(db, world, account_id)} == {PublicationState.SCHEDULED}


# --- warning ------------------------------------------------------------------------------

def test_an_expiry_that_cannot_be_refreshed_is_warned_once(app, db, world, fake, mail):
    credentials = {"access_token": "long-lived", "expires_at": _in(10), "refreshable": False}
    account_id = make_account(app, db, world, credentials)

    assert check(app, world, account_id) == Outcome.WARNED

    assert [m.to for m in mail] == [member_email(db, world)]
    assert "before its access expires" in mail[0].subject
    assert "Reconnect the account" in mail[0].text
    with tenant_scope(world.agency_id):
        assert f"/clients/{world.client.id}" in mail[0].text
    settings = load(db, world, SocialAccount, account_id).settings
    assert settings["expiry_warned_for"] == credentials["expires_at"]
    assert settings["expiry_warned_at"] == NOW.isoformat()
    assert fake.calls == []
    assert "account.expiry_warned" in audit_actions(db, world)

    # Not twice for the same expiry, even a day later.
    assert check(app, world, account_id, NOW + timedelta(days=1)) == Outcome.ALREADY_WARNED
    assert len(mail) == 1

    # Reconnected with a new token, expiring in turn: that expiry is warned about once.
    renewed = {**credentials, "expires_at": _in(70)}
    with tenant_scope(world.agency_id):
        account = db.session.scalars(select(SocialAccount).where(
            SocialAccount.id == account_id)).one()
        account.credentials = seal(renewed)
        db.session.commit()
    assert check(app, world, account_id, NOW + timedelta(days=62)) == Outcome.WARNED
    assert len(mail) == 2


def test_a_refreshable_token_the_adapter_cannot_refresh_is_warned(app, db, world, fake, mail):
    account_id = make_account(app, db, world, {"access_token": "x", "expires_at": _in(2),
                                               "refreshable": True})
    fake.answer = None  # Network.refresh's default: nothing to refresh

    assert check(app, world, account_id) == Outcome.WARNED
    assert len(fake.calls) == 1 and len(mail) == 1


# --- the scan and the periodic job --------------------------------------------------------

def _scan_world(app, db):
    alpha, beta = make_world(), make_world("Agence Beta")
    token = {"access_token": "t", "expires_at": _in(30)}
    ids = {
        "alpha": make_account(app, db, alpha, token),
        "beta": make_account(app, db, beta, token),
        "beta_no_credentials": make_account(app, db, beta, None),
        "alpha_expired": make_account(app, db, alpha, token, status=AccountStatus.EXPIRED),
    }
    clear_tenant()
    return alpha, beta, ids


def test_the_scan_finds_connected_accounts_of_every_agency(app, db):
    alpha, beta, ids = _scan_world(app, db)

    found = accounts_to_check()

    assert (alpha.agency_id, ids["alpha"]) in found
    assert (beta.agency_id, ids["beta"]) in found
    assert not {ids["beta_no_credentials"], ids["alpha_expired"]} & {a for _, a in found}


@pytest.mark.postgres
def test_the_app_role_gets_account_ids_through_the_function_and_no_rows(app, db):
    alpha, beta, ids = _scan_world(app, db)
    conn = db.session.connection()
    assert conn.execute(text("SELECT current_user")).scalar_one() != conn.execute(text(
        "SELECT pg_get_userbyid(proowner) FROM pg_proc "
        "WHERE proname = 'relais_accounts_to_check'")).scalar_one()

    found = accounts_to_check()
    assert {(alpha.agency_id, ids["alpha"]), (beta.agency_id, ids["beta"])} <= set(found)
    assert conn.execute(text("SELECT count(*) FROM social_accounts")).scalar_one() == 0
    # The scan's policy belongs to the owner: the app role setting the flag gains nothing.
    conn.execute(text("SELECT set_config('relais.system_scan', 'accounts_to_check', true)"))
    assert conn.execute(text("SELECT count(*) FROM social_accounts")).scalar_one() == 0
    assert conn.execute(text(
        "SELECT has_function_privilege('public', 'relais_accounts_to_check()', "
        "'EXECUTE')")).scalar_one() is False


@pytest.fixture
def queue(app, redis_url):
    connection = redis.Redis.from_url(redis_url)
    q = Queue(f"test-token-health-{uuid.uuid4().hex}", connection=connection)
    yield q
    q.delete(delete_jobs=True)


def test_the_periodic_job_enqueues_one_check_per_account(app, db, world, fake, queue, mail):
    assert ("token-health", 1800, "agency.networks.jobs:run_token_checks") in PERIODIC_JOBS
    now = datetime.now(UTC)
    expiring = {"access_token": "t", "expires_at": now.timestamp() + 10 * DAY}
    account_id = make_account(app, db, world, expiring)
    clear_tenant()

    with app.app_context():
        assert jobs.run_token_checks(now, queue=queue) >= 1
        assert jobs.run_token_checks(now, queue=queue) == 0  # same bucket: already there
    job = queue.fetch_job(jobs.check_job_id(account_id, now))
    assert job.args == (str(world.agency_id), str(account_id))

    # What a worker would do, in this process so that it shares the test's transaction.
    with app.app_context():
        assert job.func(*job.args) == Outcome.WARNED
    assert [m.to for m in mail] == [member_email(db, world)]

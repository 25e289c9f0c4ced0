"""The publishing engine on the sandbox network: each outcome, each crash point, and
that nothing is ever published twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from agency.networks.models import AccountStatus, SocialAccount
from agency.networks.sandbox_models import SandboxPost
from agency.publishing import engine
from agency.publishing.models import PublicationState
from agency.publishing.services import account_reconnected
from tenants.context import tenant_scope

from .conftest import approve_post, run_due

P = PublicationState
pytestmark = pytest.mark.usefixtures("sandbox_in_test")


def sandbox_posts(db, agency_id) -> int:
    with tenant_scope(agency_id):
        return db.session.scalar(select(func.count()).select_from(SandboxPost))


def later(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def test_an_approved_post_has_one_scheduled_publication_per_account(app, db):
    approved = approve_post(app, db, accounts=3)
    publications = approved.publications(db)
    assert [p.state for p in publications] == [P.SCHEDULED] * 3
    assert {p.social_account_id for p in publications} == set(approved.account_ids)
    assert len({p.idempotency_key for p in publications}) == 3


def test_a_due_publication_is_published_once(app, db, mail):
    approved = approve_post(app, db, accounts=2)
    assert run_due(app) == [("publish", "published")] * 2
    publications = approved.publications(db)
    assert [p.state for p in publications] == [P.PUBLISHED] * 2
    assert all(p.external_id and "#p-" in p.external_url for p in publications)
    assert all(p.published_at is not None and p.attempts == 1 for p in publications)
    assert sandbox_posts(db, approved.world.agency_id) == 2
    assert run_due(app, later(3600)) == []  # nothing left to do
    assert mail == []


def test_a_publication_not_yet_due_waits(app, db):
    approved = approve_post(app, db, scheduled_at=later(3600))
    assert run_due(app) == []
    assert approved.publications(db)[0].state == P.SCHEDULED


def test_a_duplicate_job_does_nothing(app, db):
    approved = approve_post(app, db)
    run_due(app)
    publication = approved.publications(db)[0]
    assert engine.publish(approved.world.agency_id, publication.id) == "skipped"
    assert sandbox_posts(db, approved.world.agency_id) == 1


def test_a_retryable_error_backs_off_then_succeeds(app, db):
    approved = approve_post(app, db, settings={"fail_rate": 1, "fail_mode": "retryable"})
    assert run_due(app) == [("publish", "retrying")]
    publication = approved.publications(db)[0]
    assert publication.state == P.RETRYING and publication.attempts == 1
    assert "unavailable" in publication.last_error
    due = publication.due_at if publication.due_at.tzinfo else publication.due_at.replace(
        tzinfo=UTC)
    assert due > datetime.now(UTC)
    assert run_due(app) == []  # not before its time
    with tenant_scope(approved.world.agency_id):
        db.session.get(SocialAccount, approved.account_ids[0]).settings = {}
        db.session.flush()
    assert run_due(app, later(3 * 3600)) == [("publish", "published")]
    assert approved.publications(db)[0].attempts == 2


def test_retries_are_capped_and_the_failure_is_told(app, db, mail):
    app.config["PUBLISH_MAX_ATTEMPTS"] = 3
    try:
        approved = approve_post(app, db, settings={"fail_rate": 1, "fail_mode": "retryable"})
        outcomes = [run_due(app, later(24 * 3600 * n)) for n in range(4)]
    finally:
        app.config["PUBLISH_MAX_ATTEMPTS"] = 8
    assert outcomes == [[("publish", "retrying")], [("publish", "retrying")],
                        [("publish", "failed")], []]
    publication = approved.publications(db)[0]
    assert publication.state == P.FAILED and "3 attempts" in publication.last_error
    assert len(mail) == 1 and "not published" in mail[0].subject


def test_a_refusal_fails_at_once_with_the_networks_reason(app, db, mail):
    approved = approve_post(app, db, settings={"fail_rate": 1, "fail_mode": "permanent"})
    assert run_due(app) == [("publish", "failed")]
    publication = approved.publications(db)[0]
    assert publication.attempts == 1 and "refused" in publication.last_error
    assert len(mail) == 1 and "not published" in mail[0].subject


def test_a_revoked_token_holds_the_accounts_work_until_reconnected(app, db, mail):
    approved = approve_post(app, db, settings={"fail_rate": 1, "fail_mode": "auth"})
    second = approve_post(app, db, approved.world, scheduled_at=later(3600))
    with tenant_scope(approved.world.agency_id):  # the second post on the same account
        from agency.publishing.models import Publication

        other = db.session.scalars(select(Publication).where(
            Publication.post_id == second.post_id)).one()
        other.social_account_id = approved.account_ids[0]
        db.session.flush()
    assert run_due(app) == [("publish", "held")]
    publication = approved.publications(db)[0]
    assert publication.state == P.HELD and publication.held_reason == "account"
    with tenant_scope(approved.world.agency_id):
        account = db.session.get(SocialAccount, approved.account_ids[0])
        db.session.refresh(account)
        assert account.status == AccountStatus.EXPIRED
        assert db.session.get(Publication, other.id, populate_existing=True).state == P.HELD
    assert len(mail) == 1 and "Reconnect" in mail[0].subject
    assert run_due(app, later(7200)) == []  # held: nothing is retried in a loop

    with app.test_request_context(), tenant_scope(approved.world.agency_id):
        account.settings = {}
        assert account_reconnected(account) == 2
    assert sorted(run_due(app, later(7200))) == [("publish", "published")] * 2


def test_a_lost_answer_is_reconciled_not_resent(app, db):
    approved = approve_post(app, db, settings={"fail_rate": 1,
                                               "fail_mode": "timeout_after_store"})
    assert run_due(app) == [("publish", "unknown")]
    assert approved.publications(db)[0].state == P.UNKNOWN
    # Reconciliation comes after a delay, and finds the post the network kept.
    assert run_due(app) == []
    assert run_due(app, later(60)) == [("reconcile", "published")]
    publication = approved.publications(db)[0]
    assert publication.state == P.PUBLISHED and publication.attempts == 1
    assert sandbox_posts(db, approved.world.agency_id) == 1


class Crash(BaseException):
    """Stands for the process dying: nothing after it runs, nothing catches it."""


@pytest.fixture
def crash_at(monkeypatch):
    def arm(point: str):
        def hook(name: str):
            if name == point:
                raise Crash(name)
        monkeypatch.setattr(engine, "crash_hook", hook)
    return arm


def test_crash_after_claim_the_dispatcher_queues_it_again(app, db):
    approved = approve_post(app, db)
    from agency.publishing import dispatch

    with app.test_request_context():
        claimed = dispatch.claim_due(datetime.now(UTC))  # the job is then lost
    assert len(claimed) == 1
    assert run_due(app) == []  # queued, and not yet too long
    requeue = app.config["PUBLISH_REQUEUE_SECONDS"]
    assert run_due(app, later(requeue + 1)) == [("publish", "published")]
    assert approved.publications(db)[0].dispatches == 2
    assert sandbox_posts(db, approved.world.agency_id) == 1


def test_crash_after_sending_committed_reconciles_and_sends_once(app, db, crash_at):
    approved = approve_post(app, db)
    crash_at("after_sending_committed")
    with pytest.raises(Crash):
        run_due(app)
    engine.crash_hook = None
    assert approved.publications(db)[0].state == P.SENDING
    assert run_due(app) == []  # the lease still runs
    lease = app.config["PUBLISH_LEASE_SECONDS"]
    # The lease is over: unknown, and the network (authoritative) has nothing: sent again.
    assert run_due(app, later(lease + 1)) == [("reconcile", "published")]
    assert sandbox_posts(db, approved.world.agency_id) == 1
    assert approved.publications(db)[0].attempts == 2


def test_crash_after_the_network_answered_finds_the_post(app, db, crash_at):
    approved = approve_post(app, db)
    crash_at("after_network_answered")
    with pytest.raises(Crash):
        run_due(app)
    engine.crash_hook = None
    assert approved.publications(db)[0].state == P.SENDING
    lease = app.config["PUBLISH_LEASE_SECONDS"]
    assert run_due(app, later(lease + 1)) == [("reconcile", "published")]
    publication = approved.publications(db)[0]
    assert publication.attempts == 1  # found, not sent again
    assert sandbox_posts(db, approved.world.agency_id) == 1


def test_editing_an_approved_post_withdraws_its_scheduled_publications(app, db):
    from agency.content.models import Post
    from agency.content.services import update_post

    approved = approve_post(app, db, scheduled_at=later(3600))
    with app.test_request_context(), tenant_scope(approved.world.agency_id):
        post = db.session.get(Post, approved.post_id)
        assert update_post(post, approved.world.client, {"text": "Autre texte"},
                           approved.world.owner.user_id)
    assert approved.publications(db) == []


def test_a_post_being_sent_cannot_be_edited(app, db):
    from agency.auth.services import ServiceError
    from agency.content.models import Post
    from agency.content.services import update_post
    from agency.publishing import dispatch

    approved = approve_post(app, db)
    with app.test_request_context():
        dispatch.claim_due(datetime.now(UTC))
    with app.test_request_context(), tenant_scope(approved.world.agency_id):
        post = db.session.get(Post, approved.post_id)
        with pytest.raises(ServiceError, match="being published"):
            update_post(post, approved.world.client, {"text": "Autre texte"},
                        approved.world.owner.user_id)

"""Publishing in batches: the dispatcher groups one agency's due publications into one
job, and the worker sends them one after the other, each with its own claim and
settlement (a crash mid-batch leaves only the one in flight to reconcile)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from rq import Queue
from rq.job import Job as RQJob
from sqlalchemy import select, update

from agency.content.models import Revision
from agency.networks.base import Network, Published, RetryableError
from agency.networks.credentials import seal, unseal
from agency.networks.models import AccountStatus, SocialAccount
from agency.networks.sandbox import SandboxNetwork
from agency.publishing import dispatch, engine
from agency.publishing.dispatch import Claimed, group
from agency.publishing.models import Publication, PublicationState
from agency.publishing.queues import PUBLISH_QUEUE, queue
from agency.redis_conn import get_redis
from tenants.context import tenant_scope
from tests.publishing.test_engine import sandbox_posts

from .conftest import approve_post, just_due, run_due

P = PublicationState
pytestmark = pytest.mark.usefixtures("sandbox_in_test")


def ids(n: int) -> list[uuid.UUID]:
    return sorted(uuid.uuid4() for _ in range(n))


def test_publications_are_grouped_per_agency_and_reconciliations_go_alone():
    a, b = uuid.uuid4(), uuid.uuid4()
    a_ids, b_ids, unknown = ids(5), ids(2), ids(1)
    claimed = ([Claimed(a, p, False) for p in a_ids] + [Claimed(b, p, False) for p in b_ids]
               + [Claimed(a, unknown[0], True)])
    jobs = group(claimed, 2)
    assert [(j.agency_id, list(j.publication_ids), j.reconcile) for j in jobs] == [
        (a, unknown, True),
        (a, a_ids[0:2], False), (a, a_ids[2:4], False), (a, a_ids[4:], False),
        (b, b_ids, False),
    ]
    # Deterministic ids: the same group claimed again is recognised as the same job.
    assert [j.id for j in jobs] == [j.id for j in group(claimed, 2)]
    assert jobs[0].id == f"reconcile-{unknown[0]}" and jobs[3].id == f"publish-{a_ids[4]}"
    assert jobs[1].id.startswith("publish-batch-") and jobs[1].id != jobs[2].id


def test_the_dispatcher_enqueues_one_job_per_group_and_not_twice(app, db):
    agency = uuid.uuid4()
    claimed = [Claimed(agency, p, False) for p in ids(3)]
    with app.app_context():
        app.config["PUBLISH_JOB_SIZE"] = 2
        publish_queue = queue(PUBLISH_QUEUE)
        try:
            dispatch.enqueue(claimed)
            dispatch.enqueue(claimed)  # claimed again while its jobs still wait
            jobs = RQJob.fetch_many(publish_queue.job_ids, connection=get_redis())
            assert sorted((j.func_name, len(j.args[1]) if isinstance(j.args[1], list)
                           else 1) for j in jobs) == [
                ("agency.publishing.jobs.publish", 1),
                ("agency.publishing.jobs.publish_many", 2)]
            many = next(j for j in jobs if j.func_name.endswith("publish_many"))
            assert many.args == (str(agency), [str(c.publication_id) for c in claimed[:2]])
            assert many.timeout == 2 * app.config["PUBLISH_LEASE_SECONDS"]
        finally:
            app.config["PUBLISH_JOB_SIZE"] = 20
            Queue(publish_queue.name, connection=get_redis()).delete(delete_jobs=True)


def _queue_all(db, approved) -> list[uuid.UUID]:
    with tenant_scope(approved.world.agency_id):
        db.session.execute(update(Publication).where(
            Publication.post_id == approved.post_id).values(
                state=P.QUEUED, queued_at=datetime.now(UTC)))
        db.session.flush()
    return [p.id for p in approved.publications(db)]


def test_a_batch_sends_each_and_records_each_outcome(app, db):
    approved = approve_post(app, db, accounts=3)
    publication_ids = _queue_all(db, approved)
    agency_id = approved.world.agency_id
    with tenant_scope(agency_id):  # the second account lost its access meanwhile
        db.session.execute(update(SocialAccount).where(
            SocialAccount.id == approved.account_ids[1]).values(status=AccountStatus.EXPIRED))
        db.session.flush()
    stranger = uuid.uuid4()
    results = engine.publish_many(agency_id, [*publication_ids, stranger])
    assert results == {publication_ids[0]: "published", publication_ids[1]: "held",
                       publication_ids[2]: "published", stranger: "skipped"}
    states = [p.state for p in approved.publications(db)]
    assert states == [P.PUBLISHED, P.HELD, P.PUBLISHED]
    assert sandbox_posts(db, agency_id) == 2
    # The same batch again (a duplicate job) sends nothing.
    assert set(engine.publish_many(agency_id, publication_ids).values()) == {"skipped"}
    assert sandbox_posts(db, agency_id) == 2


class Unsure(SandboxNetwork):
    """The sandbox, as a network whose unknown outcomes cannot be settled for certain
    (no idempotency key, a search that proves nothing): like Facebook or LinkedIn."""

    idempotent_publish = False
    authoritative_find = False


def _crash_on_second(monkeypatch):
    calls = []

    def hook(name):
        if name == "after_sending_committed":
            calls.append(name)
            if len(calls) == 2:
                raise SystemExit("killed")

    monkeypatch.setattr(engine, "crash_hook", hook)


def test_a_crash_mid_batch_leaves_the_rest_queued_where_reconciling_is_unsure(
        app, db, monkeypatch):
    approved = approve_post(app, db, accounts=3)
    publication_ids = _queue_all(db, approved)
    agency_id = approved.world.agency_id
    monkeypatch.setattr(engine, "adapter_for", lambda network: Unsure())
    _crash_on_second(monkeypatch)
    with pytest.raises(SystemExit):
        engine.publish_many(agency_id, publication_ids)
    states = [p.state for p in approved.publications(db)]
    # The first went out and was settled (with the second's claim); the second is in
    # flight (its lease will make it unknown, then reconciled); the third was never
    # claimed, so the next job sends it.
    assert states == [P.PUBLISHED, P.SENDING, P.QUEUED]
    monkeypatch.setattr(engine, "crash_hook", None)
    assert engine.publish_many(agency_id, publication_ids) == {
        publication_ids[0]: "skipped", publication_ids[1]: "skipped",
        publication_ids[2]: "published"}
    assert sandbox_posts(db, agency_id) == 2


def test_a_group_is_claimed_at_once_where_reconciling_is_certain(app, db, monkeypatch):
    approved = approve_post(app, db, accounts=3)
    publication_ids = _queue_all(db, approved)
    agency_id = approved.world.agency_id
    _crash_on_second(monkeypatch)
    with pytest.raises(SystemExit):
        engine.publish_many(agency_id, publication_ids)
    # One claim for the group: the first is out, the other two were promised ("sending")
    # and are settled by reconciliation once their lease runs out, each exactly once.
    assert [p.state for p in approved.publications(db)] == [P.PUBLISHED, P.SENDING,
                                                            P.SENDING]
    monkeypatch.setattr(engine, "crash_hook", None)
    lapsed = datetime.now(UTC) + timedelta(seconds=app.config["PUBLISH_LEASE_SECONDS"] + 1)
    # The lease ran out: unknown, then reconciled (here in the same dispatcher pass).
    assert run_due(app, lapsed) == [("reconcile", "published")] * 2
    assert [p.state for p in approved.publications(db)] == [P.PUBLISHED] * 3
    assert sandbox_posts(db, agency_id) == 3


def test_a_publication_approved_again_meanwhile_is_not_sent_as_it_was(app, db, monkeypatch):
    approved = approve_post(app, db, accounts=1)
    [publication_id] = _queue_all(db, approved)
    agency_id = approved.world.agency_id
    load = engine._load_batch

    def then_changed(ids):
        batch = load(ids)
        with tenant_scope(agency_id):  # another revision approved between load and claim
            old = db.session.scalars(select(Revision).where(
                Revision.post_id == approved.post_id)).one()
            new = Revision(post_id=old.post_id, number=old.number + 1,
                           content={**old.content, "text": "Changed"},
                           content_hash="f" * 64)
            db.session.add(new)
            db.session.flush()
            db.session.execute(update(Publication).where(Publication.id == publication_id)
                               .values(revision_id=new.id))
            db.session.flush()
        return batch

    monkeypatch.setattr(engine, "_load_batch", then_changed)
    assert engine.publish_many(agency_id, [publication_id]) == {publication_id: "skipped"}
    assert sandbox_posts(db, agency_id) == 0


class Renewing(Network):
    """Renews the account's token on its first call (as X does when it has expired)."""

    key = "sandbox"
    seen: list[str] = []

    def __init__(self):
        self.renewed = None

    def publish(self, outgoing):
        Renewing.seen.append(outgoing.credentials.get("token", ""))
        if outgoing.credentials.get("token") != "new":
            self.renewed = {"token": "new"}
        return Published(external_id=f"r-{len(Renewing.seen)}", url="https://example.test/")

    def credentials_after_use(self):
        return self.renewed


def _seal_token(db, approved, token):
    with tenant_scope(approved.world.agency_id):
        db.session.execute(update(SocialAccount).where(
            SocialAccount.id == approved.account_ids[0]).values(credentials=seal(
                {"token": token})))
        db.session.flush()


def _stored_token(db, approved) -> str:
    with tenant_scope(approved.world.agency_id):
        account = db.session.scalars(select(SocialAccount).where(
            SocialAccount.id == approved.account_ids[0])
            .execution_options(populate_existing=True)).one()
        return unseal(account.credentials)["token"]


def _second_post_on_the_same_account(app, db, approved) -> uuid.UUID:
    from agency.content.services import create_post, submit_post

    with app.test_request_context(), tenant_scope(approved.world.agency_id):
        when = just_due()
        post = create_post(approved.world.client, {
            "text": "Pains au chocolat", "target_ids": [approved.account_ids[0]],
            "scheduled_at": when}, approved.world.owner.user_id, now=when - timedelta(days=1))
        submit_post(post, approved.world.client)
        db.session.execute(update(Publication).where(Publication.post_id == post.id).values(
            state=P.QUEUED, queued_at=datetime.now(UTC)))
        db.session.flush()
        return db.session.scalars(select(Publication.id).where(
            Publication.post_id == post.id)).one()


def test_credentials_renewed_in_a_batch_serve_its_later_publications(app, db, monkeypatch):
    approved = approve_post(app, db)
    _seal_token(db, approved, "old")
    [first] = _queue_all(db, approved)
    second = _second_post_on_the_same_account(app, db, approved)
    Renewing.seen = []
    monkeypatch.setattr(engine, "adapter_for", lambda network: Renewing())
    results = engine.publish_many(approved.world.agency_id, [first, second])
    assert results == {first: "published", second: "published"}
    assert Renewing.seen == ["old", "new"]  # the second did not use the replaced token
    assert _stored_token(db, approved) == "new"


def test_renewed_credentials_are_kept_even_when_the_publication_was_settled_meanwhile(
        app, db, monkeypatch):
    approved = approve_post(app, db)
    _seal_token(db, approved, "old")
    [publication_id] = _queue_all(db, approved)
    agency_id = approved.world.agency_id

    class RenewThenLose(Renewing):
        def publish(self, outgoing):
            self.renewed = {"token": "new"}
            with tenant_scope(agency_id):  # a reconciliation settled it meanwhile
                db.session.execute(update(Publication).where(
                    Publication.id == publication_id).values(state=P.PUBLISHED))
                db.session.commit()
            raise RetryableError("lost")

    monkeypatch.setattr(engine, "adapter_for", lambda network: RenewThenLose())
    assert engine.publish_many(agency_id, [publication_id]) == {publication_id: "skipped"}
    assert _stored_token(db, approved) == "new"


def test_a_job_taken_off_the_queue_by_a_worker_that_died_is_handed_out_again(app, db):
    agency = uuid.uuid4()
    claimed = [Claimed(agency, p, False) for p in ids(2)]
    with app.app_context():
        publish_queue = queue(PUBLISH_QUEUE)
        connection = get_redis()
        try:
            dispatch.enqueue(claimed)
            [job_id] = publish_queue.job_ids
            # The worker popped it, then died before marking it started: its hash still
            # says "queued", but it is no longer in the list.
            connection.lrem(publish_queue.key, 0, job_id)
            assert RQJob.fetch(job_id, connection=connection).get_status() == "queued"
            dispatch.enqueue(claimed)  # claimed again after PUBLISH_REQUEUE_SECONDS
            assert publish_queue.job_ids == [job_id]
        finally:
            Queue(publish_queue.name, connection=connection).delete(delete_jobs=True)

"""The dispatcher: finds due work in PostgreSQL and hands it to the workers through RQ.

PostgreSQL is the truth and Redis only carries work: a claim marks the publication
``queued`` (with the time) in the database before the job is enqueued, under a
deterministic job id. If Redis loses the job, or the worker dies before starting it, the
publication is still ``queued`` and is claimed again once ``PUBLISH_REQUEUE_SECONDS``
have passed; a duplicate job is harmless, since the worker only proceeds from ``queued``
with a conditional update. A ``sending`` publication whose lease ran out becomes
``unknown`` and is claimed for reconciliation. Several dispatchers may run: the claim
takes rows with ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import Flask, current_app
from sqlalchemy import or_, select, text, update

from agency.extensions import db
from tenants.scoping import system_scope

from .models import Publication, PublicationState
from .queues import PUBLISH_QUEUE, queue

log = logging.getLogger(__name__)
P = PublicationState


@dataclass(frozen=True)
class Claimed:
    agency_id: uuid.UUID
    publication_id: uuid.UUID
    reconcile: bool  # an unknown outcome to settle, rather than a publication to send


def job_id(claimed: Claimed) -> str:
    kind = "reconcile" if claimed.reconcile else "publish"
    return f"{kind}-{claimed.publication_id}"


@dataclass(frozen=True)
class Job:
    """One RQ job: a reconciliation, or a group of one agency's publications to send."""

    agency_id: uuid.UUID
    publication_ids: tuple[uuid.UUID, ...]
    reconcile: bool

    @property
    def id(self) -> str:
        """Deterministic: the same work claimed again gets the same id (and is not queued
        twice while it waits); one publication keeps the simple ``publish-<id>``."""
        if self.reconcile or len(self.publication_ids) == 1:
            return job_id(Claimed(self.agency_id, self.publication_ids[0], self.reconcile))
        digest = hashlib.sha256(",".join(map(str, self.publication_ids)).encode())
        return f"publish-batch-{digest.hexdigest()[:32]}"


def group(claimed: list[Claimed], size: int) -> list[Job]:
    """Publications to send, per agency (a job runs in one tenant) in groups of at most
    ``size``, in the order they were claimed (the most overdue first); each
    reconciliation alone (it may wait for the network's answer to a search)."""
    jobs: list[Job] = [Job(c.agency_id, (c.publication_id,), True)
                       for c in claimed if c.reconcile]
    per_agency: dict[uuid.UUID, list[uuid.UUID]] = {}
    for item in claimed:
        if not item.reconcile:
            per_agency.setdefault(item.agency_id, []).append(item.publication_id)
    for agency_id, ids in per_agency.items():
        jobs.extend(Job(agency_id, tuple(ids[n:n + size]), False)
                    for n in range(0, len(ids), max(1, size)))
    return jobs


def claim_due(now: datetime, *, limit: int | None = None) -> list[Claimed]:
    """Expire lapsed leases, then claim due work, in this session's transaction (the
    caller commits, then enqueues: a job must never run before its claim is visible)."""
    config = current_app.config
    limit = limit or config["DISPATCH_BATCH"]
    requeue_before = now - timedelta(seconds=config["PUBLISH_REQUEUE_SECONDS"])
    if db.session.get_bind().dialect.name == "postgresql":
        rows = db.session.execute(
            text("SELECT agency_id, publication_id, state "
                 "FROM relais_dispatch_publications(:now, :requeue_before, :lim)"),
            {"now": now, "requeue_before": requeue_before, "lim": limit})
        return [Claimed(uuid.UUID(str(a)), uuid.UUID(str(p)), s == P.UNKNOWN)
                for a, p, s in rows]
    return _claim_without_rls(now, requeue_before, limit)


def _claim_without_rls(now: datetime, requeue_before: datetime, limit: int) -> list[Claimed]:
    # SQLite: no row-level security and one writer at a time, so a plain system-scoped
    # query does what migration 0007's function does. Keep the two in step.
    reason = system_scope("dispatcher: due publications of every agency")
    db.session.execute(
        update(Publication).where(Publication.state == P.SENDING,
                                  Publication.lease_expires_at <= now)
        .values(state=P.UNKNOWN, due_at=now, queued_at=None, lease_expires_at=None,
                error_code="lease_expired")
        .execution_options(synchronize_session=False, **reason))
    due = list(db.session.execute(
        select(Publication.agency_id, Publication.id, Publication.state)
        .where(or_(
            Publication.state.in_((P.SCHEDULED, P.RETRYING)) & (Publication.due_at <= now),
            (Publication.state == P.QUEUED) & (Publication.queued_at <= requeue_before),
            (Publication.state == P.UNKNOWN) & (Publication.due_at <= now)
            & (Publication.queued_at.is_(None) | (Publication.queued_at <= requeue_before)),
        ))
        .order_by(Publication.due_at).limit(limit)
        .execution_options(**reason)))
    claimed = []
    for agency_id, publication_id, state in due:
        reconcile = state == P.UNKNOWN
        db.session.execute(
            update(Publication).where(Publication.id == publication_id)
            .values(state=P.UNKNOWN if reconcile else P.QUEUED, queued_at=now,
                    dispatches=Publication.dispatches + 1)
            .execution_options(synchronize_session=False, **reason))
        claimed.append(Claimed(agency_id, publication_id, reconcile))
    return claimed


def enqueue(claimed: list[Claimed]) -> None:
    """Hand claimed work to the workers, in groups (``group``), under deterministic job
    ids. Work claimed again because it waited long (a backlog, not a loss) is not
    enqueued a second time while the same job still waits in the queue's list; a
    duplicate would be harmless (a publication is only sent from ``queued``), only
    wasted."""
    if not claimed:
        return
    from . import jobs

    config = current_app.config
    work = group(claimed, config["PUBLISH_JOB_SIZE"])
    publish_queue = queue(PUBLISH_QUEUE)
    # Waiting means in the queue's list, not a job hash saying "queued": a worker killed
    # between taking a job off the list and marking it started leaves such a hash behind,
    # and trusting it would never hand that work out again.
    with publish_queue.connection.pipeline(transaction=False) as pipe:
        for job in work:
            pipe.lpos(publish_queue.key, job.id)
        positions = pipe.execute()
    waiting = {job.id for job, position in zip(work, positions, strict=True)
               if position is not None}
    lease = config["PUBLISH_LEASE_SECONDS"]
    with publish_queue.connection.pipeline() as pipe:
        for job in work:
            if job.id in waiting:
                continue
            agency, ids = str(job.agency_id), [str(p) for p in job.publication_ids]
            if job.reconcile:
                func, args, timeout = jobs.reconcile, (agency, ids[0]), lease
            elif len(ids) == 1:
                func, args, timeout = jobs.publish, (agency, ids[0]), lease
            else:
                # Each publication has its own lease; the job may take them all in turn.
                func, args, timeout = jobs.publish_many, (agency, ids), lease * len(ids)
            publish_queue.enqueue_call(func, args=args, job_id=job.id, timeout=int(timeout),
                                       result_ttl=600, failure_ttl=7 * 24 * 3600,
                                       pipeline=pipe)
        pipe.execute()


def dispatch_once(now: datetime | None = None) -> int:
    """One pass: claim (committed), then enqueue. Returns how many were handed out."""
    now = now or datetime.now(UTC)
    claimed = claim_due(now)
    db.session.commit()
    enqueue(claimed)
    return len(claimed)


def run_dispatcher(app: Flask, stop: threading.Event, *, interval: float | None = None) -> None:
    """Dispatch every ``DISPATCH_INTERVAL_SECONDS`` until ``stop`` is set. A pass that
    fills a whole batch is followed at once by the next one."""
    with app.app_context():
        interval = interval if interval is not None else app.config["DISPATCH_INTERVAL_SECONDS"]
        batch = app.config["DISPATCH_BATCH"]
        while not stop.is_set():
            try:
                handed = dispatch_once()
            except Exception:  # a database or Redis hiccup must not end the loop
                db.session.rollback()
                log.exception("dispatch pass failed; trying again")
                handed = 0
            finally:
                db.session.remove()
            if handed:
                log.info("dispatched %d publication(s)", handed)
            if handed < batch:
                # Wake just after the next whole interval: posts fall due on whole
                # minutes, so a fixed sleep would add up to a second to every one.
                stop.wait(interval - time.time() % interval + 0.005)

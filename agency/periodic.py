"""Periodic work, declared as data, and the scheduler that enqueues it.

The scheduler (``flask --app wsgi scheduler``) only enqueues: workers run the jobs. Each
run of a job has a deterministic id, one per interval bucket, and an atomic Redis guard
(SET NX) decides which scheduler enqueues it, so running several schedulers (for
availability) never runs a job twice in the same interval.
"""

from __future__ import annotations

import importlib
import logging
import re
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

import redis
from flask import Flask, current_app
from rq import Queue
from rq.exceptions import DuplicateJobError

log = logging.getLogger(__name__)

TICK_SECONDS = 10


class PeriodicJob(NamedTuple):
    name: str  # letters, digits and dashes: it becomes part of an RQ job id
    interval: int  # seconds
    target: str  # "module:function", run by a worker inside the app context


PERIODIC_JOBS: list[PeriodicJob] = [
    PeriodicJob("approval-reminders", 300, "agency.approvals.jobs:run_reminders"),
    PeriodicJob("token-health", 1800, "agency.networks.jobs:run_token_checks"),
    # Grace periods that ran out, trials over, holds to lift, quantities not yet synced.
    PeriodicJob("billing-check", 900, "billing.jobs:run_billing_checks"),
    PeriodicJob("metrics-collect", 3600, "agency.results.jobs:run_collection"),
    # The month just ended, e-mailed to the contacts who opted in (1st–7th, from 08:00).
    PeriodicJob("monthly-reports", 3600, "agency.results.jobs:run_monthly_reports"),
]

_NAME = re.compile(r"[a-z0-9-]+")


def job_id(job: PeriodicJob, now: float) -> str:
    """The run of ``job`` due at ``now`` (epoch seconds): the same within one interval.

    RQ accepts only letters, digits, "_" and "-" in job ids, hence "_" where a Redis
    key would use ":"."""
    if not _NAME.fullmatch(job.name):
        raise ValueError(f"periodic job name {job.name!r}: use a-z, 0-9 and '-'")
    return f"periodic_{job.name}_{int(now // job.interval)}"


def resolve(target: str) -> Callable:
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(module), function)


def enqueue_due(now: float, *, jobs: list[PeriodicJob] | None = None,
                queue: Queue | None = None) -> list[str]:
    """Enqueue the current run of every periodic job not yet enqueued by anyone.

    Returns the ids enqueued by this call; a second call in the same interval, from this
    process or another scheduler, enqueues nothing."""
    from agency.publishing.queues import queue as default_queue

    queue = queue or default_queue()
    prefix = current_app.config["REDIS_KEY_PREFIX"]
    enqueued = []
    for job in PERIODIC_JOBS if jobs is None else jobs:
        run_id = job_id(job, now)
        # The guard outlives its interval: a late tick from a scheduler whose clock lags
        # must not find it gone and enqueue the same run again. RQ's own uniqueness
        # (below) only lasts as long as the job's hash, which a finished job loses.
        if not queue.connection.set(f"{prefix}periodic:{run_id}", int(now), nx=True,
                                    ex=job.interval * 2):
            continue
        try:
            queue.enqueue(resolve(job.target), job_id=run_id, unique=True,
                          result_ttl=job.interval, description=f"periodic {job.name}")
        except DuplicateJobError:
            continue
        enqueued.append(run_id)
    return enqueued


def run_scheduler(app: Flask, stop_event: threading.Event, *, tick: float = TICK_SECONDS,
                  clock: Callable[[], float] = time.time, queue: Queue | None = None) -> None:
    """Enqueue due periodic jobs every ``tick`` seconds until ``stop_event`` is set.

    A Redis outage is logged and retried at the next tick; it never stops the loop."""
    with app.app_context():
        log.info("scheduler started: %s", ", ".join(
            f"{job.name} every {job.interval}s" for job in PERIODIC_JOBS))
        while not stop_event.is_set():
            try:
                for run_id in enqueue_due(clock(), queue=queue):
                    log.info("enqueued %s", run_id)
            except (redis.RedisError, OSError):
                log.warning("scheduler: Redis unavailable, retrying in %ss", tick,
                            exc_info=True)
            stop_event.wait(tick)
        log.info("scheduler stopped")


def enqueue_each(func: Callable, pairs, job_id: Callable[[object], str], *, ttl: int,
                 queue: Queue | None = None) -> int:
    """Enqueue ``func(agency_id, item_id)`` for each pair found by a scan, under
    ``job_id(item_id)`` (an id per item and time bucket): a scan repeated before the
    job ran adds nothing. Returns how many were enqueued."""
    from agency.publishing.queues import queue as default_queue

    queue = queue or default_queue()
    enqueued = 0
    for agency_id, item_id in pairs:
        try:
            queue.enqueue(func, str(agency_id), str(item_id), job_id=job_id(item_id),
                          unique=True, result_ttl=ttl)
        except DuplicateJobError:
            continue
        enqueued += 1
    return enqueued

"""Periodic jobs: deterministic run ids, enqueued once per interval whoever asks."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import redis
from rq import Queue

from agency.approvals import jobs
from agency.periodic import PERIODIC_JOBS, PeriodicJob, enqueue_due, job_id, run_scheduler

from .conftest import send_posts

REMINDERS = PERIODIC_JOBS[0]


@pytest.fixture
def queue(app, redis_url, key_prefix):
    """A queue of this test's own: no worker of another test can take its jobs. Every
    key this test creates (the queue, its jobs, the guards) is removed afterwards."""
    connection = redis.Redis.from_url(redis_url)
    q = Queue(f"test-periodic-{uuid.uuid4().hex}", connection=connection)
    yield q
    q.delete(delete_jobs=True)
    for key in connection.scan_iter(match=f"{key_prefix}periodic:*", count=500):
        connection.delete(key)


def _now() -> float:
    # A random interval far from today's, so parallel runs sharing a Redis never collide.
    return random.randrange(10**6, 10**7) * 300.0 + 17


def test_the_reminders_job_is_declared_as_data():
    assert REMINDERS == ("approval-reminders", 300, "agency.approvals.jobs:run_reminders")


def test_run_ids_are_deterministic_per_interval():
    now = _now()
    assert job_id(REMINDERS, now) == job_id(REMINDERS, now + 200)
    assert job_id(REMINDERS, now) != job_id(REMINDERS, now + 300)
    assert job_id(REMINDERS, now) == f"periodic_approval-reminders_{int(now // 300)}"
    with pytest.raises(ValueError):
        job_id(PeriodicJob("Bad name:1", 60, "x:y"), now)


def test_a_second_enqueue_in_the_same_interval_is_a_no_op(app, queue, redis_url):
    now = _now()
    with app.app_context():
        first = enqueue_due(now, jobs=[REMINDERS], queue=queue)
        again = enqueue_due(now + 250, jobs=[REMINDERS], queue=queue)
        # Another scheduler, with its own connection, in the same interval:
        other = Queue(queue.name, connection=redis.Redis.from_url(redis_url))
        elsewhere = enqueue_due(now + 10, jobs=[REMINDERS], queue=other)
        assert first == [job_id(REMINDERS, now)]
        assert again == [] and elsewhere == []
        assert queue.job_ids == first
        assert queue.fetch_job(first[0]).func_name == "agency.approvals.jobs.run_reminders"

        following = enqueue_due(now + 300, jobs=[REMINDERS], queue=queue)
        assert following == [job_id(REMINDERS, now + 300)]
        assert queue.job_ids == first + following


def test_the_scheduler_loop_enqueues_then_stops(app, queue):
    now = _now()

    class StopAfterOneTick:
        def __init__(self):
            self.stopped = False

        def is_set(self):
            return self.stopped

        def wait(self, timeout):
            self.stopped = True

    run_scheduler(app, StopAfterOneTick(), clock=lambda: now, queue=queue)
    assert sorted(queue.job_ids) == sorted(job_id(job, now) for job in PERIODIC_JOBS)


def test_run_reminders_enqueues_one_process_job_per_due_request(app, db, world, queue, mail):
    now = datetime.now(UTC)
    sent = send_posts(app, db, world, sent_at=now - timedelta(hours=49))

    assert jobs.run_reminders(queue=queue) == 1
    assert jobs.run_reminders(queue=queue) == 0  # same bucket: already enqueued
    [job] = queue.get_jobs()
    assert job.id == jobs.process_job_id(sent.request_id, now)
    assert job.args == (str(world.agency.id), str(sent.request_id))

    # What a worker would do, in this process so that it shares the test's transaction:
    assert job.func(*job.args) == f"request {sent.request_id}: reminded 1 contact(s)"
    assert [m.to for m in mail] == ["sophie@agence-alpha.test"]

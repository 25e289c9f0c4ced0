"""A real RQ worker, in its own process, runs jobs inside the application."""

import os
import subprocess
import sys

from rq import Queue
from rq.job import JobStatus

from agency.publishing.queues import QUEUE_NAMES


def test_the_worker_command_runs_a_job_in_the_app(app, redis_url, key_prefix):
    import redis

    connection = redis.Redis.from_url(redis_url)
    # The worker listens to the queues named under its REDIS_KEY_PREFIX, as given here.
    queue = Queue(key_prefix + QUEUE_NAMES[-1], connection=connection)
    job = queue.enqueue(
        "agency.publishing.queues.ping", job_id=f"test-ping-{os.getpid()}")
    env = {**os.environ, "REDIS_URL": redis_url, "REDIS_KEY_PREFIX": key_prefix}
    try:
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--burst"],
            env=env, check=True, timeout=60, capture_output=True,
        )
        job.refresh()
        assert job.get_status() == JobStatus.FINISHED
        assert job.return_value() == "agency"
    finally:
        job.delete()
        queue.delete(delete_jobs=True)  # and its entry in rq:queues: leave Redis as found

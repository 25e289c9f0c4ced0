"""RQ wiring in one place: the queues, and the worker that runs jobs inside the app."""

from __future__ import annotations

from flask import Flask
from rq import Queue, SimpleWorker, Worker

from agency.redis_conn import get_redis

PUBLISH_QUEUE = "publish"
# Publishing first: a due post must not wait behind reminders or reports.
QUEUE_NAMES = (PUBLISH_QUEUE, "default")


def queue(name: str = "default") -> Queue:
    """A queue, named under ``REDIS_KEY_PREFIX`` so that two installations (or a test
    run) sharing one Redis never take each other's jobs."""
    from flask import current_app

    return Queue(current_app.config["REDIS_KEY_PREFIX"] + name, connection=get_redis())


class AppWorker(Worker):
    """A forking RQ worker whose jobs run inside a Flask application context.

    Mappers are configured (and the network adapters imported) before the fork, so
    children do not redo that work.
    """

    app: Flask

    def perform_job(self, job, queue, *args, **kwargs):  # RQ 3 adds an execution argument
        with self.app.app_context():
            return super().perform_job(job, queue, *args, **kwargs)


class AppSimpleWorker(SimpleWorker):
    """Jobs run in the worker process itself: one connection pool per process, kept
    across jobs (a fork per job would open fresh database connections every time)."""

    app: Flask

    def perform_job(self, job, queue, *args, **kwargs):  # RQ 3 adds an execution argument
        with self.app.app_context():
            return super().perform_job(job, queue, *args, **kwargs)


def run_worker(app: Flask, burst: bool = False, fork: bool = False,
               queues: tuple[str, ...] = QUEUE_NAMES) -> None:
    from sqlalchemy.orm import configure_mappers

    from agency.networks.registry import can_publish

    configure_mappers()
    can_publish("sandbox")  # imports every adapter now, not in the first job's time
    cls = AppWorker if fork else AppSimpleWorker
    cls.app = app
    with app.app_context():
        worker = cls([queue(name) for name in queues], connection=get_redis())
    worker.work(burst=burst, with_scheduler=False)


def ping() -> str:
    """A no-op job that proves a worker runs jobs inside the application."""
    from flask import current_app

    return current_app.name

"""RQ wiring in one place: the queues, and the worker that runs jobs inside the app."""

from __future__ import annotations

from flask import Flask
from rq import Queue, SimpleWorker, Worker

from agency.redis_conn import get_redis

QUEUE_NAMES = ("default",)


def queue(name: str = "default") -> Queue:
    return Queue(name, connection=get_redis())


class AppWorker(Worker):
    """A forking RQ worker whose jobs run inside a Flask application context.

    Mappers are configured before the fork, so children do not redo that work.
    """

    app: Flask

    def perform_job(self, job, queue, *args, **kwargs):  # RQ 3 adds an execution argument
        with self.app.app_context():
            return super().perform_job(job, queue, *args, **kwargs)


class AppSimpleWorker(SimpleWorker):
    """The same without forking (platforms without fork, and tests)."""

    app: Flask

    def perform_job(self, job, queue, *args, **kwargs):  # RQ 3 adds an execution argument
        with self.app.app_context():
            return super().perform_job(job, queue, *args, **kwargs)


def run_worker(app: Flask, burst: bool = False, simple: bool = False) -> None:
    from sqlalchemy.orm import configure_mappers

    configure_mappers()
    cls = AppSimpleWorker if simple else AppWorker
    cls.app = app
    with app.app_context():
        connection = get_redis()
        queues = [Queue(name, connection=connection) for name in QUEUE_NAMES]
        worker = cls(queues, connection=connection)
    worker.work(burst=burst, with_scheduler=False)


def ping() -> str:
    """A no-op job that proves a worker runs jobs inside the application."""
    from flask import current_app

    return current_app.name

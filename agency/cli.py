"""flask commands: agency create, seed-demo, dev, worker, scheduler, approvals remind,
db-check-role."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from .extensions import db


def init_app(app: Flask) -> None:
    app.cli.add_command(agency_group)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(dev_command)
    app.cli.add_command(worker_command)
    app.cli.add_command(dispatcher_command)
    app.cli.add_command(check_role_command)
    _add_periodic_commands(app)


@click.group("agency")
def agency_group():
    """Manage agencies."""


@agency_group.command("create")
@click.option("--name", required=True, help="The agency's name.")
@click.option("--owner-email", required=True)
@click.option("--password", required=True, help="At least 12 characters, not a common one.")
@click.option("--owner-name", default="", help="Defaults to the part of the e-mail before @.")
@with_appcontext
def create_agency_command(name: str, owner_email: str, password: str, owner_name: str):
    """Create an agency and its owner; print one JSON object with an API token."""
    from .auth.services import ServiceError, create_agency, create_api_token

    try:
        created = create_agency(name, owner_email, owner_name, password)
        _, raw = create_api_token(created.membership, "CLI")
    except ServiceError as error:
        db.session.rollback()
        click.echo(json.dumps({"error": error.message, "field": error.field}), err=True)
        sys.exit(2)
    db.session.commit()
    click.echo(json.dumps({
        "agency_id": str(created.agency.id),
        "user_id": str(created.user.id),
        "membership_id": str(created.membership.id),
        "api_token": raw,
    }))


@click.command("seed-demo")
@with_appcontext
def seed_demo_command():
    """Create (or complete) the demo agency. Safe to run again."""
    from .demo import DEMO_PASSWORD, seed_demo

    logins = seed_demo()
    db.session.commit()
    click.echo(f"Demo agency ready. Sign in with any of these (password: {DEMO_PASSWORD}):")
    for role, email in logins:
        click.echo(f"  {role:<8} {email}")


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--fork", is_flag=True, help="Run each job in a forked child (RQ's default).")
@with_appcontext
def worker_command(burst: bool, fork: bool):
    """Run an RQ worker with the application context (publishing first, then the rest)."""
    from .embedded import ensure_embedded_redis
    from .publishing.queues import run_worker

    if current_app.config["EMBEDDED_REDIS"]:
        ensure_embedded_redis(current_app.instance_path)
    run_worker(current_app._get_current_object(), burst=burst, fork=fork)


@click.command("dispatcher")
@with_appcontext
def dispatcher_command():
    """Hand due publications to the workers, every second. Safe to run several."""
    from .publishing.dispatch import run_dispatcher

    _run_loop(run_dispatcher)


def _run_loop(loop) -> None:
    """Run ``loop(app, stop_event)`` until SIGTERM or Ctrl-C sets the event, with what it
    needs: the embedded Redis (if that is the default) and visible logs."""
    import logging
    import threading

    from .embedded import ensure_embedded_redis

    if current_app.config["EMBEDDED_REDIS"]:
        ensure_embedded_redis(current_app.instance_path)
    # What it does is worth seeing in the terminal (no-op if logging is configured).
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()

    def _stop(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    loop(current_app._get_current_object(), stop)


@click.command("db-check-role")
@with_appcontext
def check_role_command():
    """Fail if the app's database role could bypass row-level security."""
    from tenants.rls import role_problems

    with db.engine.connect() as conn:
        problems = role_problems(conn)
    for problem in problems:
        click.echo(f"unsafe: {problem}", err=True)
    sys.exit(1 if problems else 0)


@click.command("dev")
@click.option("--port", default=5000)
@click.option("--host", default="127.0.0.1")
@with_appcontext
def dev_command(port: int, host: str):
    """Everything for local work: migrate, seed the demo, serve, run the worker.

    Ctrl-C stops everything this command started.
    """
    from flask_migrate import upgrade

    from .demo import DEMO_PASSWORD, seed_demo
    from .embedded import ensure_embedded_redis, stop_embedded_redis

    app = current_app._get_current_object()
    embedded = app.config["EMBEDDED_REDIS"]
    if embedded:
        ensure_embedded_redis(app.instance_path)
    upgrade()
    logins = seed_demo()
    db.session.commit()
    db.engine.dispose()  # the children open their own connections

    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    children = [
        subprocess.Popen([*flask, "run", "--host", host, "--port", str(port)]),  # noqa: S603
        subprocess.Popen([*flask, "worker"]),  # noqa: S603
        subprocess.Popen([*flask, "dispatcher"]),  # noqa: S603
        subprocess.Popen([*flask, "scheduler"]),  # noqa: S603
    ]
    click.echo("")
    click.echo(f"Relais is running at http://{host}:{port}  (Ctrl-C stops it)")
    click.echo(f"Demo logins (password: {DEMO_PASSWORD}):")
    for role, email in logins:
        click.echo(f"  {role:<8} {email}")
    click.echo("")

    def _stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)  # `kill` stops it as cleanly as Ctrl-C
    signal.signal(signal.SIGINT, _stop)  # even when started where SIGINT was ignored
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        if embedded:
            stop_embedded_redis(app.instance_path)
    code = max((child.returncode or 0) for child in children)
    sys.exit(0 if code in (0, -signal.SIGTERM, -signal.SIGINT) else code)


# --- periodic work: the scheduler, and approval reminders run by hand -------------------------

def _add_periodic_commands(app: Flask) -> None:
    app.cli.add_command(scheduler_command)
    app.cli.add_command(approvals_group)


@click.command("scheduler")
@with_appcontext
def scheduler_command():
    """Enqueue periodic jobs (reminders...) for the workers. Safe to run several."""
    from .periodic import run_scheduler

    _run_loop(run_scheduler)


@click.group("approvals")
def approvals_group():
    """Approval requests."""


@approvals_group.command("remind")
@click.option("--now", "now_text", default=None, metavar="ISO-8601",
              help="Act as if it were this moment (UTC unless it says otherwise).")
@with_appcontext
def approvals_remind_command(now_text: str | None):
    """Send due reminders and escalations and handle deadlines, once, in this process."""
    from datetime import UTC, datetime

    from .approvals.reminders import due_requests, process_request

    now = datetime.now(UTC)
    if now_text:
        try:
            now = datetime.fromisoformat(now_text)
        except ValueError:
            raise click.BadParameter("not an ISO-8601 moment", param_hint="--now") from None
        now = now if now.tzinfo else now.replace(tzinfo=UTC)
    due = due_requests(now)
    db.session.rollback()  # the scan only read; each request then has its own transaction
    failed = 0
    for agency_id, request_id in due:
        try:
            outcome = process_request(agency_id, request_id, now)
        except Exception as error:  # one broken request must not stop the others
            failed += 1
            click.echo(f"agency {agency_id} request {request_id}: failed: {error}", err=True)
            continue
        click.echo(f"agency {agency_id} {outcome.describe()}")
    click.echo(f"{len(due)} due request(s), {failed} failed")
    sys.exit(1 if failed else 0)

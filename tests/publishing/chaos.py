"""Helpers of the publishing chaos test (test_chaos.py): a committed agency whose posts go
to Mastodon accounts on the loopback fake, the publishing processes as real subprocesses
that can be SIGKILLed and restarted, and the removal of everything they wrote.

Unlike the rest of the suite, nothing here runs inside the test's rolled-back
transaction: the workers and the dispatcher are other processes, so the data is committed
for them to see, and removed afterwards (rows as the owner role, Redis keys under the
fleet's own prefix, RQ's keys of its own queues, jobs and workers).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any

import redis
from sqlalchemy import create_engine, select, text

from agency.config import normalise_database_url
from agency.extensions import db
from agency.publishing.models import Publication, PublicationState
from tenants.context import tenant_scope

ROOT = Path(__file__).resolve().parents[2]
FLASK = (sys.executable, "-m", "flask", "--app", "wsgi")
LISTENING = "Listening on"  # RQ's line once a worker waits for jobs
WORKER = (*FLASK, "worker")
DISPATCHER = (*FLASK, "dispatcher")
P = PublicationState


def crashing(role: str, point: str) -> tuple[str, ...]:
    """The command of a worker or dispatcher that SIGKILLs itself at ``point``
    (tests/publishing/crashing.py)."""
    return (sys.executable, "-m", "tests.publishing.crashing", role, point)


# --- settings of the processes -------------------------------------------------------------

@dataclass(frozen=True)
class Timings:
    """The engine's clocks, shrunk so that a crash is noticed and settled in seconds."""

    lease: float = 6
    requeue: float = 8
    reconcile_delay: float = 2
    backoff_base: float = 1
    backoff_cap: float = 5
    network_timeout: float = 1
    dispatch_interval: float = 0.2

    def env(self) -> dict[str, str]:
        return {
            "PUBLISH_LEASE_SECONDS": str(self.lease),
            "PUBLISH_REQUEUE_SECONDS": str(self.requeue),
            "PUBLISH_RECONCILE_DELAY_SECONDS": str(self.reconcile_delay),
            "PUBLISH_BACKOFF_BASE_SECONDS": str(self.backoff_base),
            "PUBLISH_BACKOFF_CAP_SECONDS": str(self.backoff_cap),
            "NETWORK_TIMEOUT_SECONDS": str(self.network_timeout),
            "DISPATCH_INTERVAL_SECONDS": str(self.dispatch_interval),
        }


def process_env(app, redis_url: str, prefix: str, timings: Timings) -> dict[str, str]:
    """What the subprocesses run with: the test's database and Redis (SQLite file or
    PostgreSQL; embedded or real Redis), their own key prefix, and the short clocks."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(timings.env())
    env.update({
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "MIGRATION_DATABASE_URL": app.config["MIGRATION_DATABASE_URL"],
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": prefix,
        "SECRET_KEY": app.config["SECRET_KEY"],  # the credentials were sealed with it
        "TOKEN_ENCRYPTION_KEY": app.config.get("TOKEN_ENCRYPTION_KEY") or "",
        "PYTHONUNBUFFERED": "1",
    })
    return env


# --- the data --------------------------------------------------------------------------------

@dataclass
class ChaosWorld:
    """A committed agency, its client (no approval needed) and Mastodon accounts on the
    fake; ``texts`` maps each approved post to its (unique) text."""

    agency_id: uuid.UUID
    user_id: uuid.UUID
    client_id: uuid.UUID
    account_ids: list[uuid.UUID] = field(default_factory=list)
    fake_accounts: dict[uuid.UUID, str] = field(default_factory=dict)  # ours → the fake's
    texts: dict[uuid.UUID, str] = field(default_factory=dict)

    @classmethod
    def create(cls, app) -> ChaosWorld:
        from agency.auth.services import create_agency
        from agency.clients.services import create_client

        suffix = uuid.uuid4().hex[:8]
        with app.app_context(), app.test_request_context():
            created = create_agency(f"Agence Chaos {suffix}", f"owner-{suffix}@chaos.test",
                                    "Camille", "un mot de passe solide")
            agency_id, user_id = created.agency.id, created.user.id
            db.session.commit()
            try:
                with tenant_scope(agency_id, user_id):
                    client = create_client({"name": f"Boulangerie Chaos {suffix}"})
                    client.approval_policy = "none"  # approved at once: published when due
                    client_id = client.id
                    db.session.commit()
            finally:
                db.session.remove()
        return cls(agency_id, user_id, client_id)

    def add_mastodon_accounts(self, app, fake, count: int) -> None:
        from agency.networks.credentials import seal
        from agency.networks.models import AccountStatus, SocialAccount

        with app.app_context(), app.test_request_context(), tenant_scope(self.agency_id):
            try:
                for n in range(len(self.account_ids), len(self.account_ids) + count):
                    username = f"chaos{n}"
                    token = fake.add_account(username, f"Boulangerie {n}")
                    fake_id = next(a.id for a in fake.accounts.values()
                                   if a.username == username)
                    account = SocialAccount(
                        client_id=self.client_id, network="mastodon",
                        display_name=f"Boulangerie {n}", handle=f"@{username}@fake.social",
                        status=AccountStatus.CONNECTED, credentials=seal({"access_token": token}),
                        settings={"instance_url": fake.url, "account_id": fake_id,
                                  "acct": username, "username": username,
                                  "domain": "fake.social", "max_characters": 500,
                                  "visibility": "public", "connected_via": "token"})
                    db.session.add(account)
                    db.session.flush()
                    self.account_ids.append(account.id)
                    self.fake_accounts[account.id] = fake_id
                db.session.commit()
            finally:
                db.session.remove()

    def add_posts(self, app, due: list[datetime], *, label: str = "") -> None:
        """One approved post per due time, each on one account (round robin), each with
        its own text: the fake must show every one exactly once."""
        from agency.clients.models import Client
        from agency.content.services import create_post, submit_post

        assert self.account_ids, "add accounts first"
        label = label or uuid.uuid4().hex[:6]
        with app.app_context(), app.test_request_context(), tenant_scope(
                self.agency_id, self.user_id):
            try:
                client = db.session.scalars(select(Client).where(
                    Client.id == self.client_id)).one()
                now = datetime.now(UTC)
                for n, when in enumerate(due):
                    account_id = self.account_ids[n % len(self.account_ids)]
                    words = f"Fournée {label} n°{n + 1} : croissants et pains aux raisins."
                    post = create_post(client, {"text": words, "target_ids": [account_id],
                                                "scheduled_at": when},
                                       self.user_id, now=min(now, when - timedelta(hours=1)))
                    submit_post(post, client)
                    self.texts[post.id] = words
                    if n % 50 == 49:
                        db.session.commit()
                db.session.commit()
            finally:
                db.session.remove()

    def publications(self, app) -> list[Publication]:
        """Every publication of the agency as committed now (detached copies)."""
        with app.app_context(), tenant_scope(self.agency_id):
            try:
                rows = list(db.session.scalars(
                    select(Publication).order_by(Publication.due_at, Publication.id)
                    .execution_options(populate_existing=True)))
                for row in rows:
                    db.session.expunge(row)
                return rows
            finally:
                db.session.remove()

    def remove(self, app) -> None:
        remove_agency(app, self.agency_id, [self.user_id])


def remove_agency(app, agency_id: uuid.UUID, user_ids: list[uuid.UUID]) -> None:
    """Delete every row of the agency, children first, as the owner role (the app role may
    not delete audit rows), then its users. Every table with an ``agency_id`` is covered,
    so rows the engine or a network wrote are not forgotten."""
    import agency.models  # noqa: F401  (every table in the metadata)
    from agency.auth.models import User, UserSession
    from tenants.models import Agency

    engine = create_engine(normalise_database_url(app.config["MIGRATION_DATABASE_URL"]))
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT set_config('app.agency_id', :a, true)"),
                             {"a": str(agency_id)})
            for table in reversed(db.metadata.sorted_tables):
                if "agency_id" in table.c and table.name != Agency.__tablename__:
                    conn.execute(table.delete().where(table.c.agency_id == agency_id))
            conn.execute(Agency.__table__.delete().where(Agency.__table__.c.id == agency_id))
            for user_id in user_ids:
                conn.execute(UserSession.__table__.delete()
                             .where(UserSession.__table__.c.user_id == user_id))
                conn.execute(User.__table__.delete().where(User.__table__.c.id == user_id))
    finally:
        engine.dispose()


# --- the processes ---------------------------------------------------------------------------

class Fleet:
    """Named subprocesses (workers, dispatchers) that can be killed and started again.
    Each run of each one writes its output to its own log file under ``log_dir``.

    A process is *ready* once its log shows ``ready_line`` (RQ's "Listening on" for a
    worker); one that prints nothing when it starts (the dispatcher) is taken as ready
    once it has been up as long as the slowest start seen so far."""

    def __init__(self, env: dict[str, str], log_dir: Path):
        self.env = env
        self.log_dir = log_dir
        self.commands: dict[str, tuple[str, ...]] = {}
        self.ready_lines: dict[str, str | None] = {}
        self.processes: dict[str, subprocess.Popen] = {}
        self.runs: Counter[str] = Counter()
        self.kills: list[tuple[float, str]] = []
        self._started: dict[str, float] = {}
        self._ready: dict[str, float] = {}
        self._slowest_start = 3.0
        self._lock = threading.RLock()
        self._closed = False

    def add(self, name: str, command: tuple[str, ...], ready_line: str | None = None) -> None:
        self.commands[name] = command
        self.ready_lines[name] = ready_line
        self.start(name)

    def start(self, name: str) -> None:
        with self._lock:
            if self._closed:
                return
            assert name not in self.processes or self.processes[name].poll() is not None
            run = self.runs[name]
            self.runs[name] += 1
            with open(self._log(name, run), "wb") as log:
                self.processes[name] = subprocess.Popen(  # noqa: S603 (our own commands)
                    self.commands[name], cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL,
                    stdout=log, stderr=subprocess.STDOUT)
            self._started[name] = time.monotonic()
            self._ready.pop(name, None)

    def _log(self, name: str, run: int) -> Path:
        return self.log_dir / f"{name}.{run}.log"

    def ready_for(self, name: str) -> float:
        """For how many seconds the current run of ``name`` has been ready (-1: not)."""
        with self._lock:
            if not self.alive(name):
                return -1.0
            now = time.monotonic()
            if name not in self._ready:
                line = self.ready_lines[name]
                if line is None:
                    if now - self._started[name] >= self._slowest_start:
                        self._ready[name] = self._started[name] + self._slowest_start
                elif line in self._log(name, self.runs[name] - 1).read_text(errors="replace"):
                    self._ready[name] = now
                    self._slowest_start = max(self._slowest_start, now - self._started[name])
            return now - self._ready[name] if name in self._ready else -1.0

    def wait_ready(self, timeout: float) -> bool:
        return bool(wait_until(lambda: all(self.ready_for(n) >= 0 for n in self.commands),
                               timeout))

    def kill(self, name: str) -> None:
        """SIGKILL: no clean-up, no goodbye, exactly like a machine losing power."""
        with self._lock:
            process = self.processes[name]
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                self.kills.append((time.monotonic(), name))
            process.wait(timeout=30)

    def alive(self, name: str) -> bool:
        with self._lock:
            return name in self.processes and self.processes[name].poll() is None

    def wait_exit(self, name: str, timeout: float) -> int | None:
        try:
            return self.processes[name].wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop_all(self) -> None:
        """Kill every process this fleet started; no more are started afterwards."""
        with self._lock:
            self._closed = True
            processes = list(self.processes.values())
        for process in processes:
            if process.poll() is None:
                process.kill()
        for process in processes:
            process.wait(timeout=30)

    def logs(self) -> dict[str, str]:
        return {path.name: path.read_text(errors="replace")
                for path in sorted(self.log_dir.glob("*.log"))}

    def tracebacks(self) -> dict[str, list[str]]:
        """The exception that ended each traceback the runs printed, by log file (of a
        chain, "During handling of the above exception...", only the last one)."""
        found: dict[str, list[str]] = {}
        for name, log in self.logs().items():
            lines = log.splitlines()
            for n, line in enumerate(lines):
                if not line.startswith("Traceback (most recent call last)"):
                    continue
                end = next((m for m in range(n + 1, len(lines))
                            if lines[m] and not lines[m].startswith((" ", "Traceback"))), None)
                if end is None:
                    continue
                after = lines[end + 1:]
                upto = next((m for m, x in enumerate(after) if x.startswith("Traceback")),
                            len(after))
                if any(x.startswith(("During handling of the above exception",
                                     "The above exception was the direct cause"))
                       for x in after[:upto]):
                    continue
                found.setdefault(name, []).append(lines[end])
        return found


class Chaos(threading.Thread):
    """Every few seconds, SIGKILL one of the fleet's processes (each in turn, in a random
    order) and start it again a moment later. A process is only killed once it has been
    ready for ``min_up`` seconds, so that it did some work (and, on a slow machine, the
    chaos does not merely kill processes that are still starting). Always restarts what
    it killed."""

    def __init__(self, fleet: Fleet, rng: Random, *, every: tuple[float, float] = (1.5, 3.5),
                 down: tuple[float, float] = (0.1, 1.0), min_up: float = 1.5):
        super().__init__(name="chaos", daemon=True)
        self.fleet, self.rng, self.every, self.down = fleet, rng, every, down
        self.min_up = min_up
        self.halt = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        victims: list[str] = []
        try:
            while not self.halt.wait(self.rng.uniform(*self.every)):
                if not victims:
                    victims = sorted(self.fleet.commands)
                    self.rng.shuffle(victims)
                victim = None
                while victim is None and not self.halt.is_set():
                    victim = next((v for v in victims
                                   if self.fleet.ready_for(v) >= self.min_up), None)
                    if victim is None:
                        self.halt.wait(0.1)
                if victim is None:
                    break
                victims.remove(victim)
                self.fleet.kill(victim)
                time.sleep(self.rng.uniform(*self.down))
                self.fleet.start(victim)
        except BaseException as error:  # surfaced by the test, not lost in a thread
            self.error = error

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=60)


# --- Redis -----------------------------------------------------------------------------------

_JOB = re.compile(r"(?:publish|reconcile)-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-"
                  r"[0-9a-f]{4}-[0-9a-f]{12})")


def drop_redis_state(redis_url: str, prefix: str, queue_names: tuple[str, ...],
                     publication_ids: set[uuid.UUID]) -> int:
    """Remove what the fleet left in Redis and nothing else: keys under its prefix
    (budgets, pauses, outbox), RQ's keys of its queues (they are named under the prefix),
    of its workers (registered on those queues) and of its jobs (named after our
    publications, or groups of them taken from our queues). RQ's global
    ``rq:clean_groups`` lock, which any worker sets, expires by itself. Returns how many
    keys went."""
    r = redis.Redis.from_url(redis_url)
    queues = [prefix + name for name in queue_names]
    doomed: set[bytes] = set()
    for name in queues:
        for worker_key in r.smembers(f"rq:workers:{name}"):
            doomed.add(worker_key)
            doomed.update(r.scan_iter(match=_glob_escape(worker_key.decode()) + ":*"))
            r.srem("rq:workers", worker_key)
        r.srem("rq:queues", f"rq:queue:{name}")
    ours = {str(p) for p in publication_ids}
    # A job named after a group (publish-batch-<digest>) names no publication: it is
    # ours when its origin is one of our queues.
    groups = {key.decode().removeprefix("rq:job:")
              for key in r.scan_iter(match="rq:job:publish-batch-*", count=1000)
              if (r.hget(key, "origin") or b"").decode() in queues}
    for key in r.scan_iter(match="rq:*", count=1000):
        decoded = key.decode(errors="replace")
        match = _JOB.search(decoded)
        if ((match and match.group(1) in ours) or prefix in decoded
                or any(group in decoded for group in groups)):
            doomed.add(key)
    doomed.update(r.scan_iter(match=_glob_escape(prefix) + "*", count=1000))
    for key in doomed:
        r.delete(key)
    r.close()
    return len(doomed)


def _glob_escape(value: str) -> str:
    return re.sub(r"([\[\]*?\\])", r"\\\1", value)


# --- waiting -----------------------------------------------------------------------------

def wait_until(check: Callable[[], Any], timeout: float, interval: float = 0.25) -> Any:
    """``check()``'s first truthy answer within ``timeout`` seconds, else its last one."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if answer or time.monotonic() >= deadline:
            return answer
        time.sleep(interval)


def states(publications: list[Publication]) -> Counter[str]:
    return Counter(str(p.state.value if hasattr(p.state, "value") else p.state)
                   for p in publications)


def settled(publications: list[Publication]) -> bool:
    from agency.publishing.models import TERMINAL

    return bool(publications) and all(p.state in TERMINAL for p in publications)


def job_outcomes(redis_url: str, publication_ids: set[uuid.UUID]) -> Counter[str]:
    """What the jobs of these publications returned ("publish:published",
    "reconcile:later"..., "publish:<failed>" for a job that raised or that RQ found
    abandoned by a killed worker), from RQ's results (the latest ten of each job id): how the
    engine got there, for a person reading a failure."""
    from rq.job import Job
    from rq.results import Result

    r = redis.Redis.from_url(redis_url)
    outcomes: Counter[str] = Counter()
    try:
        for publication_id in publication_ids:
            for kind in ("publish", "reconcile"):
                job = Job(f"{kind}-{publication_id}", connection=r)
                for result in Result.all(job):
                    what = (result.return_value if result.type == Result.Type.SUCCESSFUL
                            else f"<{result.type.name.lower()}>")  # raised, or abandoned
                    outcomes[f"{kind}:{what}"] += 1
    finally:
        r.close()
    return outcomes


def fake_calls(fake) -> Counter[str]:
    """The fake's requests by kind (statuses posted, account timelines and sources read
    by reconciliation...)."""
    kinds: Counter[str] = Counter()
    for request in fake.requests:
        path = re.sub(r"/\d+", "/:id", request["path"])
        kinds[f"{request['method']} {path}"] += 1
    return kinds

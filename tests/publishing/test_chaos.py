"""The publishing engine under chaos, with real processes: every post reaches the network
exactly once, whatever dies when.

A fake Mastodon instance (loopback, in a thread of this process) fails 2% of calls with
a 503, answers 1% with a 429, and for 1% stores the status and answers too late for the
client. Approved posts fall due within a window; two workers and a dispatcher run as
subprocesses (``flask --app wsgi worker|dispatcher``) on this test run's database and
Redis, and one of them is SIGKILLed every few seconds and started again. Afterwards every
publication must be settled, published, and on the fake exactly once.

In the normal suite it runs small (60 posts due within 20 s: about 30 s);
``RELAIS_CHAOS_FULL=1`` runs the full size (300 posts due within a minute: 2-3 minutes).
``RELAIS_CHAOS_SEED`` replays the fake's and the chaos's dice (the processes' timing
cannot be replayed). The processes' output is kept under the test's tmp_path.

The crash points of test_engine.py are also run here with processes, SIGKILLed exactly
there (tests/publishing/crashing.py): the dispatcher right after its claim committed, a
worker right after taking the job, after ``sending`` is committed, and after the network
answered but before that answer is committed (about 6 s each).
"""

from __future__ import annotations

import os
import random
import signal
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from agency.extensions import db
from agency.publishing.models import Publication, PublicationState
from agency.publishing.queues import QUEUE_NAMES
from tenants.context import tenant_scope
from tests.fakes.mastodon import FakeMastodon

from .chaos import (
    DISPATCHER,
    LISTENING,
    WORKER,
    Chaos,
    ChaosWorld,
    Fleet,
    Timings,
    crashing,
    drop_redis_state,
    fake_calls,
    job_outcomes,
    process_env,
    settled,
    states,
    wait_until,
)

P = PublicationState
SEED = int(os.environ.get("RELAIS_CHAOS_SEED") or random.randrange(2**31))
STATUSES = "/api/v1/statuses"


@dataclass(frozen=True)
class Size:
    posts: int
    window: float  # the posts fall due evenly within it, and the chaos lasts as long
    accounts: int
    settle: float  # how long everything may take to settle once the chaos stops


SMALL = Size(posts=60, window=20, accounts=4, settle=60)
FULL = Size(posts=300, window=60, accounts=6, settle=180)


def unexpected_errors(app, fleet: Fleet) -> dict[str, list[str]]:
    """The exceptions the processes logged (none is expected, on either backend: SQLite
    transactions begin IMMEDIATE, so a busy database makes them wait, not fail)."""
    return {log: errors for log, errors in fleet.tracebacks().items() if errors}


@pytest.fixture
def world(app):
    world = ChaosWorld.create(app)
    try:
        yield world
    finally:
        world.remove(app)


@pytest.fixture
def fake():
    with FakeMastodon(seed=SEED, hang_seconds=2.5) as fake:
        yield fake


@pytest.fixture
def fleet(app, redis_url, key_prefix, world, fake, tmp_path):
    """Makes the test's fleet of processes; kills them all afterwards, whatever happened,
    then removes their Redis keys (before ``world`` removes the rows)."""
    prefix = f"{key_prefix}chaos-{uuid.uuid4().hex[:6]}:"
    made: list[Fleet] = []

    def make(timings: Timings) -> Fleet:
        fleet = Fleet(process_env(app, redis_url, prefix, timings), tmp_path)
        made.append(fleet)
        return fleet

    try:
        yield make
    finally:
        for fleet in made:
            fleet.stop_all()
        drop_redis_state(redis_url, prefix, QUEUE_NAMES,
                         {p.id for p in world.publications(app)})


def explain(publications: list[Publication], fleet: Fleet, fake: FakeMastodon,
            log_dir, redis_url: str, *, took: float | None = None) -> str:
    """What a person needs to understand a failure: the dice, the kills, the states, what
    the jobs returned, what the fake was asked, the publications that went wrong, the
    tracebacks, where the logs are."""
    outcomes = job_outcomes(redis_url, {p.id for p in publications})
    lines = [f"seed={SEED} (RELAIS_CHAOS_SEED replays the dice); logs in {log_dir}",
             f"{took:.1f}s from the end of the chaos to the last look" if took is not None else "",
             f"states: {dict(states(publications))}",
             f"kills: {dict(Counter(name for _, name in fleet.kills))}",
             f"jobs (latest 10 results per job id): {dict(sorted(outcomes.items()))}",
             f"fake: {len(fake.posts)} statuses; calls {dict(fake_calls(fake).most_common())}"]
    for p in publications:
        if p.state != P.PUBLISHED or fake.statuses_with_key(p.idempotency_key) != 1:
            on_fake = fake.statuses_with_key(p.idempotency_key)
            lines.append(f"  {p.id} {p.state} attempts={p.attempts} dispatches={p.dispatches}"
                         f" code={p.error_code!r} on_fake={on_fake}"
                         f" error={p.last_error[:160]!r}")
    for log, errors in fleet.tracebacks().items():
        lines.append(f"  {log}: {Counter(e[:120] for e in errors).most_common()}")
    return "\n".join(line for line in lines if line)


def assert_exactly_once(world: ChaosWorld, publications: list[Publication],
                        fake: FakeMastodon, why: str) -> None:
    """Every publication published, each on the fake once, under its idempotency key,
    with the right text on the right account, and the fake holds nothing else."""
    assert all(p.state == P.PUBLISHED for p in publications), why
    statuses = {s["id"]: s for s in fake.posts}
    assert len(statuses) == len(publications), why
    texts = Counter((s["account_id"], s["text"]) for s in statuses.values())
    assert max(texts.values()) == 1, f"the same text twice on an account\n{why}"
    for p in publications:
        assert fake.statuses_with_key(p.idempotency_key) == 1, why
        status = statuses.get(p.external_id)
        assert status is not None, f"{p.id}: {p.external_id} is not on the fake\n{why}"
        assert status["idempotency_key"] == p.idempotency_key, why
        assert status["text"] == world.texts[p.post_id], why
        assert status["account_id"] == world.fake_accounts[p.social_account_id], why
        assert p.external_url.endswith("/" + p.external_id), why


def test_every_post_goes_out_exactly_once_while_processes_are_killed(
        app, redis_url, world, fake, fleet, tmp_path):
    size = FULL if os.environ.get("RELAIS_CHAOS_FULL") else SMALL
    fake.p_5xx, fake.p_429, fake.p_store_then_hang = 0.02, 0.01, 0.01
    # However the dice fall on a small run, each failure happens a few times.
    fake.fail_next(503, count=2, path=STATUSES)
    fake.fail_next(429, count=2, path=STATUSES)
    fake.hang_next(2)
    world.add_mastodon_accounts(app, fake, size.accounts)
    start = datetime.now(UTC) + timedelta(seconds=3 + size.posts * 0.03)  # once all written
    world.add_posts(app, [start + timedelta(seconds=size.window * n / size.posts)
                          for n in range(size.posts)])
    assert states(world.publications(app)) == {"scheduled": size.posts}

    processes = fleet(Timings(lease=6, requeue=8, reconcile_delay=2, backoff_base=1,
                              backoff_cap=5, network_timeout=1, dispatch_interval=0.2))
    processes.add("worker-1", WORKER, LISTENING)
    processes.add("worker-2", WORKER, LISTENING)
    processes.add("dispatcher", DISPATCHER)
    assert processes.wait_ready(60), processes.logs()
    # The chaos lasts the window (from now: on a slow machine the posts due while the
    # processes were starting wait for them, as after a deploy).
    chaos = Chaos(processes, random.Random(SEED))
    chaos.start()
    try:
        time.sleep(size.window + 1)
    finally:
        chaos.stop()
    assert chaos.error is None, f"the chaos thread failed: {chaos.error!r}"

    calm = time.monotonic()
    publications = world.publications(app)
    while not settled(publications) and time.monotonic() < calm + size.settle:
        time.sleep(0.5)
        publications = world.publications(app)
    why = explain(publications, processes, fake, tmp_path, redis_url,
                  took=time.monotonic() - calm)
    print(why)  # shown with -s or -rA: how it went, even when it passed
    assert settled(publications), f"not settled after {size.settle}s\n{why}"
    assert_exactly_once(world, publications, fake, why)

    # The chaos really happened: every process was killed, the refused posts were sent
    # again, the unanswered ones were settled by reconciliation.
    assert {name for _, name in processes.kills} == {"worker-1", "worker-2", "dispatcher"}, why
    assert len(fake.requests_to("POST", STATUSES)) >= size.posts + 4, why
    # Reconciliation settles an unknown either way: found out (or resent with the same
    # key), or not there and sent again. How many the dice leave unknown varies with
    # the seed and with how fast the workers settle what went out (seen: 1 to 4).
    outcomes = job_outcomes(redis_url, {p.id for p in publications})
    assert outcomes["reconcile:published"] + outcomes["reconcile:retrying"] >= 1, why
    # Nothing went wrong that the engine did not expect (a crash leaves no traceback).
    assert unexpected_errors(app, processes) == {}, why


@pytest.mark.parametrize(("role", "point"), [
    ("dispatcher", "after_claim"),
    ("worker", "after_claim"),
    ("worker", "after_sending_committed"),
    ("worker", "after_network_answered"),
])
def test_a_process_killed_at_a_crash_point_publishes_once(
        app, redis_url, world, fake, fleet, tmp_path, role, point):
    world.add_mastodon_accounts(app, fake, 1)
    world.add_posts(app, [datetime.now(UTC) + timedelta(seconds=1)])
    processes = fleet(Timings(lease=4, requeue=3, reconcile_delay=1))
    if role == "worker":
        processes.add("dispatcher", DISPATCHER)
    processes.add("doomed", crashing(role, point))
    assert processes.wait_exit("doomed", 60) == -signal.SIGKILL, processes.logs()

    (crashed,) = world.publications(app)
    key = crashed.idempotency_key
    if point == "after_claim":
        assert crashed.state == P.QUEUED and crashed.attempts == 0
        assert fake.requests_to("POST", STATUSES) == []
    else:  # "sending" until the lease runs out (then "unknown")
        assert crashed.state in (P.SENDING, P.UNKNOWN) and crashed.attempts == 1
        assert fake.statuses_with_key(key) == (1 if point == "after_network_answered" else 0)

    if role == "dispatcher":
        processes.add("dispatcher", DISPATCHER)
    processes.add("worker", WORKER)
    deadline = time.monotonic() + 60
    (final,) = world.publications(app)
    while final.state != P.PUBLISHED and time.monotonic() < deadline:
        time.sleep(0.25)
        (final,) = world.publications(app)
    why = explain([final], processes, fake, tmp_path, redis_url)
    assert_exactly_once(world, [final], fake, why)

    posts = [r for r in fake.requests_to("POST", STATUSES)
             if r["headers"].get("Idempotency-Key") == key]
    if point == "after_claim":  # nothing had been done: sent once, when queued again
        assert (final.attempts, len(posts)) == (1, 1) and final.dispatches >= 2, why
    elif point == "after_sending_committed":  # not on the network: sent again, same key
        assert (final.attempts, len(posts)) == (2, 1), why
    else:  # on the network: settled by sending again with the same key, which Mastodon
        # answers with the status it already made (one status, two requests)
        assert (final.attempts, len(posts)) == (2, 2), why
        assert fake.statuses_with_key(key) == 1, why
    assert unexpected_errors(app, processes) == {}, why


def test_sandbox_posts_go_out_from_real_processes(app, redis_url, world, fleet, tmp_path):
    """The sandbox network writes into the database from inside the worker, in its own
    transaction: the worker must hold no transaction (no lock, on SQLite) while it calls a
    network. This is `make run`'s demo path, with real processes."""
    from agency.networks.models import SocialAccount

    with app.app_context(), tenant_scope(world.agency_id):
        try:
            for n in range(2):
                account = SocialAccount(client_id=world.client_id, network="sandbox",
                                        display_name=f"Page {n}")
                db.session.add(account)
                db.session.flush()
                world.account_ids.append(account.id)
            db.session.commit()
        finally:
            db.session.remove()
    start = datetime.now(UTC) + timedelta(seconds=3)
    world.add_posts(app, [start + timedelta(seconds=n / 4) for n in range(8)])

    processes = fleet(Timings(lease=6, requeue=8, reconcile_delay=2, backoff_base=1,
                              backoff_cap=5, network_timeout=1, dispatch_interval=0.2))
    processes.add("worker-1", WORKER, LISTENING)
    processes.add("dispatcher", DISPATCHER)
    assert processes.wait_ready(60), processes.logs()
    wait_until(lambda: settled(world.publications(app)), 60)
    publications = world.publications(app)
    assert states(publications) == {"published": 8}, processes.logs()
    assert all(p.attempts == 1 and "#p-" in p.external_url for p in publications)
    assert unexpected_errors(app, processes) == {}

"""Collecting the figures: the reading schedule, the cross-agency scan (on both backends,
and through its SECURITY DEFINER function on PostgreSQL), and one account's run — what
it reads, how it records it, and how it stops."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from agency.clients.models import Client
from agency.clients.services import archive_client
from agency.networks.base import AuthExpiredError, PermanentError, RetryableError
from agency.networks.credentials import unseal
from agency.networks.models import AccountStatus, SocialAccount
from agency.periodic import PERIODIC_JOBS
from agency.publishing import ratelimit
from agency.results import jobs
from agency.results.collect import Outcome, collect_account, paused_seconds
from agency.results.lookup import _accounts_without_rls, accounts_due
from agency.results.schedule import reading_due, utc
from tenants.context import clear_tenant, tenant_scope
from tests.factories import make_world
from tests.results.support import (
    NOW,
    days,
    make_account,
    publish,
    read,
    read_day,
    snapshots,
)

H, D, HALF_HOUR = timedelta(hours=1), timedelta(days=1), timedelta(minutes=30)


# --- the schedule ---------------------------------------------------------------------------

@pytest.mark.parametrize(("age", "last_read_at_age", "due"), [
    (30 * 60, None, False),  # too young for the first reading
    (H, None, True),
    (2 * H, 1.2 * H, False),  # the hour's reading is done
    (23 * H, 1.2 * H, False),
    (D, 1.2 * H, True),  # a day old: the day's reading
    (D + 2 * H, D + 0.5 * H, False),
    (7 * D, D + 0.5 * H, True),
    (29 * D, 7 * D + H, False),
    (30 * D, 7 * D + H, True),
    (36 * D, 7 * D + H, True),  # the month's reading, late but within its grace
    (38 * D, 7 * D + H, False),  # past the grace: the month's reading is given up
    (38 * D, 30 * D + H, False),
    (45 * D, None, True),  # never read: read it whatever its age…
    (91 * D, None, False),  # …up to the horizon
])
def test_the_reading_schedule(age, last_read_at_age, due):
    published = NOW - (age if isinstance(age, timedelta) else timedelta(seconds=age))
    last = None if last_read_at_age is None else published + last_read_at_age
    assert reading_due(published, last, NOW) is due


# --- the scan -------------------------------------------------------------------------------

def _scan_world(app, db, scripted):
    """Two agencies, and one account for each situation; returns (world, other, ids of
    the accounts that are due, ids of those that are not)."""
    alpha, beta = make_world("Agence Alpha"), make_world("Agence Beta")
    today = NOW.date()  # Paris: 10:00 on the same day
    due, calm = {}, {}

    due["never_read"] = make_account(app, db, alpha)
    due["other_agency"] = make_account(app, db, beta)

    calm["read_today"] = make_account(app, db, alpha)
    read_day(app, db, alpha, calm["read_today"], today)

    due["post_due"] = make_account(app, db, alpha)
    read_day(app, db, alpha, due["post_due"], today)
    read(app, db, alpha, publish(app, db, alpha, due["post_due"], NOW - 25 * H),
         NOW - 23 * H)

    calm["post_read"] = make_account(app, db, alpha)
    read_day(app, db, alpha, calm["post_read"], today)
    read(app, db, alpha, publish(app, db, alpha, calm["post_read"], NOW - 25 * H),
         NOW - HALF_HOUR)

    due["old_never_read"] = make_account(app, db, alpha)
    read_day(app, db, alpha, due["old_never_read"], today)
    publish(app, db, alpha, due["old_never_read"], NOW - 45 * D)

    calm["old_read"] = make_account(app, db, alpha)
    read_day(app, db, alpha, calm["old_read"], today)
    read(app, db, alpha, publish(app, db, alpha, calm["old_read"], NOW - 45 * D),
         NOW - 35 * D)

    calm["marked_by_hand"] = make_account(app, db, alpha)  # published, but no id to ask
    read_day(app, db, alpha, calm["marked_by_hand"], today)
    publish(app, db, alpha, calm["marked_by_hand"], NOW - 2 * H, external_id="")

    calm["expired"] = make_account(app, db, alpha, status=AccountStatus.EXPIRED)

    # The local day: 08:00 UTC is already 20:00 in Auckland (the same day), but on
    # 2030-06-10 at 20:00 UTC Auckland is on the 11th.
    with app.test_request_context(), tenant_scope(beta.agency_id):
        far = db.session.scalars(select(Client).where(Client.id == beta.client.id)).one()
        far.timezone = "Pacific/Auckland"
        gone = db.session.scalars(select(Client).where(Client.id == beta.other_client.id)).one()
        db.session.commit()
    calm["auckland_read"] = make_account(app, db, beta, client=far)
    read_day(app, db, beta, calm["auckland_read"], today)
    calm["archived_client"] = make_account(app, db, beta, client=gone)
    with app.test_request_context(), tenant_scope(beta.agency_id):
        archive_client(db.session.scalars(select(Client).where(Client.id == gone.id)).one())
        db.session.commit()
    clear_tenant()
    return alpha, beta, due, calm


def _found(result, *worlds) -> set:
    agencies = {w.agency_id for w in worlds}
    return {account for agency, account in result if agency in agencies}


def test_the_scan_finds_exactly_what_is_due(app, db, scripted):
    alpha, beta, due, calm = _scan_world(app, db, scripted)

    found = accounts_due(NOW)

    assert _found(found, alpha, beta) == set(due.values())
    assert (beta.agency_id, due["other_agency"]) in found
    # Twelve hours later Auckland has a new day, Paris not yet.
    later = _found(accounts_due(NOW + 12 * H), alpha, beta)
    assert calm["auckland_read"] in later and calm["read_today"] not in later


def test_the_sqlite_path_and_the_function_agree(app, db, scripted):
    alpha, beta, _, _ = _scan_world(app, db, scripted)
    for moment in (NOW, NOW + 12 * H, NOW + 5 * D, NOW + 40 * D):
        for world in (alpha, beta):
            # Inside the agency, row-level security shows the Python path its rows.
            with tenant_scope(world.agency_id):
                python = _found(_accounts_without_rls(moment), world)
            assert _found(accounts_due(moment), world) == python


@pytest.mark.postgres
def test_the_app_role_finds_other_agencies_only_through_the_function(app, db, scripted):
    alpha, beta, due, _ = _scan_world(app, db, scripted)
    conn = db.session.connection()
    assert conn.execute(text("SELECT current_user")).scalar_one() != conn.execute(text(
        "SELECT pg_get_userbyid(proowner) FROM pg_proc "
        "WHERE proname = 'relais_metrics_due'")).scalar_one()

    assert set(due.values()) <= _found(accounts_due(NOW), alpha, beta)
    # Without it, the app role sees no account, reading or publication of anyone.
    for table in ("social_accounts", "publications", "post_metric_snapshots",
                  "account_metric_days"):
        assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0
    assert _found(_accounts_without_rls(NOW), alpha, beta) == set()
    # The scan's policy belongs to the owner: the app role setting the flag gains nothing.
    conn.execute(text("SELECT set_config('relais.system_scan', 'metrics_due', true)"))
    assert conn.execute(text("SELECT count(*) FROM social_accounts")).scalar_one() == 0
    assert conn.execute(text(
        "SELECT has_function_privilege('public', 'relais_metrics_due(timestamptz)', "
        "'EXECUTE')")).scalar_one() is False


# --- one account's run ------------------------------------------------------------------------

def test_a_run_reads_the_account_once_and_each_due_post(app, db, world, scripted):
    account = make_account(app, db, world)
    young = publish(app, db, world, account, NOW - HALF_HOUR)
    due_now = publish(app, db, world, account, NOW - 3 * H, external_id="status-1")
    done = publish(app, db, world, account, NOW - 2 * H)
    read(app, db, world, done, NOW - 0.5 * H)
    scripted.account = {"followers": 321, "following": 12}
    scripted.posts = {"status-1": {"likes": 5, "reposts": 2, "replies": 1}}

    assert collect_account(world.agency_id, account, NOW) == Outcome.COLLECTED

    assert scripted.calls == [("account", account), ("post", "status-1")]
    [reading] = snapshots(world, due_now)
    assert (reading.reactions, reading.shares, reading.comments) == (5, 2, 1)
    # What Mastodon does not count stays NULL, never 0.
    assert (reading.impressions, reading.reach, reading.clicks, reading.saves) == (
        None, None, None, None)
    assert reading.raw == {"likes": 5, "reposts": 2, "replies": 1}
    assert reading.network == "scripted" and utc(reading.taken_at) == NOW
    assert snapshots(world, young) == []
    [day] = days(world, account)
    assert (day.day, day.followers, day.raw) == (NOW.date(), 321, scripted.account)


def test_a_second_reading_the_same_day_replaces_it(app, db, world, scripted):
    account = make_account(app, db, world)
    scripted.account = {"followers": 100}
    collect_account(world.agency_id, account, NOW)
    scripted.account = {"followers": 104}
    collect_account(world.agency_id, account, NOW + 3 * H)
    scripted.account = {}  # a network that counts no followers: NULL, never 0
    collect_account(world.agency_id, account, NOW + D)

    assert [(d.day, d.followers) for d in days(world, account)] == [
        (NOW.date(), 104), ((NOW + D).date(), None)]


def test_the_day_is_the_clients_own(app, db, world, scripted):
    with tenant_scope(world.agency_id):
        db.session.scalars(select(Client).where(Client.id == world.client.id)).one() \
            .timezone = "Pacific/Auckland"
        db.session.commit()
    account = make_account(app, db, world)
    collect_account(world.agency_id, account, NOW + 12 * H)  # 08:00 on the 11th there
    assert [d.day for d in days(world, account)] == [(NOW + D).date()]


def test_a_rate_limit_stops_the_run_keeps_what_was_read_and_pauses(app, db, world,
                                                                    scripted):
    account = make_account(app, db, world)
    newest = publish(app, db, world, account, NOW - 2 * H, external_id="newest")
    publish(app, db, world, account, NOW - 3 * H, external_id="limited")
    oldest = publish(app, db, world, account, NOW - 4 * H, external_id="oldest")
    scripted.posts = {"limited": RetryableError("Slow down", retry_after=120)}

    assert collect_account(world.agency_id, account, NOW) == Outcome.RATE_LIMITED

    assert [c[1] for c in scripted.calls] == [account, "newest", "limited"]
    assert [s.publication_id for s in snapshots(world)] == [newest]
    assert len(days(world, account)) == 1  # read before the limit: kept
    assert 100 < paused_seconds(account) <= 121
    # The same pause publishing obeys (the network counts reads and posts together)…
    assert ratelimit.wait_seconds("scripted", account) > 100
    # …and no read happens before it is over.
    scripted.calls.clear()
    assert collect_account(world.agency_id, account, NOW) == Outcome.PAUSED
    assert scripted.calls == []
    assert snapshots(world, oldest) == []


def test_a_budget_reported_spent_stops_before_the_next_call(app, db, world, scripted):
    account = make_account(app, db, world)
    publish(app, db, world, account, NOW - 2 * H, external_id="first")
    publish(app, db, world, account, NOW - 3 * H, external_id="second")
    scripted.limited_until = datetime.now(UTC).timestamp() + 60

    assert collect_account(world.agency_id, account, NOW) == Outcome.RATE_LIMITED
    assert scripted.calls == [("account", account)]
    assert 50 < paused_seconds(account) <= 61


def test_a_network_counting_reads_apart_never_pauses_posts(app, db, world, scripted,
                                                          monkeypatch):
    monkeypatch.setattr(scripted, "reads_share_limits", False)
    account = make_account(app, db, world)
    scripted.account = RetryableError("Too many requests", retry_after=900)

    assert collect_account(world.agency_id, account, NOW) == Outcome.RATE_LIMITED
    assert paused_seconds(account) == 0
    assert days(world, account) == []


def test_a_pause_set_by_publishing_is_respected(app, db, world, scripted):
    account = make_account(app, db, world)
    ratelimit.pause(account, datetime.now(UTC).timestamp() + 300)
    assert collect_account(world.agency_id, account, NOW) == Outcome.PAUSED
    assert scripted.calls == []


def test_a_refused_token_stops_the_run_and_changes_nothing(app, db, world, scripted):
    account = make_account(app, db, world, credentials={"access_token": "old"})
    publish(app, db, world, account, NOW - 2 * H)
    scripted.account = AuthExpiredError("Revoked")

    assert collect_account(world.agency_id, account, NOW) == Outcome.AUTH_EXPIRED
    assert scripted.calls == [("account", account)]
    with tenant_scope(world.agency_id):
        row = db.session.scalars(select(SocialAccount).where(
            SocialAccount.id == account)).one()
        assert (row.status, row.status_reason) == (AccountStatus.CONNECTED, "")
    assert days(world, account) == [] and snapshots(world) == []
    assert paused_seconds(account) == 0


def test_another_error_skips_one_post_which_stays_due(app, db, world, scripted, caplog):
    account = make_account(app, db, world)
    publish(app, db, world, account, NOW - 2 * H, external_id="gone")
    kept = publish(app, db, world, account, NOW - 3 * H, external_id="kept")
    scripted.posts = {"gone": PermanentError("Not found")}
    scripted.account = RetryableError("Bad gateway")  # no retry_after: not a rate limit

    with caplog.at_level(logging.WARNING, logger="agency.results.collect"):
        assert collect_account(world.agency_id, account, NOW) == Outcome.COLLECTED

    assert [s.publication_id for s in snapshots(world)] == [kept]
    assert days(world, account) == []
    assert "Not found" in caplog.text and "Bad gateway" in caplog.text
    # Both are asked again at the next run.
    scripted.calls.clear()
    collect_account(world.agency_id, account, NOW + H)
    assert scripted.calls == [("account", account), ("post", "gone")]


def test_renewed_credentials_are_stored(app, db, world, scripted):
    account = make_account(app, db, world, credentials={"accessJwt": "old"})
    scripted.renewed = {"accessJwt": "new"}
    collect_account(world.agency_id, account, NOW)
    with tenant_scope(world.agency_id):
        row = db.session.scalars(select(SocialAccount).where(
            SocialAccount.id == account)).one()
        assert unseal(row.credentials) == {"accessJwt": "new"}


def test_accounts_that_cannot_be_read_are_skipped(app, db, world, scripted):
    expired = make_account(app, db, world, status=AccountStatus.EXPIRED)
    assert collect_account(world.agency_id, expired, NOW) == Outcome.SKIPPED
    assert collect_account(world.agency_id, uuid.uuid4(), NOW) == Outcome.SKIPPED
    # Another agency's account is as good as absent.
    other = make_world("Agence Autre")
    foreign = make_account(app, db, other)
    assert collect_account(world.agency_id, foreign, NOW) == Outcome.SKIPPED
    assert scripted.calls == []


# --- the periodic job -------------------------------------------------------------------------

def test_one_failing_account_does_not_stop_another(app, db, world, scripted, queue):
    assert ("metrics-collect", 3600, "agency.results.jobs:run_collection") in PERIODIC_JOBS
    now = datetime.now(UTC)
    broken = make_account(app, db, world)
    fine = make_account(app, db, world)
    publish(app, db, world, broken, now - 2 * H, external_id="broken-post")
    publish(app, db, world, fine, now - 2 * H, external_id="fine-post")
    scripted.accounts = {broken: RuntimeError("the adapter has a bug")}
    scripted.posts = {"broken-post": RuntimeError("and so do its reads")}
    clear_tenant()

    with app.app_context():
        assert jobs.run_collection(now, queue=queue) >= 2
        assert jobs.run_collection(now, queue=queue) == 0  # same hour: already there
    results = {}
    for account in (broken, fine):
        job = queue.fetch_job(jobs.collect_job_id(account, now))
        assert job.args == (str(world.agency_id), str(account))
        with app.app_context():  # as a worker would, in this process (the test's data)
            results[account] = job.func(*job.args)

    assert results == {broken: Outcome.COLLECTED, fine: Outcome.COLLECTED}
    assert [s.raw for s in snapshots(world)] == [{"likes": 1}]
    assert days(world, broken) == [] and len(days(world, fine)) == 1

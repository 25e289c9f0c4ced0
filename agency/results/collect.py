"""Reading one account's figures: its counters of the day (followers first) and its
published posts' counters as they fall due (schedule.py).

One run per account (jobs.py), inside its agency, in three steps:

1. load the account and what is due, as plain values, and end that transaction: no
   transaction is open while a network is called;
2. ask the network: the account's counters once, then each due post's (at most
   ``due.MAX_READS_PER_RUN`` posts and ``RUN_SECONDS``, newest posts first: a young
   post's readings are the ones that cannot wait);
3. write what was read in one transaction (the day's ``AccountMetricDay`` replaced, one
   ``PostMetricSnapshot`` per post read) with what the adapter learnt about the account
   (renewed credentials, a pause), and commit.

Failures stay where they happen:

- The network asking to wait (a ``RetryableError`` with ``retry_after``: a 429's reset, a
  Retry-After; or its budget reported spent, ``rate_limited_until``) stops the run. What
  was read is kept. The wait is recorded as the account's pause in
  agency/publishing/ratelimit.py, the one publishing obeys, and a run finding a pause
  there (set by publishing or by an earlier run) reads nothing. Where the network counts
  reads apart from posts (``Network.reads_share_limits`` False: X, LinkedIn) no pause is
  recorded, so a spent read budget never delays a post; the next run is an hour away.
  Reads never take from publishing's own budget (``ratelimit.BUDGETS``, posts only): the
  pause is consulted under a name that has no budget, so nothing is counted.
- A refused token (``AuthExpiredError``) stops the run and leaves the account's state
  alone: it belongs to token health and the publishing engine. (Credentials the adapter
  renewed before that are still stored: the ones they replaced may no longer work.)
- Any other error on one post is logged and that post skipped: it is still due, and the
  next run reads it. One account's failure never touches another's run.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from agency.clients.models import Client
from agency.extensions import db
from agency.networks.base import (
    AuthExpiredError,
    Network,
    NetworkError,
    Outgoing,
    RetryableError,
)
from agency.networks.credentials import CredentialsUnreadable, seal, unseal
from agency.networks.models import AccountStatus, SocialAccount
from agency.networks.registry import adapter_for, can_publish
from agency.publishing import ratelimit
from agency.publishing.models import Publication
from tenants.context import current_agency_id, tenant_scope
from tenants.ids import new_id

from . import counters
from .due import DuePost, due_posts
from .models import AccountMetricDay, PostMetricSnapshot
from .schedule import local_day, utc

log = logging.getLogger(__name__)

RUN_SECONDS = 120.0  # no new read starts after this (RQ stops a job at 180 s)
# A name with no publishing budget: asking ratelimit for it reads the account's pause
# and counts nothing.
PAUSE_ONLY = "results-read"


class Outcome:
    """What ``collect_account`` did, as the job's result (for logs and tests)."""

    SKIPPED = "skipped"  # gone, not connected, archived client, a network Relais lacks
    PAUSED = "paused"  # the account is paused (a network's rate limit): nothing read
    UNREADABLE = "unreadable"  # no configured key opens the credentials
    COLLECTED = "collected"
    RATE_LIMITED = "rate_limited"  # stopped: the network asked to wait; what was read kept
    AUTH_EXPIRED = "auth_expired"  # stopped: the token was refused; what was read kept


@dataclass(frozen=True)
class _Plan:
    account_id: uuid.UUID
    client_id: uuid.UUID
    network: str
    day: date  # the client's day
    sealed: str  # the credentials as read: renewed ones are stored only over these
    account: Outgoing
    due: tuple[DuePost, ...]


@dataclass
class _Readings:
    account: dict | None = None
    posts: list[tuple[DuePost, dict]] = field(default_factory=list)
    outcome: str = Outcome.COLLECTED
    wait_until: float | None = None  # epoch seconds the network asked to wait until


def collect_account(agency_id: uuid.UUID, account_id: uuid.UUID,
                    now: datetime | None = None) -> str:
    """Read what is due for one account at ``now``, as its agency, and commit it once.
    Returns an ``Outcome`` value. Safe to run twice: the day's reading is replaced, and a
    post read meanwhile is no longer due."""
    now = utc(now or datetime.now(UTC))
    with tenant_scope(agency_id):
        try:
            plan = _plan(account_id, now)
            db.session.commit()  # reads only: nothing stays open during the calls
            if isinstance(plan, str):
                return plan
            adapter = adapter_for(plan.network)
            readings = _read(adapter, plan)
            _record(plan, adapter, readings, now)
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
    return readings.outcome


# --- 1. what is due ----------------------------------------------------------------------

def paused_seconds(account_id: uuid.UUID) -> float:
    """How long the account's pause still holds (0: none), counting nothing."""
    return ratelimit.wait_seconds(PAUSE_ONLY, account_id)


def _plan(account_id: uuid.UUID, now: datetime) -> _Plan | str:
    account = db.session.scalars(
        select(SocialAccount).where(SocialAccount.id == account_id)).one_or_none()
    if (account is None or account.status != AccountStatus.CONNECTED
            or not can_publish(account.network)):
        return Outcome.SKIPPED
    client = db.session.scalars(select(Client).where(Client.id == account.client_id)).one()
    if client.is_archived:
        return Outcome.SKIPPED
    if paused_seconds(account.id) > 0:
        return Outcome.PAUSED
    try:
        credentials = unseal(account.credentials)
    except CredentialsUnreadable:
        log.error("account %s: no TOKEN_ENCRYPTION_KEY opens its credentials", account.id)
        return Outcome.UNREADABLE
    settings = dict(account.settings or {})
    return _Plan(
        account_id=account.id, client_id=account.client_id, network=account.network,
        day=local_day(client.timezone, now), sealed=account.credentials,
        account=Outgoing.for_account(account.id, account.network, handle=account.handle,
                                     settings=settings, credentials=credentials),
        due=due_posts(account, settings, credentials, now))


# --- 2. the network ------------------------------------------------------------------------

def _read(adapter: Network, plan: _Plan) -> _Readings:
    readings = _Readings()
    started = time.monotonic()
    try:
        readings.account = dict(adapter.fetch_account_metrics(plan.account) or {})
    except Exception as error:
        if _stops(readings, plan, error, "account"):
            return readings
    for due in plan.due:
        if _spent(adapter):
            readings.outcome = Outcome.RATE_LIMITED
            break
        if time.monotonic() - started > RUN_SECONDS:
            break  # the rest is still due: the next run reads it
        try:
            metrics = adapter.fetch_metrics(due.outgoing, due.external_id)
        except Exception as error:
            if _stops(readings, plan, error, f"publication {due.publication_id}"):
                break
            continue
        readings.posts.append((due, dict(metrics or {})))
    return readings


def _stops(readings: _Readings, plan: _Plan, error: Exception, what: str) -> bool:
    """Whether ``error`` ends the run (recording why); else it is logged and skipped."""
    from rq.timeouts import BaseTimeoutException

    if isinstance(error, BaseTimeoutException):
        raise error  # RQ stopping the job: never swallowed as one post's failure
    if isinstance(error, RetryableError) and error.retry_after:
        readings.outcome = Outcome.RATE_LIMITED
        readings.wait_until = time.time() + float(error.retry_after)
        log.info("results: %s %s asks to wait %.0fs; stopping: %s", plan.network,
                 plan.account_id, error.retry_after, error.detail)
        return True
    if isinstance(error, AuthExpiredError):
        readings.outcome = Outcome.AUTH_EXPIRED
        log.info("results: %s account %s refused its token; stopping: %s", plan.network,
                 plan.account_id, error.detail)
        return True
    if isinstance(error, NetworkError):
        log.warning("results: %s account %s, %s not read: %s %s", plan.network,
                    plan.account_id, what, error.reason, error.detail)
    else:
        log.exception("results: %s account %s, %s: unexpected error", plan.network,
                      plan.account_id, what)
    return False


def _limited_until(adapter: Network) -> float | None:
    until = getattr(adapter, "rate_limited_until", None)
    if isinstance(until, datetime):  # most adapters say when; Bluesky, epoch seconds
        until = until.timestamp()
    return float(until) if until else None


def _spent(adapter: Network) -> bool:
    until = _limited_until(adapter)
    return until is not None and until > time.time()


# --- 3. what was read ------------------------------------------------------------------------

def _record(plan: _Plan, adapter: Network, readings: _Readings, now: datetime) -> None:
    _remember_pause(plan, adapter, readings)
    renewed = adapter.credentials_after_use()
    query = select(SocialAccount).where(SocialAccount.id == plan.account_id)
    if renewed is not None:
        query = query.with_for_update()
    account = db.session.scalars(query.execution_options(populate_existing=True)).one_or_none()
    if account is None:
        return  # removed meanwhile: its figures went with it
    if renewed is not None and account.credentials == plan.sealed:
        # A session the adapter renewed (Bluesky rotates its refresh token): the stored
        # one may no longer work. A reconnection made meanwhile wins.
        account.credentials = seal(renewed)
    if readings.account is not None:
        _replace_day(plan, readings.account, now)
    _add_snapshots(plan, readings.posts, now)
    db.session.flush()


def _remember_pause(plan: _Plan, adapter: Network, readings: _Readings) -> None:
    if not adapter.reads_share_limits:
        return
    asked = [t for t in (readings.wait_until, _limited_until(adapter)) if t]
    if not asked:
        return
    until = max(asked)
    # Never shorten a longer pause someone else recorded meanwhile.
    if until > time.time() + paused_seconds(plan.account_id):
        ratelimit.pause(plan.account_id, until)


def _replace_day(plan: _Plan, metrics: dict, now: datetime) -> None:
    """The day's reading, replacing an earlier one of the same day (one statement, so two
    runs racing on the same day cannot both insert)."""
    values = {"agency_id": current_agency_id(), "id": new_id(), "client_id": plan.client_id,
              "social_account_id": plan.account_id, "network": plan.network,
              "day": plan.day, "followers": counters.followers(metrics), "taken_at": now,
              "raw": metrics}
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    insert = dialect.insert(AccountMetricDay).values(**values)
    db.session.execute(insert.on_conflict_do_update(
        index_elements=["agency_id", "social_account_id", "day"],
        set_={name: insert.excluded[name]
              for name in ("client_id", "network", "followers", "taken_at", "raw")}))


def _add_snapshots(plan: _Plan, posts: list[tuple[DuePost, dict]], now: datetime) -> None:
    if not posts:
        return
    # A post deleted meanwhile (its publication with it) gets no reading.
    alive = set(db.session.scalars(select(Publication.id).where(
        Publication.id.in_([due.publication_id for due, _ in posts]))))
    for due, metrics in posts:
        if due.publication_id in alive:
            db.session.add(PostMetricSnapshot(
                client_id=due.client_id, publication_id=due.publication_id,
                network=plan.network, taken_at=now, raw=metrics,
                **counters.columns(plan.network, metrics)))

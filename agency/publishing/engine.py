"""The worker's side of publishing: send one publication exactly once, and settle the
ones whose outcome is unknown. The RQ jobs (jobs.py) only call these two functions.

The order of writes is the guarantee:
1. ``queued → sending`` with a lease and the idempotency key is committed *before* the
   network is called, by a conditional update (a duplicate job finds nothing to do);
2. the network's answer is recorded afterwards (``published`` with its id and link,
   ``retrying`` with a backoff, ``failed`` with the network's reason, ``held`` when the
   account's access expired, or ``unknown``).
A crash between 1 and 2 leaves ``sending``; the dispatcher turns it into ``unknown`` when
the lease runs out, and ``reconcile`` settles it by asking the network (``find``) or by
retrying with the same idempotency key where that cannot make a second post. Never by a
blind retry: what cannot be settled becomes ``needs_attention`` and is shown to people.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, tuple_, update

from agency.content.models import Revision
from agency.extensions import db
from agency.networks.base import (
    AuthExpiredError,
    Network,
    OutcomeUnknown,
    PermanentError,
    Published,
    RetryableError,
)
from agency.networks.credentials import CredentialsUnreadable, seal
from agency.networks.models import AccountStatus, SocialAccount
from agency.networks.registry import adapter_for
from tenants.context import tenant_scope

from . import outcomes, ratelimit
from .models import Publication, PublicationState
from .outgoing import ContentMissing, build
from .settle import settle_published as _settle_published
from .settle import settle_published_together as _settle_published_together

log = logging.getLogger(__name__)
P = PublicationState
_CONTENT_MISSING = _l("The approved content could not be assembled (a file or the account's "
                      "access is missing). Edit the post or reconnect the account, then have "
                      "it approved again.")

# The plain "published" settlements of a group claimed at once are written together, at
# the group's end or once the oldest has waited this long (a slow network must not leave
# what went out "sending" for long: its lease runs meanwhile).
SETTLE_EVERY_SECONDS = 0.5

# Tests set this to simulate a crash at a named point ("after_sending_committed",
# "after_network_answered"); it is never set in production.
crash_hook: Callable[[str], None] | None = None


def _crash_point(name: str) -> None:
    if crash_hook is not None:
        crash_hook(name)


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def _load(publication_id: uuid.UUID, *, lock: bool = False) -> Publication | None:
    query = select(Publication).where(Publication.id == publication_id)
    if lock:
        query = query.with_for_update(of=Publication)
    return db.session.scalars(query.execution_options(populate_existing=True)).one_or_none()


def _in_tenant(agency_id: uuid.UUID, step: Callable[[uuid.UUID], str],
               publication_id: uuid.UUID) -> str:
    with tenant_scope(agency_id):
        try:
            return step(publication_id)
        except BaseException:  # a crash included: leave no transaction half-open
            db.session.rollback()
            raise


# --- publish ------------------------------------------------------------------------------

def publish(agency_id: uuid.UUID, publication_id: uuid.UUID) -> str:
    """Send a ``queued`` publication. Returns what happened, in one word (for logs and
    tests). Safe to call twice for the same publication: only one call sends."""
    return publish_many(agency_id, [publication_id])[publication_id]


def publish_many(agency_id: uuid.UUID, publication_ids: list[uuid.UUID]
                 ) -> dict[uuid.UUID, str]:
    """Send a batch of one agency's ``queued`` publications, one after the other (the
    dispatcher hands them out in groups: one job and one load for the lot). Each is
    claimed (``sending`` committed) before its call: on networks whose unknown outcomes
    reconciliation settles for certain, the whole group at once and the plain
    settlements written together (``_send_claimed_together``); elsewhere each just
    before its own call, so a crash mid-batch leaves at most the one in flight to
    reconcile and the others ``queued`` for the next job (``_send_one_by_one``)."""
    with tenant_scope(agency_id):
        try:
            return _publish_many(list(publication_ids))
        except BaseException:  # a crash included: leave no transaction half-open
            db.session.rollback()
            raise


def _publish(publication_id: uuid.UUID) -> str:
    return _publish_many([publication_id])[publication_id]


@dataclass(frozen=True)
class _Sent:
    """A publish that went out with nothing else to record: settled by one UPDATE,
    committed together with the next claim of the batch (or alone at its end), or with
    the other plain settlements of a group claimed at once."""

    publication_id: uuid.UUID
    published: Published
    answered_at: datetime = field(default_factory=lambda: _now())


def _publish_many(publication_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    results = dict.fromkeys(publication_ids, "skipped")
    batch = _load_batch(publication_ids)
    certain = {network: _settles_for_certain(network) for network in {p.network
                                                                       for p, _ in batch}}
    together = [item for item in batch if certain[item[0].network]]
    alone = [item for item in batch if not certain[item[0].network]]
    if together:
        _send_claimed_together(together, results)
    _send_one_by_one(alone, results)
    return results


def _settles_for_certain(network: str) -> bool:
    """Whether reconciliation settles this network's unknown outcomes for certain (an
    idempotent resend, or a search whose "not there" is proof): only then may a group
    be claimed at once, since a crash leaves every claimed one to reconcile."""
    try:
        adapter = adapter_for(network)
    except KeyError:
        return False
    return adapter.idempotent_publish or adapter.authoritative_find


def _send_claimed_together(items: list[tuple[Publication, Revision]], results: dict) -> None:
    """One durable commit claims the whole group (the promise made once, not per
    publication); each is then built and sent in turn. The plain "published" ones are
    settled together (one UPDATE, at the group's end or every SETTLE_EVERY_SECONDS),
    and need not wait for the disk: a settlement lost in a crash, of the process or of
    the database, leaves ``sending``, which the lease turns into ``unknown`` and
    reconciliation settles for certain on these networks. Any other outcome is recorded
    at once, in its own transaction."""
    now = _now()
    # Every check happens before the group's first send: one read of the accounts'
    # pauses serves them all.
    paused = ratelimit.pauses({snapshot.social_account_id for snapshot, _ in items})
    ready = []
    for snapshot, revision in items:
        checked = _precheck(snapshot, now, paused=paused.get(snapshot.social_account_id))
        if isinstance(checked, str):
            results[snapshot.id] = checked
        else:
            ready.append((snapshot, revision, checked))
    if not ready:
        return
    lease = timedelta(seconds=current_app.config["PUBLISH_LEASE_SECONDS"])
    leased_until = now + lease
    claimed = dict(db.session.execute(
        update(Publication)
        # The same revisions as the snapshots: a post withdrawn and approved again
        # meanwhile is sent as approved now, by its own job, never as it was.
        .where(tuple_(Publication.id, Publication.revision_id).in_(
            [(s.id, s.revision_id) for s, _, _ in ready]), Publication.state == P.QUEUED)
        .values(state=P.SENDING, lease_expires_at=leased_until,
                sent_at=func.coalesce(Publication.sent_at, now),
                attempts=Publication.attempts + 1)
        .returning(Publication.id, Publication.attempts)
        .execution_options(synchronize_session=False)).all())
    db.session.commit()  # the promise that we are sending, before we send
    pending: list[_Sent] = []
    oldest = 0.0
    try:
        for snapshot, revision, adapter in ready:
            attempt = claimed.get(snapshot.id)
            if attempt is None:
                continue
            _crash_point("after_sending_committed")
            if _now() >= leased_until:
                # The lease ran out before its turn (a slow group): the dispatcher turns
                # it into "unknown" and reconciliation settles it; sending it now could
                # race that reconciliation's own send.
                results[snapshot.id] = "lapsed"
                continue
            try:
                outgoing = build(snapshot, snapshot.account, db.session, revision=revision)
            except (ContentMissing, CredentialsUnreadable) as problem:
                log.error("publication %s cannot be assembled: %s", snapshot.id, problem)
                results[snapshot.id] = _settle(snapshot.id, snapshot.social_account_id,
                                               adapter, _outcome_content_missing)
                continue
            if db.session().in_transaction():
                db.session.commit()  # only ends the read: no transaction during the call
            outgoing = replace(outgoing, checkpoint=partial(_checkpoint, snapshot.id, attempt))
            sent = _send(adapter, outgoing, snapshot.id, snapshot.social_account_id)
            _carry_credentials(adapter, snapshot)
            if not isinstance(sent, _Sent):
                results[snapshot.id] = sent
                continue
            if not pending:
                oldest = time.monotonic()
            pending.append(sent)
            if time.monotonic() - oldest >= SETTLE_EVERY_SECONDS:
                _settle_published_together(pending, results)
                pending = []
    finally:
        # Also when the job stops half-way (a timeout, a shutdown): what went out is
        # recorded now rather than left to reconciliation.
        if pending:
            _settle_published_together(pending, results)


def _send_one_by_one(items: list[tuple[Publication, Revision]], results: dict) -> None:
    """Each claimed (durably) just before its own call: a crash leaves at most the one in
    flight to reconcile, and the others ``queued`` for the next job. The plain
    "published" settlement rides in the next claim's transaction."""
    pending: _Sent | None = None
    for publication, revision in items:
        step = _claim(publication, revision, settle=pending, results=results)
        pending = None
        if isinstance(step, str):
            results[publication.id] = step
            continue
        adapter, outgoing = step
        _crash_point("after_sending_committed")
        # From here until the answer, no transaction is open: a call can take seconds,
        # and must hold no lock meanwhile.
        sent = _send(adapter, outgoing, publication.id, publication.social_account_id)
        _carry_credentials(adapter, publication)
        if isinstance(sent, _Sent):
            pending = sent
        else:
            results[publication.id] = sent
    if pending is not None:
        results[pending.publication_id] = _settle_published(pending)
        db.session.commit()


def _carry_credentials(adapter: Network, snapshot: Publication) -> None:
    if (refreshed := adapter.credentials_after_use()) is not None:
        # The batch's later publications of this account must use them too (the
        # snapshot is detached: this changes nothing in the database).
        snapshot.account.credentials = seal(refreshed)


def _outcome_content_missing(publication: Publication, account: SocialAccount) -> str:
    return outcomes.fail(publication, str(_CONTENT_MISSING), "content_missing")


def _load_batch(publication_ids: list[uuid.UUID]) -> list[tuple[Publication, Revision]]:
    """The queued ones among ``publication_ids``, with their accounts and approved
    revisions, as detached snapshots (one read for the whole batch; a commit does not
    expire them). Only read: every write goes through a conditional UPDATE on the row."""
    publications = list(db.session.scalars(
        select(Publication).where(Publication.id.in_(publication_ids),
                                  Publication.state == P.QUEUED)
        .execution_options(populate_existing=True)))
    revisions = {r.id: r for r in db.session.scalars(select(Revision).where(
        Revision.id.in_({p.revision_id for p in publications})))} if publications else {}
    for row in [*publications, *{p.account for p in publications}, *revisions.values()]:
        db.session.expunge(row)
    db.session.commit()  # only ends the read
    order = {pid: n for n, pid in enumerate(publication_ids)}
    publications.sort(key=lambda p: order[p.id])
    return [(p, revisions[p.revision_id]) for p in publications]


def _claim(snapshot: Publication, revision: Revision, *, settle: _Sent | None,
           results: dict) -> tuple[Network, object] | str:
    """One transaction: settle the previous publication of the batch (if it went out
    plainly), then check this one and commit ``sending`` with a lease before its call.
    Returns the adapter and what to send, or in one word why it is not sent."""
    if settle is not None:
        results[settle.publication_id] = _settle_published(settle)
    now = _now()
    account = snapshot.account
    adapter = _precheck(snapshot, now)
    if isinstance(adapter, str):
        return adapter
    try:
        outgoing = build(snapshot, account, db.session, revision=revision)
    except (ContentMissing, CredentialsUnreadable) as problem:
        log.error("publication %s cannot be assembled: %s", snapshot.id, problem)
        return _instead(snapshot.id, lambda p: outcomes.fail(
            p, str(_CONTENT_MISSING), "content_missing"))
    lease = timedelta(seconds=current_app.config["PUBLISH_LEASE_SECONDS"])
    attempt = db.session.execute(
        update(Publication)
        # The same revision as the snapshot: a post withdrawn and approved again
        # meanwhile is sent as approved now, by its own job, never as it was.
        .where(Publication.id == snapshot.id, Publication.state == P.QUEUED,
               Publication.revision_id == snapshot.revision_id)
        .values(state=P.SENDING, lease_expires_at=now + lease,
                sent_at=func.coalesce(Publication.sent_at, now),
                attempts=Publication.attempts + 1)
        .returning(Publication.attempts)
        .execution_options(synchronize_session=False)).scalar_one_or_none()
    db.session.commit()  # the promise that we are sending, before we send
    if attempt is None:
        return "skipped"
    return adapter, replace(outgoing, checkpoint=partial(_checkpoint, snapshot.id, attempt))


def _precheck(snapshot: Publication, now: datetime, *,
              paused: float | object | None = ratelimit.UNREAD) -> Network | str:
    """The adapter to send with, or in one word why not now (held, failed, delayed),
    recorded on the row. ``paused``: the account's pause, if the caller read it."""
    account = snapshot.account
    if account.status != AccountStatus.CONNECTED:
        return _instead(snapshot.id, lambda p: (outcomes.hold(p, now), "held")[1])
    try:
        adapter = adapter_for(snapshot.network)
    except KeyError:
        return _instead(snapshot.id, lambda p: outcomes.fail(
            p, _("Relais cannot publish to this network yet."), "unsupported"))
    wait = ratelimit.wait_seconds(snapshot.network, account.id, paused=paused)
    if wait > 0:
        return _instead(snapshot.id, partial(outcomes.delay,
                                             until=now + timedelta(seconds=wait)))
    return adapter


def _instead(publication_id: uuid.UUID, write: Callable[[Publication], str]) -> str:
    """Record why a queued publication is not sent now (held, failed, delayed), on the
    row as it is now; "skipped" if it is no longer queued."""
    publication = _load(publication_id, lock=True)
    if publication is None or publication.state != P.QUEUED:
        db.session.commit()
        return "skipped"
    result = write(publication)
    db.session.commit()
    return result


def _checkpoint(publication_id: uuid.UUID, attempt: int, progress: dict) -> None:
    """Save a multi-step publish's progress, only while this attempt still owns it (an
    attempt whose lease ran out may still be running when the next one has started)."""
    saved = db.session.execute(
        update(Publication)
        .where(Publication.id == publication_id, Publication.state == P.SENDING,
               Publication.attempts == attempt)
        .values(progress=dict(progress))
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    if saved != 1:
        raise OutcomeUnknown(_("This attempt ran out of time before it finished; Relais "
                               "checks what reached the network before going on."),
                             detail=f"checkpoint refused for publication {publication_id}")


def _send(adapter: Network, outgoing, publication_id: uuid.UUID,
          account_id: uuid.UUID) -> str | _Sent:
    outcome: Callable[[Publication, SocialAccount], str]
    try:
        published = adapter.publish(outgoing)
    except RetryableError as error:
        outcome = partial(_outcome_retry, error=error)
    except PermanentError as error:
        outcome = partial(_outcome_fail, reason=error.reason)
    except AuthExpiredError as error:
        outcome = partial(outcomes.account_expired, reason=error.reason)
    except OutcomeUnknown as error:
        outcome = partial(_outcome_unknown, reason=error.reason)
    except Exception as error:  # a bug or an unforeseen answer: we cannot know either
        log.exception("publication %s: unexpected error while sending", publication_id)
        outcome = partial(_outcome_unknown,
                          reason=_("Unexpected error: %(e)s", e=str(error)[:200]))
    else:
        _crash_point("after_network_answered")
        comment_error = getattr(adapter, "first_comment_error", None)
        if not (comment_error or _account_news(adapter)):
            return _Sent(publication_id, published)
        outcome = partial(_outcome_published, published=published, comment_error=comment_error)
    return _settle(publication_id, account_id, adapter, outcome)


def _account_news(adapter: Network) -> bool:
    """Whether the adapter has something to record on the account (new credentials, a
    rate-limit pause): only then does settling need to load it."""
    return (adapter.credentials_after_use() is not None
            or bool(getattr(adapter, "rate_limited_until", None)))


def _outcome_retry(publication: Publication, account: SocialAccount, *,
                   error: RetryableError) -> str:
    return outcomes.retry_later(publication, error)


def _outcome_fail(publication: Publication, account: SocialAccount, *, reason: str) -> str:
    return outcomes.fail(publication, reason, "refused")


def _outcome_unknown(publication: Publication, account: SocialAccount, *, reason: str) -> str:
    return outcomes.unknown(publication, reason)


def _outcome_published(publication: Publication, account: SocialAccount, *, published,
                       comment_error: str | None) -> str:
    result = outcomes.published(publication, published.external_id, published.url)
    if comment_error:
        # The post is out; only its first comment is missing. Say so, do not fail it.
        publication.last_error = _("Published, but the first comment could not be added: "
                                   "%(reason)s", reason=comment_error)[:1000]
        publication.error_code = "first_comment"
    return result


def _settle(publication_id: uuid.UUID, account_id: uuid.UUID, adapter: Network,
            outcome: Callable[[Publication, SocialAccount], str]) -> str:
    """Record the network's answer, if the publication is still ours to settle. What
    the adapter learnt about the account is recorded whatever became of the publication:
    renewed credentials may have replaced the only valid ones (a network that rotates
    refresh tokens), and a rate-limit pause holds for the account's other work."""
    db.session.rollback()  # start clean: the claim's transaction is long gone
    refreshed = adapter.credentials_after_use()
    paused_until = getattr(adapter, "rate_limited_until", None)
    if isinstance(paused_until, datetime):  # Mastodon says when; Bluesky, epoch seconds
        paused_until = paused_until.timestamp()
    if paused_until:
        ratelimit.pause(account_id, paused_until)
    publication = _load(publication_id, lock=True)
    account = db.session.scalars(select(SocialAccount).where(
        SocialAccount.id == account_id).execution_options(populate_existing=True)).one()
    if refreshed is not None:
        account.credentials = seal(refreshed)
    if publication is None or publication.state not in (P.SENDING, P.UNKNOWN):
        db.session.commit()
        return "skipped"
    result = outcome(publication, account)
    db.session.commit()
    return result


# Reconciliation lives in reconcile.py; its entry point stays reachable here, beside
# publish, for the jobs and the tests.
from .reconcile import reconcile as reconcile  # noqa: E402  (it imports this module)

"""Publication writes outside the worker: scheduling approved posts, withdrawing them
when the post is edited, holding and releasing an account's work, and the agency's own
actions (retry, mark as published by hand). Services flush; the caller commits once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from flask_babel import gettext as _
from sqlalchemy import delete, func, select, update

from agency.audit.services import record
from agency.auth.services import ServiceError
from agency.content.models import Post, Revision
from agency.extensions import db
from agency.networks.models import AccountStatus, SocialAccount
from tenants.ids import new_id

from .models import HoldReason, Publication, PublicationState

P = PublicationState
# In someone's hands right now: the post cannot change under them.
IN_FLIGHT = (P.QUEUED, P.SENDING, P.UNKNOWN)
# Not started, or failed without publishing: an edit withdraws these.
WITHDRAWABLE = (P.SCHEDULED, P.HELD, P.RETRYING)


class PublicationAction:
    SCHEDULED = "publication.scheduled"
    RETRIED = "publication.retried"
    MARKED_PUBLISHED = "publication.marked_published"


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def idempotency_key(publication_id: uuid.UUID) -> str:
    return f"relais-{publication_id.hex}"


def schedule_post(post: Post) -> list[Publication]:
    """Create the publications of a post that has just been approved: one per target
    account, carrying the approved revision. Idempotent (the same revision and account
    never get two); an account that already published this post is skipped (an edit
    after a partial failure must not publish twice where it worked)."""
    revision = db.session.scalars(select(Revision).where(
        Revision.post_id == post.id, Revision.number == post.revision_number)).one()
    existing = set(db.session.scalars(select(Publication.social_account_id).where(
        Publication.post_id == post.id,
        (Publication.revision_id == revision.id) | (Publication.state == P.PUBLISHED),
    )))
    created = []
    for target in post.targets:
        account = target.account
        if account.id in existing:
            continue
        publication = Publication(
            id=new_id(), client_id=post.client_id, post_id=post.id,
            social_account_id=account.id, revision_id=revision.id,
            content_hash=revision.content_hash, network=account.network,
            scheduled_at=post.scheduled_at, due_at=post.scheduled_at,
        )
        publication.idempotency_key = idempotency_key(publication.id)
        if account.status != AccountStatus.CONNECTED:
            publication.state, publication.held_reason = P.HELD, HoldReason.ACCOUNT
        db.session.add(publication)
        created.append(publication)
    db.session.flush()
    if created:
        record(PublicationAction.SCHEDULED, post,
               details={"revision": revision.number, "accounts": len(created)})
    return created


def withdraw_for_edit(post: Post) -> None:
    """Before a post's content changes: withdraw the publications that have not gone out
    (the new content needs approving again). Refuses while one is being sent: what is
    in a worker's hands must finish first. History (published, failed) stays."""
    db.session.execute(
        delete(Publication).where(Publication.post_id == post.id,
                                  Publication.state.in_(WITHDRAWABLE))
        .execution_options(synchronize_session=False))
    busy = db.session.scalar(select(func.count()).select_from(Publication).where(
        Publication.post_id == post.id, Publication.state.in_(IN_FLIGHT)))
    if busy:
        raise ServiceError(_("This post is being published right now. Wait a minute, "
                             "then edit it."))


def hold_account(account: SocialAccount, reason: str) -> int:
    """The account's connection no longer works: mark it expired and hold its waiting
    publications (not fail them: they resume once it is reconnected). Returns how many
    were held."""
    account.status = AccountStatus.EXPIRED
    account.status_reason = reason[:500]
    result = db.session.execute(
        update(Publication).where(Publication.social_account_id == account.id,
                                  Publication.state.in_((P.SCHEDULED, P.RETRYING)))
        .values(state=P.HELD, held_reason=HoldReason.ACCOUNT)
        .execution_options(synchronize_session=False))
    db.session.flush()
    return result.rowcount


def account_reconnected(account: SocialAccount, *, now: datetime | None = None) -> int:
    """The account works again: what it held resumes (due now if its time has passed).
    Returns how many publications resumed."""
    now = now or datetime.now(UTC)
    account.status, account.status_reason = AccountStatus.CONNECTED, ""
    held = list(db.session.scalars(select(Publication).where(
        Publication.social_account_id == account.id, Publication.state == P.HELD,
        Publication.held_reason == HoldReason.ACCOUNT)))
    for publication in held:
        publication.state, publication.held_reason = P.SCHEDULED, ""
        publication.due_at = max(_utc(publication.scheduled_at), now)
    db.session.flush()
    return len(held)


def hold_client_billing(client) -> int:
    """The client's billing is not in good standing: hold its waiting publications (not
    fail them: nothing is lost, they resume when payment succeeds). Those already held
    for their account are held for billing instead, since billing must be settled first;
    ``resume_client_billing`` gives them back to their account. Idempotent. Returns how
    many were held."""
    result = db.session.execute(
        update(Publication).where(
            Publication.client_id == client.id,
            # Queued too: its job finds it no longer queued and leaves it (the worker's
            # claim is conditional); only work already being sent finishes.
            Publication.state.in_((P.SCHEDULED, P.RETRYING, P.QUEUED))
            | ((Publication.state == P.HELD) & (Publication.held_reason == HoldReason.ACCOUNT)))
        .values(state=P.HELD, held_reason=HoldReason.BILLING)
        .execution_options(synchronize_session=False))
    db.session.flush()
    return result.rowcount


def resume_client_billing(client, *, now: datetime | None = None) -> int:
    """The client's billing is in good standing again: what billing held resumes (due
    now if its time has passed), except on an account whose connection no longer works,
    which stays held for its account. Idempotent. Returns how many resumed."""
    now = now or datetime.now(UTC)
    held = list(db.session.scalars(select(Publication).where(
        Publication.client_id == client.id, Publication.state == P.HELD,
        Publication.held_reason == HoldReason.BILLING)))
    resumed = 0
    for publication in held:
        if publication.account.status != AccountStatus.CONNECTED:
            publication.held_reason = HoldReason.ACCOUNT
            continue
        publication.state, publication.held_reason = P.SCHEDULED, ""
        publication.due_at = max(_utc(publication.scheduled_at), now)
        resumed += 1
    db.session.flush()
    return resumed


def retry(publication: Publication, *, now: datetime | None = None) -> None:
    """The agency asks for another try of a failed publication, or of one whose outcome
    could not be settled (after checking it is not on the network)."""
    if publication.state not in (P.FAILED, P.NEEDS_ATTENTION):
        raise ServiceError(_("Only a failed publication can be retried."))
    from .queries import is_current

    if not is_current(publication):
        # An edit replaced what was approved: sending the old text now would publish
        # something nobody approved in its present form.
        raise ServiceError(_("This post was edited since: have the new version approved "
                             "instead."))
    publication.state = P.SCHEDULED
    publication.due_at = now or datetime.now(UTC)
    publication.attempts = 0
    publication.error_code = ""
    db.session.flush()
    record(PublicationAction.RETRIED, publication, details={"post": str(publication.post_id)})


def mark_published(publication: Publication, url: str, *, now: datetime | None = None) -> None:
    """The agency saw the post on the network (or posted it by hand): record it as
    published, with its link if given. Never sends anything."""
    if publication.state not in (P.FAILED, P.NEEDS_ATTENTION, P.UNKNOWN):
        raise ServiceError(_("Only a publication that failed or needs attention can be "
                             "marked as published."))
    url = (url or "").strip()
    if url and not url.startswith(("https://", "http://")):
        raise ServiceError(_("Give the full link, starting with https://."), field="url")
    publication.state = P.PUBLISHED
    publication.external_url = url[:1000]
    publication.published_at = now or datetime.now(UTC)
    publication.error_code = "manual"
    db.session.flush()
    record(PublicationAction.MARKED_PUBLISHED, publication,
           details={"post": str(publication.post_id), "url": publication.external_url})

"""Reads about publishing: a post's overall status derived from its publications, what
the post page shows per account, and the agency's health page (counts, and what needs a
person), always within the clients the membership may see.

A post keeps every publication it ever had (history stays). What counts now is, per
account, its latest publication, and only if it carries the post's current version or
went out: a failure of a version since edited is history, not a task.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, and_, exists, func, not_, or_, select
from sqlalchemy.orm import aliased

from agency.access import current_membership, visible_clients
from agency.clients.models import Client
from agency.content.models import Post, Revision
from agency.extensions import db
from agency.networks.models import SocialAccount
from tenants.models import Membership
from tenants.roles import Permission, has_permission

from .models import Publication, PublicationState

P = PublicationState

DUE_SOON = timedelta(hours=24)
LIST_LIMIT = 50
# A person must act on these; the machine handles the rest by itself.
NEEDS_PERSON = (P.FAILED, P.NEEDS_ATTENTION, P.HELD)
RETRYABLE = (P.FAILED, P.NEEDS_ATTENTION)
MARKABLE = (P.FAILED, P.NEEDS_ATTENTION, P.UNKNOWN)
IN_FLIGHT = (P.QUEUED, P.SENDING, P.RETRYING, P.UNKNOWN)


# --- a post's overall status -------------------------------------------------------------

class PostPublishing(StrEnum):
    NONE = "none"
    SCHEDULED = "scheduled"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    PARTIAL = "partially_published"
    FAILED = "failed"
    NEEDS_ATTENTION = "needs_attention"
    ON_HOLD = "on_hold"


STATUS_LABELS = {
    PostPublishing.NONE: _l("Not scheduled"),
    PostPublishing.SCHEDULED: _l("Scheduled"),
    PostPublishing.PUBLISHING: _l("Publishing"),
    PostPublishing.PUBLISHED: _l("Published"),
    PostPublishing.PARTIAL: _l("Partially published"),
    PostPublishing.FAILED: _l("Failed"),
    PostPublishing.NEEDS_ATTENTION: _l("Needs attention"),
    PostPublishing.ON_HOLD: _l("On hold"),
}


@dataclass(frozen=True)
class PublishingSummary:
    """Where a post stands on its networks, taken as a whole."""

    status: PostPublishing
    total: int  # accounts it goes out on
    published: int  # accounts it went out on
    counts: Mapping[PublicationState, int] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return str(STATUS_LABELS[self.status])

    @property
    def partial(self) -> bool:
        return 0 < self.published < self.total

    @property
    def progress(self) -> str:
        """"Published on 2 of 3", when some accounts have it and some do not."""
        if not self.partial:
            return ""
        return _("Published on %(done)d of %(total)d", done=self.published, total=self.total)

    @property
    def needs_action(self) -> bool:
        return any(self.counts.get(state) for state in NEEDS_PERSON)


def latest_per_account(publications: Iterable[Publication]) -> list[Publication]:
    """Each account's latest publication (ids are time-ordered), in account order."""
    latest: dict[uuid.UUID, Publication] = {}
    for publication in publications:
        held = latest.get(publication.social_account_id)
        if held is None or publication.id > held.id:
            latest[publication.social_account_id] = publication
    return sorted(latest.values(), key=_account_order)


def _account_order(publication: Publication):
    account = publication.account
    return (publication.network, account.display_name if account else "", publication.id)


def summary(publications: Iterable[Publication]) -> PublishingSummary:
    """A post's publishing status from its publications (each account counted once, by
    its latest). Published everywhere is "published"; some accounts published while
    another failed is "partially published" (a real state: it did go out there); a
    question only a person can answer comes first ("needs attention"), then a failure,
    then an account on hold, then whatever is still in the engine's hands."""
    current = latest_per_account(publications)
    counts = Counter(p.state for p in current)
    total, published = len(current), counts[P.PUBLISHED]
    if total == 0:
        status = PostPublishing.NONE
    elif published == total:
        status = PostPublishing.PUBLISHED
    elif counts[P.NEEDS_ATTENTION]:
        status = PostPublishing.NEEDS_ATTENTION
    elif counts[P.FAILED]:
        status = PostPublishing.PARTIAL if published else PostPublishing.FAILED
    elif counts[P.HELD]:
        status = PostPublishing.ON_HOLD
    elif any(counts[state] for state in IN_FLIGHT):
        status = PostPublishing.PUBLISHING
    else:
        status = PostPublishing.SCHEDULED
    return PublishingSummary(status, total, published, dict(counts))


# --- which publications count now --------------------------------------------------------

def _is_current() -> ColumnElement[bool]:
    """No later publication for the same post and account, and either it went out or it
    carries the post's current version."""
    newer = aliased(Publication)
    return and_(
        not_(exists().where(newer.post_id == Publication.post_id,
                            newer.social_account_id == Publication.social_account_id,
                            newer.id > Publication.id)),
        or_(Publication.state == P.PUBLISHED,
            exists().where(Revision.id == Publication.revision_id,
                           Post.id == Publication.post_id,
                           Revision.number == Post.revision_number)),
    )


def is_current(publication: Publication) -> bool:
    """Whether this publication still stands for its post on its account (not replaced
    by a later one, nor left behind by an edit)."""
    return bool(db.session.scalar(select(exists().where(
        Publication.id == publication.id, _is_current()))))


def _visible(membership: Membership | None) -> ColumnElement[bool] | None:
    membership = membership or current_membership()
    if has_permission(membership.role, Permission.CLIENT_VIEW_ALL):
        return None  # every client of the agency: the tenant scope is the whole filter
    return Publication.client_id.in_(
        visible_clients(membership).with_only_columns(Client.id).scalar_subquery())


def current_by_post(post_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[Publication]]:
    """The publications that count now, for each of these posts (absent: none)."""
    ids = list(dict.fromkeys(post_ids))
    found: dict[uuid.UUID, list[Publication]] = {}
    if not ids:
        return found
    for publication in db.session.scalars(
            select(Publication).where(Publication.post_id.in_(ids), _is_current())):
        found.setdefault(publication.post_id, []).append(publication)
    return found


def summaries(post_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, PublishingSummary]:
    """Each post's publishing status (posts with no publication are left out)."""
    return {post_id: summary(found) for post_id, found in current_by_post(post_ids).items()}


# --- the post page -----------------------------------------------------------------------

@dataclass(frozen=True)
class PostPublications:
    summary: PublishingSummary
    current: list[Publication]  # one per account, what counts now
    history: list[Publication]  # earlier attempts, newest first

    def __bool__(self) -> bool:
        return bool(self.current or self.history)


def for_post(post: Post) -> PostPublications:
    """What the post page shows: per account, the publication that counts now, and the
    earlier ones (a version since edited, a failure since retried elsewhere)."""
    everything = list(db.session.scalars(
        select(Publication).where(Publication.post_id == post.id)))
    current_ids = set(db.session.scalars(select(Publication.id).where(
        Publication.post_id == post.id, _is_current())))
    current = latest_per_account(p for p in everything if p.id in current_ids)
    history = sorted((p for p in everything if p.id not in current_ids),
                     key=lambda p: p.id, reverse=True)
    return PostPublications(summary(current), current, history)


def retryable(publication: Publication) -> bool:
    return publication.state in RETRYABLE


def markable(publication: Publication) -> bool:
    return publication.state in MARKABLE


# --- the health page ---------------------------------------------------------------------

HEALTH_COUNTS = ("due_soon", P.QUEUED, P.SENDING, P.RETRYING, P.UNKNOWN, P.NEEDS_ATTENTION,
                 P.FAILED, P.HELD)
# The tables of the health page, most urgent first.
HEALTH_LISTS = (P.FAILED, P.NEEDS_ATTENTION, P.HELD, P.RETRYING, P.UNKNOWN)


@dataclass(frozen=True)
class HealthRow:
    publication: Publication
    post: Post
    client: Client

    @property
    def account(self) -> SocialAccount:
        return self.publication.account


@dataclass(frozen=True)
class Health:
    counts: dict[str, int]
    lists: dict[PublicationState, list[HealthRow]]

    @property
    def attention(self) -> int:
        return sum(self.counts[str(state)] for state in NEEDS_PERSON)

    def more(self, state: PublicationState) -> int:
        """How many rows of ``state`` the page leaves out."""
        return max(0, self.counts[str(state)] - len(self.lists[state]))


def _scope(membership: Membership | None) -> list[ColumnElement[bool]]:
    visible = _visible(membership)
    return [_is_current()] + ([visible] if visible is not None else [])


def health(membership: Membership | None = None, *, now: datetime | None = None,
           limit: int = LIST_LIMIT) -> Health:
    """Counts by state, and the publications that need a person (or are being retried
    or checked), for the clients this membership may see."""
    now = now or datetime.now(UTC)
    scope = _scope(membership)
    counts = {str(key): 0 for key in HEALTH_COUNTS}
    for state, number in db.session.execute(
            select(Publication.state, func.count()).where(
                Publication.state != P.PUBLISHED, *scope).group_by(Publication.state)):
        if str(state) in counts:
            counts[str(state)] = number
    counts["due_soon"] = db.session.scalar(select(func.count()).select_from(Publication).where(
        Publication.state == P.SCHEDULED, Publication.due_at <= now + DUE_SOON, *scope)) or 0
    lists = {state: _rows(state, scope, limit) if counts[str(state)] else []
             for state in HEALTH_LISTS}
    return Health(counts, lists)


_ORDER = {
    P.FAILED: (Publication.updated_at.desc(), Publication.id.desc()),
    P.NEEDS_ATTENTION: (Publication.updated_at.desc(), Publication.id.desc()),
    P.HELD: (Publication.scheduled_at, Publication.id),
    P.RETRYING: (Publication.due_at, Publication.id),
    P.UNKNOWN: (Publication.due_at, Publication.id),
}


def _rows(state: PublicationState, scope, limit: int) -> list[HealthRow]:
    rows = db.session.execute(
        select(Publication, Post, Client)
        .join(Post, Post.id == Publication.post_id)
        .join(Client, Client.id == Publication.client_id)
        .where(Publication.state == state, *scope)
        .order_by(*_ORDER[state]).limit(limit))
    return [HealthRow(publication, post, client) for publication, post, client in rows]


def attention_count(membership: Membership | None = None) -> int:
    """How many publications wait for a person (the badge in the navigation)."""
    return db.session.scalar(select(func.count()).select_from(Publication).where(
        Publication.state.in_(NEEDS_PERSON), *_scope(membership))) or 0

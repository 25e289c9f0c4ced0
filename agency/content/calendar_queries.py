"""Reads for the content calendar: the period shown, the filters, and the posts in them.

Every query starts from ``visible_clients()`` (or one client already loaded through
``client_for_view``), so a member never sees a post of a client they are not assigned to.
Dates are days in the timezone shown; they become UTC bounds only here.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, exists, select

from agency.access import visible_clients
from agency.auth.models import User
from agency.clients.models import Client
from agency.extensions import db
from agency.networks.models import SocialAccount
from tenants.models import Membership

from .models import Post, PostStatus, PostTarget
from .slots import as_utc, client_zone

VIEWS = ("month", "week", "list")
UNSCHEDULED_LIMIT = 50


# --- the period shown ---------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    view: str
    anchor: date  # the date asked for
    start: date  # first day shown
    end: date  # the day after the last day shown
    first: date  # first day of the month or week itself (the month grid pads around it)
    prev: date
    next: date

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days)]

    @property
    def weeks(self) -> list[list[date]]:
        days = self.days
        return [days[i:i + 7] for i in range(0, len(days), 7)]

    def in_period(self, day: date) -> bool:
        """Whether ``day`` belongs to the month (or week) itself, not to its padding."""
        if self.view == "week":
            return True
        return day.month == self.first.month and day.year == self.first.year


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def period_for(view: str, anchor: date) -> Period:
    """The days a view shows around ``anchor``: the month (padded to whole weeks for the
    grid, exact for the list) or the Monday-to-Sunday week."""
    if view == "week":
        monday = anchor - timedelta(days=anchor.weekday())
        return Period(view, anchor, monday, monday + timedelta(days=7), monday,
                      anchor - timedelta(days=7), anchor + timedelta(days=7))
    first = anchor.replace(day=1)
    following = _add_months(first, 1)
    if view == "list":
        start, end = first, following
    else:
        start = first - timedelta(days=first.weekday())
        last = following - timedelta(days=1)
        end = last + timedelta(days=7 - last.weekday())
    return Period(view, anchor, start, end, first, _add_months(first, -1), following)


def parse_view(value: str | None) -> str:
    return value if value in VIEWS else "month"


def parse_day(value: str | None) -> date | None:
    try:
        return date.fromisoformat((value or "").strip())
    except ValueError:
        return None


# --- filters ------------------------------------------------------------------------------

def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID((value or "").strip())
    except ValueError:
        return None


@dataclass(frozen=True)
class Filters:
    """What the query string asks for. Unreadable values are left out rather than refused:
    a filter narrows what one may see, it never widens it."""

    client_id: uuid.UUID | None = None
    network: str | None = None
    status: PostStatus | None = None
    label: str | None = None
    author_id: uuid.UUID | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str], *, allow_client: bool) -> Filters:
        status = args.get("status") or ""
        label = (args.get("label") or "").strip()[:40]
        return cls(
            client_id=_uuid(args.get("client")) if allow_client else None,
            network=(args.get("network") or "").strip()[:32] or None,
            status=PostStatus(status) if status in PostStatus._value2member_map_ else None,
            label=label or None,
            author_id=_uuid(args.get("author")),
        )

    def as_args(self) -> dict[str, str]:
        """The query-string form, for links that keep the filters (navigation)."""
        values = {"client": self.client_id, "network": self.network,
                  "status": self.status.value if self.status else None,
                  "label": self.label, "author": self.author_id}
        return {k: str(v) for k, v in values.items() if v}

    @property
    def active(self) -> bool:
        return bool(self.as_args())


# --- posts --------------------------------------------------------------------------------

@dataclass
class Entry:
    """A post as the calendar shows it: in the timezone shown, and in its client's."""

    post: Post
    client: Client
    local: datetime | None  # in the timezone shown
    client_local: datetime | None  # in the client's own timezone (reschedule works in it)
    networks: list[str] = field(default_factory=list)

    @property
    def day(self) -> date | None:
        return self.local.date() if self.local else None

    @property
    def sort_key(self) -> str:
        # UTC, so that text order is time order even on a daylight-saving day.
        return self.local.astimezone(UTC).isoformat() if self.local else ""


def day_bounds(start: date, end: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants of local midnight on ``start`` and on ``end``."""
    return (datetime.combine(start, time(), tzinfo=zone).astimezone(UTC),
            datetime.combine(end, time(), tzinfo=zone).astimezone(UTC))


def clients_in_view(client: Client | None) -> Select:
    """The clients whose posts a calendar may show: one client, or every visible,
    active one."""
    if client is not None:
        return select(Client).where(Client.id == client.id)
    return visible_clients().where(Client.archived_at.is_(None))


def _filtered(query: Select, clients: Select, filters: Filters) -> Select:
    query = query.where(Post.client_id.in_(clients.with_only_columns(Client.id)
                                           .scalar_subquery()))
    if filters.client_id:
        query = query.where(Post.client_id == filters.client_id)
    if filters.status:
        query = query.where(Post.status == filters.status)
    if filters.author_id:
        query = query.where(Post.author_user_id == filters.author_id)
    if filters.network:
        query = query.where(exists().where(
            PostTarget.post_id == Post.id,
            SocialAccount.id == PostTarget.social_account_id,
            SocialAccount.network == filters.network,
        ))
    return query


def _has_label(post: Post, label: str | None) -> bool:
    # Labels live in a JSON list; matched here, portably, on rows already bounded by date.
    if not label:
        return True
    wanted = label.casefold()
    return any(str(item).casefold() == wanted for item in post.labels or [])


def _entries(posts: list[Post], zone: ZoneInfo) -> list[Entry]:
    ids = {p.client_id for p in posts}
    clients = ({c.id: c for c in db.session.scalars(select(Client).where(Client.id.in_(ids)))}
               if ids else {})
    entries = []
    for post in posts:
        client = clients[post.client_id]
        moment = as_utc(post.scheduled_at) if post.scheduled_at else None
        entries.append(Entry(
            post=post, client=client,
            local=moment.astimezone(zone) if moment else None,
            client_local=moment.astimezone(client_zone(client)) if moment else None,
            networks=sorted({t.account.network for t in post.targets}),
        ))
    return entries


def entry_for(post: Post, zone: ZoneInfo) -> Entry:
    """One post as the calendar shows it (after a move, say)."""
    return _entries([post], zone)[0]


def scheduled_entries(clients: Select, filters: Filters, start: date, end: date,
                      zone: ZoneInfo) -> list[Entry]:
    """Posts scheduled from ``start`` to the day before ``end``, days taken in ``zone``,
    by time."""
    low, high = day_bounds(start, end, zone)
    query = _filtered(select(Post), clients, filters).where(
        Post.scheduled_at >= low, Post.scheduled_at < high,
    ).order_by(Post.scheduled_at, Post.id)
    posts = [p for p in db.session.scalars(query) if _has_label(p, filters.label)]
    return _entries(posts, zone)


def unscheduled_entries(clients: Select, filters: Filters, zone: ZoneInfo,
                        limit: int = UNSCHEDULED_LIMIT) -> list[Entry]:
    """Posts without a time yet, newest first (at most ``limit``)."""
    query = _filtered(select(Post), clients, filters).where(
        Post.scheduled_at.is_(None)
    ).order_by(Post.created_at.desc(), Post.id.desc())
    if not filters.label:
        query = query.limit(limit)
    posts = [p for p in db.session.scalars(query) if _has_label(p, filters.label)]
    return _entries(posts[:limit], zone)


def labels_of(entries: list[Entry]) -> list[str]:
    """The labels in use among ``entries``, to suggest in the label filter."""
    seen: dict[str, str] = {}
    for entry in entries:
        for label in entry.post.labels or []:
            seen.setdefault(str(label).casefold(), str(label))
    return sorted(seen.values(), key=str.casefold)


def filter_clients() -> list[Client]:
    return list(db.session.scalars(
        visible_clients().where(Client.archived_at.is_(None)).order_by(Client.name)
    ))


def authors() -> list[tuple[uuid.UUID, str]]:
    """The agency's staff, by name: who may have written a post."""
    rows = db.session.execute(
        select(User.id, User.name).join(Membership, Membership.user_id == User.id)
        .order_by(User.name)
    )
    return [(row.id, row.name) for row in rows]

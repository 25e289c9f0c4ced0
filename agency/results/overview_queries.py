"""The agency overview: every client the signed-in person may see, this month against
last month, with a flag on those falling behind.

Each client's months are its own (its timezone). The reads are a fixed set of queries
however many clients there are: the visible clients, the publications of every one of
them over the widest span their two months cover (each row is then placed in its own
client's months), the follower readings at every client's boundaries, the slots, and
the posts waiting for an approval.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from agency.access import visible_clients
from agency.clients.models import Client
from agency.content.models import Post, PostStatus
from agency.content.slots import client_zone
from agency.extensions import db

from .periods import Period, current_month
from .readings import (
    Figures,
    figures_of,
    follower_readings,
    follower_totals,
    planned_posts,
    publication_figures,
    slots_of,
)

BEHIND = "behind"  # fewer posts than the slots planned so far this month
ENGAGEMENT_DROP = "engagement_drop"  # engagement rate down by more than DROP
APPROVALS_WAITING = "approvals_waiting"  # posts waiting for an approval
DROP = 0.20
# Waiting for someone's approval: the client's, or a manager's internal review.
WAITING = (PostStatus.AWAITING_CLIENT, PostStatus.IN_REVIEW)


@dataclass
class ClientLine:
    client: Client
    month: Period  # this month, in the client's timezone
    this_month: Figures
    last_month: Figures
    planned: int | None  # slot times in the whole month; None: no slots, no plan
    planned_so_far: int | None  # slot times of this month already past
    waiting: int  # posts waiting for an approval
    flags: list[str] = field(default_factory=list)

    @property
    def falling_behind(self) -> bool:
        return bool(self.flags)


def _flags(line: ClientLine) -> list[str]:
    flags = []
    if line.planned_so_far is not None and line.this_month.posts < line.planned_so_far:
        flags.append(BEHIND)
    now_rate, then_rate = line.this_month.engagement_rate, line.last_month.engagement_rate
    if now_rate is not None and then_rate and now_rate < then_rate * (1 - DROP):
        flags.append(ENGAGEMENT_DROP)
    if line.waiting:
        flags.append(APPROVALS_WAITING)
    return flags


def _waiting(ids) -> dict:
    return dict(db.session.execute(
        select(Post.client_id, func.count(Post.id))
        .where(Post.client_id.in_(ids), Post.status.in_(WAITING))
        .group_by(Post.client_id)).all())


def overview(now: datetime | None = None) -> list[ClientLine]:
    """One line per active client the membership may see (members: only the clients
    they are assigned to), by name. ``now`` decides "this month" in each client's
    timezone and which readings count (taken by then)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    clients = list(db.session.scalars(
        visible_clients().where(Client.archived_at.is_(None))
        .order_by(func.lower(Client.name), Client.id)))
    if not clients:
        return []
    ids = [c.id for c in clients]
    months = {c.id: current_month(client_zone(c), now) for c in clients}
    earliest = min(m.previous().start for m in months.values())
    latest = max(m.end for m in months.values())
    rows_by_client = defaultdict(list)
    for row in publication_figures(ids, earliest, latest, now):
        rows_by_client[row.client_id].append(row)
    boundaries = set()
    for month in months.values():
        before = month.previous()
        boundaries |= {before.first - timedelta(days=1), before.last, month.last}
    accounts_by_client = defaultdict(list)
    for account in follower_readings(ids, boundaries, now):
        accounts_by_client[account.client_id].append(account)
    slots = slots_of(ids)
    waiting = _waiting(ids)

    lines = []
    for client in clients:
        month, rows = months[client.id], rows_by_client[client.id]
        before = month.previous()
        this = figures_of(r for r in rows if month.contains(r.published_at))
        last = figures_of(r for r in rows if before.contains(r.published_at))
        accounts = accounts_by_client[client.id]
        this.followers, this.follower_growth = follower_totals(accounts, month)
        last.followers, last.follower_growth = follower_totals(accounts, before)
        own_slots = slots.get(client.id, [])
        line = ClientLine(client, month, this, last, planned_posts(own_slots, month),
                          planned_posts(own_slots, month, until=now),
                          waiting.get(client.id, 0))
        line.flags = _flags(line)
        lines.append(line)
    return lines

"""The posts a month a client's plan allows, checked when a post enters the approval
flow (``submit_post``): from then on it counts as planned for its month. Any later
change to its content or time sends it back to draft, so it is checked again when it
is submitted again. Billing off (local mode), nothing is limited.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from agency.clients.models import Client
from agency.extensions import db
from billing import hooks as billing

from .models import Post, PostStatus


def month_of(moment: datetime, timezone: str) -> tuple[datetime, datetime, datetime]:
    """The client's calendar month holding ``moment``: its first local day, and its
    bounds as UTC instants [start, end)."""
    zone = ZoneInfo(timezone)
    local = moment.astimezone(zone)
    first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (first + timedelta(days=32)).replace(day=1)
    # Rebuilt from wall-clock fields: the offset at the month's start may differ from
    # the moment's (summer time), and replace() keeps the old one.
    start = datetime(first.year, first.month, 1, tzinfo=zone)
    end = datetime(following.year, following.month, 1, tzinfo=zone)
    return first, start.astimezone(UTC), end.astimezone(UTC)


def check_monthly_posts(post: Post, client: Client) -> None:
    """Refuse ``post`` (raises ``ServiceError``) when its month already has all the
    posts the client's plan allows."""
    if post.scheduled_at is None or not billing.limits_apply():
        return
    scheduled = post.scheduled_at if post.scheduled_at.tzinfo else post.scheduled_at.replace(
        tzinfo=UTC)
    first, start, end = month_of(scheduled, client.timezone)
    planned = db.session.scalar(select(func.count()).select_from(Post).where(
        Post.client_id == client.id, Post.id != post.id, Post.status != PostStatus.DRAFT,
        Post.scheduled_at >= start, Post.scheduled_at < end))
    billing.check_posts(client, planned, first)

"""When a published post is read: an hour, a day, a week and a month after it went out.

A reading is due once the post reaches one of those ages and nothing was read since it
did. A reading that fails is simply due again at the next collection (every hour), so
the month's reading gets a week of grace; after that, a post is read again only if it
was never read at all (an account reconnected after a long pause, say), and never past
``HORIZON``, so a post the network no longer has stops being asked for.

Kept in step with the SQL of migration 0013 (``relais_metrics_due``): the tests run both.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

AGES = (timedelta(hours=1), timedelta(hours=24), timedelta(days=7), timedelta(days=30))
GRACE = timedelta(days=7)  # for the last reading, after AGES[-1]
HORIZON = timedelta(days=90)  # never read, and this old: given up


def utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime (SQLite hands back naive UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def milestone(age: timedelta) -> timedelta | None:
    """The last reading age reached at ``age``, or None before the first."""
    reached = [a for a in AGES if a <= age]
    return reached[-1] if reached else None


def reading_due(published_at: datetime, last_taken_at: datetime | None,
                now: datetime) -> bool:
    """Whether a post published at ``published_at``, last read at ``last_taken_at``
    (None: never), should be read at ``now``."""
    published_at, now = utc(published_at), utc(now)
    age = now - published_at
    reached = milestone(age)
    if reached is None or age >= HORIZON:
        return False
    if last_taken_at is None:
        return True
    if age >= AGES[-1] + GRACE:
        return False
    return utc(last_taken_at) < published_at + reached


def local_day(timezone: str, now: datetime) -> date:
    """The client's day at ``now`` (UTC when its time zone is unknown, as in SQL)."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        zone = ZoneInfo("UTC")
    return utc(now).astimezone(zone).date()

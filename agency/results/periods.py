"""The period a result is about: a month, the last 30 days or chosen dates, in the
CLIENT's timezone, turned into UTC bounds ``[start, end)``.

A period is a run of the client's local days, first and last included; its bounds are
local midnights, so a month that holds a change of the clocks lasts 743 or 745 hours,
and a post published at 23:30 on the last evening belongs to it. ``previous()`` is the
period of the same kind just before (the month before; as many days just before).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask_babel import format_date
from flask_babel import gettext as _

MONTH = "month"
LAST_30 = "last30"
RANGE = "range"
LAST_DAYS = 30
MAX_DAYS = 731  # two years and a day: what a dashboard or an export may span
_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_YEARS = (2000, 2100)  # outside these a date is a typing mistake, not a period


class PeriodError(ValueError):
    """The period asked for cannot be understood; the message is for a person."""


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    # Midnight exists in almost every zone; where a change skips it, zoneinfo places the
    # instant just after the gap, the same way for both sides of a boundary.
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True)
class Period:
    kind: str  # MONTH, LAST_30 or RANGE
    first: date  # the first local day, included
    last: date  # the last local day, included
    zone: ZoneInfo

    @property
    def start(self) -> datetime:
        """The first instant of the period (aware, UTC)."""
        return _midnight(self.first, self.zone)

    @property
    def end(self) -> datetime:
        """The first instant after the period (aware, UTC)."""
        return _midnight(self.last + timedelta(days=1), self.zone)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600

    def each_day(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range(self.days)]

    def contains(self, moment: datetime) -> bool:
        if moment.tzinfo is None:  # SQLite hands back naive UTC
            moment = moment.replace(tzinfo=UTC)
        return self.start <= moment < self.end

    def local_day(self, moment: datetime) -> date:
        """The client's calendar day of an instant."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(self.zone).date()

    def previous(self) -> Period:
        if self.kind == MONTH:
            last = self.first - timedelta(days=1)
            return Period(MONTH, last.replace(day=1), last, self.zone)
        last = self.first - timedelta(days=1)
        return Period(self.kind, last - timedelta(days=self.days - 1), last, self.zone)

    @property
    def query(self) -> dict[str, str]:
        """The URL parameters that ask for this period again."""
        if self.kind == MONTH:
            return {"period": self.first.strftime("%Y-%m")}
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}

    @property
    def slug(self) -> str:
        """For file names: ``2026-10`` or ``2026-10-01_2026-10-31``."""
        if self.kind == MONTH:
            return self.first.strftime("%Y-%m")
        return f"{self.first.isoformat()}_{self.last.isoformat()}"

    def label(self) -> str:
        """"October 2026", or "1 Oct 2026 – 30 Oct 2026", in the reader's language."""
        if self.kind == MONTH:
            return format_date(self.first, "LLLL yyyy")
        return f"{format_date(self.first, 'medium')} – {format_date(self.last, 'medium')}"


def month(year: int, number: int, zone: ZoneInfo) -> Period:
    first = date(year, number, 1)
    return Period(MONTH, first, first.replace(day=calendar.monthrange(year, number)[1]), zone)


def month_of(day: date, zone: ZoneInfo) -> Period:
    return month(day.year, day.month, zone)


def today_in(zone: ZoneInfo, now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(zone).date()


def current_month(zone: ZoneInfo, now: datetime | None = None) -> Period:
    return month_of(today_in(zone, now), zone)


def last_days(zone: ZoneInfo, now: datetime | None = None, count: int = LAST_DAYS) -> Period:
    """The last ``count`` days, today included."""
    today = today_in(zone, now)
    return Period(LAST_30, today - timedelta(days=count - 1), today, zone)


def between(first: date, last: date, zone: ZoneInfo) -> Period:
    """The days from ``first`` to ``last``, included; exactly a calendar month is that
    month (so the period before it is the month before, not as many days)."""
    if last < first:
        raise PeriodError(_("The end date must not be before the start date."))
    if (last - first).days + 1 > MAX_DAYS:
        raise PeriodError(_("Choose at most %(n)d days.", n=MAX_DAYS))
    whole = month(first.year, first.month, zone)
    if (first, last) == (whole.first, whole.last):
        return whole
    return Period(RANGE, first, last, zone)


def _year_ok(year: int) -> bool:
    return _YEARS[0] <= year <= _YEARS[1]


def _parse_date(value: str) -> date:
    value = (value or "").strip()
    try:
        if not _DATE_RE.match(value):
            raise ValueError
        day = date.fromisoformat(value)
    except ValueError:
        raise PeriodError(_("Write the dates as YYYY-MM-DD, for example 2026-10-01.")
                          ) from None
    if not _year_ok(day.year):
        raise PeriodError(_("Choose a date between %(first)d and %(last)d.",
                            first=_YEARS[0], last=_YEARS[1]))
    return day


def parse(args, zone: ZoneInfo, now: datetime | None = None) -> Period:
    """The period a request's parameters ask for: ``period=2026-10`` (a month),
    ``period=last30``, or ``from=2026-10-01&to=2026-10-31``; the current month when none
    is given. Raises ``PeriodError`` with a message for a person on anything else."""
    start, stop = args.get("from"), args.get("to")
    if start or stop:
        if not (start and stop):
            raise PeriodError(_("Give both a start and an end date."))
        return between(_parse_date(start), _parse_date(stop), zone)
    value = (args.get("period") or "").strip()
    if not value:
        return current_month(zone, now)
    if value == LAST_30:
        return last_days(zone, now)
    match = _MONTH_RE.match(value)
    if not match or not 1 <= int(match.group(2)) <= 12 or not _year_ok(int(match.group(1))):
        raise PeriodError(_("Write the month as YYYY-MM, for example 2026-10."))
    return month(int(match.group(1)), int(match.group(2)), zone)

"""A client's publishing slots: adding and removing them (writes flush, never commit) and
finding the next free one.

Slots are wall-clock times in the client's timezone; they become UTC instants only for a
given date, so "Tuesday 10:00" is 10:00 for the client in winter and in summer alike.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from agency.audit.services import record
from agency.auth.services import ServiceError
from agency.clients.models import Client
from agency.extensions import db

from .models import Post
from .slot_models import TimeSlot

WEEKDAYS = (_l("Monday"), _l("Tuesday"), _l("Wednesday"), _l("Thursday"), _l("Friday"),
            _l("Saturday"), _l("Sunday"))
WEEKDAYS_SHORT = (_l("Mon"), _l("Tue"), _l("Wed"), _l("Thu"), _l("Fri"), _l("Sat"), _l("Sun"))
MAX_SLOTS = 50  # a week of slots; more is a mistake, not a plan
_HH_MM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class SlotAction:
    ADDED = "slot.added"
    REMOVED = "slot.removed"


def client_zone(client: Client) -> ZoneInfo:
    """The client's timezone; the agency default if the stored name is unknown here."""
    try:
        return ZoneInfo(client.timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])


def as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:  # SQLite hands back naive UTC
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def local_instant(day: date, clock: time, zone: ZoneInfo) -> datetime | None:
    """``day`` at ``clock`` in ``zone``, as UTC; ``None`` when that wall-clock time does not
    exist (skipped by a daylight-saving change). An ambiguous time (clocks going back)
    is its first occurrence."""
    local = datetime.combine(day, clock, tzinfo=zone)
    utc = local.astimezone(UTC)
    if utc.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        return None
    return utc


def parse_time_of_day(value: str) -> time:
    match = _HH_MM.match((value or "").strip())
    if not match:
        raise ServiceError(_("Write the time as HH:MM, for example 12:30."),
                           field="time_of_day")
    return time(int(match.group(1)), int(match.group(2)))


def _parse_weekday(value) -> int:
    try:
        weekday = int(value)
    except (TypeError, ValueError):
        weekday = -1
    if not 0 <= weekday <= 6:
        raise ServiceError(_("Choose a day of the week."), field="weekday")
    return weekday


def slot_label(slot: TimeSlot) -> str:
    """"Tue 12:30", in the reader's language."""
    return f"{WEEKDAYS_SHORT[slot.weekday]} {slot.time_of_day}"


def slots_of(client: Client) -> list[TimeSlot]:
    """The client's slots, Monday first, then by time."""
    return list(db.session.scalars(
        select(TimeSlot).where(TimeSlot.client_id == client.id)
        .order_by(TimeSlot.weekday, TimeSlot.time_of_day)
    ))


def add_slot(client: Client, weekday, time_of_day: str) -> TimeSlot:
    """Add a weekly slot. Refuses (nothing written) a bad day or time, a slot the client
    already has, or an archived client."""
    if client.archived_at is not None:
        raise ServiceError(_("This client is archived: restore it first."))
    day = _parse_weekday(weekday)
    clock = parse_time_of_day(time_of_day).strftime("%H:%M")
    existing = slots_of(client)
    if any(s.weekday == day and s.time_of_day == clock for s in existing):
        raise ServiceError(_("This slot already exists."), field="time_of_day")
    if len(existing) >= MAX_SLOTS:
        raise ServiceError(_("A client has at most %(n)d slots.", n=MAX_SLOTS))
    slot = TimeSlot(client_id=client.id, weekday=day, time_of_day=clock)
    db.session.add(slot)
    db.session.flush()
    record(SlotAction.ADDED, slot, details={"client": str(client.id),
                                            "slot": f"{day} {clock}"})
    return slot


def remove_slot(slot: TimeSlot) -> None:
    """Remove a slot. Posts already placed on it keep their time."""
    record(SlotAction.REMOVED, slot, details={"client": str(slot.client_id),
                                              "slot": f"{slot.weekday} {slot.time_of_day}"})
    db.session.delete(slot)
    db.session.flush()


def next_free_slot(client: Client, after: datetime) -> datetime | None:
    """The first slot instant (UTC) strictly after ``after`` at which no post of this client
    is scheduled, or ``None`` if the client has no slots.

    Each slot is placed on the calendar in the client's timezone date by date, so it keeps
    its wall-clock time across daylight-saving changes; a slot time that a change skips
    that day is left out for that day.
    """
    slots = slots_of(client)
    if not slots:
        return None
    after = as_utc(after)
    zone = client_zone(client)
    taken = {
        as_utc(moment).replace(second=0, microsecond=0)
        for moment in db.session.scalars(
            select(Post.scheduled_at).where(Post.client_id == client.id,
                                            Post.scheduled_at > after)
        )
    }
    clocks: dict[int, list[time]] = {}
    for slot in slots:
        clocks.setdefault(slot.weekday, []).append(parse_time_of_day(slot.time_of_day))
    # Every taken instant blocks at most one candidate, and a skipped time at most one a
    # year per slot: past this many weeks a free slot has been found.
    weeks = len(taken) // len(slots) + 3
    first_day = after.astimezone(zone).date()
    for offset in range(weeks * 7):
        day = first_day + timedelta(days=offset)
        for clock in clocks.get(day.weekday(), ()):
            instant = local_instant(day, clock, zone)
            if instant is not None and instant > after and instant not in taken:
                return instant
    return None

"""The readings results are computed from, read with a fixed number of queries however
many posts there are: each publication's newest snapshot (as of a time), followers per
account at chosen days, and the client's publishing slots.

Shared by the client dashboard (``queries.py``), the agency overview
(``overview_queries.py``), the export and the API. Every query starts from tenant-scoped
models; the callers pass clients they have already loaded through the access rules.
"""

from __future__ import annotations

import uuid
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, case, func, or_, select

from agency.content.models import Revision
from agency.content.slot_models import TimeSlot
from agency.content.slots import local_instant, parse_time_of_day
from agency.extensions import db
from agency.media.models import Media, MediaKind
from agency.publishing.models import Publication, PublicationState

from .models import POST_COUNTERS, AccountMetricDay, PostMetricSnapshot
from .periods import Period

COUNTERS = POST_COUNTERS
ENGAGEMENT = ("reactions", "comments", "shares", "saves")
EXCERPT_LENGTH = 140


def aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def excerpt(text: str, length: int = EXCERPT_LENGTH) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= length else flat[: length - 1].rstrip() + "…"


# --- one publication's figure -------------------------------------------------------------

@dataclass
class PostFigure:
    """One publication (a post on one account) and its newest reading as of the time
    asked. ``counters`` holds ``None`` for what the network does not report."""

    publication_id: uuid.UUID
    post_id: uuid.UUID
    client_id: uuid.UUID
    network: str
    published_at: datetime  # aware, UTC
    external_url: str
    revision_id: uuid.UUID
    measured_at: datetime | None  # when the reading was taken; None: no reading yet
    counters: dict[str, int | None]
    text: str = ""  # an excerpt of what was published, where the caller asked for it
    media_id: uuid.UUID | None = None  # its first image, where the caller asked for it

    @property
    def measured(self) -> bool:
        return self.measured_at is not None

    @property
    def engagement(self) -> int | None:
        """Reactions + comments + shares + saves; ``None`` if the network reports none."""
        values = [self.counters[name] for name in ENGAGEMENT]
        if all(v is None for v in values):
            return None
        return sum(v for v in values if v is not None)

    @property
    def rate_base(self) -> int | None:
        """What the engagement is divided by: reach, or impressions where reach is unknown."""
        reach = self.counters["reach"]
        return reach if reach is not None else self.counters["impressions"]

    @property
    def engagement_rate(self) -> float | None:
        engagement, base = self.engagement, self.rate_base
        if engagement is None or not base:
            return None
        return engagement / base

    def __getattr__(self, name: str):
        # ``figure.reach`` in templates and the CSV, like the snapshot's own columns.
        if name in COUNTERS:
            return self.counters[name]
        raise AttributeError(name)


def publication_figures(client_ids: Sequence[uuid.UUID], start: datetime, end: datetime,
                        as_of: datetime, *, with_text: bool = False) -> list[PostFigure]:
    """The publications of these clients published in ``[start, end)`` (and not after
    ``as_of``), oldest first, each with its newest reading taken at or before ``as_of``.

    Two queries, whatever the number of posts: the publications, and their newest
    readings (ranked per publication with a window function, SQLite and PostgreSQL
    alike), matched here. Joining the ranked readings back in SQL would leave SQLite
    scanning them once per publication. ``with_text`` also reads what was published
    (the revision's text for that network) as an excerpt.
    """
    if not client_ids:
        return []
    pub, snap = Publication, PostMetricSnapshot
    as_of = aware(as_of)
    published = (pub.client_id.in_(client_ids), pub.state == PublicationState.PUBLISHED,
                 pub.published_at >= start, pub.published_at < end,
                 pub.published_at <= as_of)
    # The readings are found from the period's publications (a semi-join on the
    # (agency_id, publication_id, taken_at) index), never by scanning all of the
    # client's readings: a plan that starts from the readings costs seconds for a client
    # with years of them (seen on PostgreSQL when its statistics lag a bulk load).
    ranked = (
        select(snap.publication_id, snap.taken_at, *(getattr(snap, c) for c in COUNTERS),
               func.row_number().over(partition_by=snap.publication_id,
                                      order_by=(snap.taken_at.desc(), snap.id.desc()))
               .label("newest"))
        .where(snap.publication_id.in_(select(pub.id).where(*published)),
               snap.taken_at <= as_of)
        .subquery("ranked")
    )
    newest = {row[0]: row for row in db.session.execute(
        select(ranked.c.publication_id, ranked.c.taken_at, *(ranked.c[c] for c in COUNTERS))
        .where(ranked.c.newest == 1))}
    query = select(pub.id, pub.post_id, pub.client_id, pub.network, pub.published_at,
                   pub.external_url, pub.revision_id)
    if with_text:
        query = query.add_columns(Revision.content).join(
            Revision, and_(Revision.agency_id == pub.agency_id, Revision.id == pub.revision_id))
    figures = []
    for row in db.session.execute(query.where(*published).order_by(pub.published_at, pub.id)):
        reading = newest.get(row[0])
        counters = {name: reading[2 + i] if reading else None
                    for i, name in enumerate(COUNTERS)}
        figure = PostFigure(row[0], row[1], row[2], row[3], aware(row[4]), row[5] or "",
                            row[6], aware(reading[1]) if reading else None, counters)
        if with_text:
            figure.text = excerpt(published_text(row[7], figure.network))
        figures.append(figure)
    return figures


def published_text(content: dict | None, network: str) -> str:
    """What went out on ``network``: its variant, else the post's text."""
    content = content or {}
    return (content.get("variants") or {}).get(network) or content.get("text") or ""


def fill_details(figures: list[PostFigure], client_id: uuid.UUID) -> None:
    """Give a few figures their text excerpt and first image (two queries; for the
    handful of posts a page shows, never for every row)."""
    if not figures:
        return
    contents = dict(db.session.execute(
        select(Revision.id, Revision.content)
        .where(Revision.id.in_({f.revision_id for f in figures}))).all())
    checksums = {f.publication_id: list((contents.get(f.revision_id) or {}).get("media") or [])
                 for f in figures}
    wanted = {sha for shas in checksums.values() for sha in shas}
    images = {}
    if wanted:
        images = dict(db.session.execute(
            select(Media.sha256, Media.id).where(Media.client_id == client_id,
                                                 Media.sha256.in_(wanted),
                                                 Media.kind == MediaKind.IMAGE)).all())
    for figure in figures:
        figure.text = excerpt(published_text(contents.get(figure.revision_id), figure.network))
        figure.media_id = next((images[s] for s in checksums[figure.publication_id]
                                if s in images), None)


# --- sums -------------------------------------------------------------------------------

@dataclass
class Figures:
    """The sums over a set of publications. A counter is ``None`` when no reading
    reported it (shown "—", never 0); engagement rate is over the publications that
    have a reading with both an engagement and a reach (or impressions)."""

    posts: int = 0  # distinct posts published (a post on three networks is one)
    publications: int = 0  # one per account a post went out on
    measured: int = 0  # publications with a reading
    impressions: int | None = None
    reach: int | None = None
    reactions: int | None = None
    comments: int | None = None
    shares: int | None = None
    clicks: int | None = None
    saves: int | None = None
    engagement: int | None = None
    rated_engagement: int = 0  # the engagement rate's numerator…
    rate_base: int = 0  # …and its denominator
    followers: int | None = None  # at the end of the period, over accounts with readings
    follower_growth: int | None = None

    @property
    def engagement_rate(self) -> float | None:
        return self.rated_engagement / self.rate_base if self.rate_base else None


def figures_of(rows: Iterable[PostFigure]) -> Figures:
    rows = list(rows)
    totals: dict[str, int | None] = dict.fromkeys(COUNTERS)
    engagement = None
    rated, base = 0, 0
    measured = 0
    for row in rows:
        if not row.measured:
            continue
        measured += 1
        for name in COUNTERS:
            value = row.counters[name]
            if value is not None:
                totals[name] = (totals[name] or 0) + value
        row_engagement, row_base = row.engagement, row.rate_base
        if row_engagement is not None:
            engagement = (engagement or 0) + row_engagement
            if row_base is not None:
                rated += row_engagement
                base += row_base
    return Figures(posts=len({r.post_id for r in rows}), publications=len(rows),
                   measured=measured, engagement=engagement, rated_engagement=rated,
                   rate_base=base, **totals)


# --- followers ----------------------------------------------------------------------------

@dataclass
class AccountFollowers:
    """Some of one account's daily follower readings: enough to answer "the last reading
    on or before day D" for every boundary asked, and "the first one after D"."""

    client_id: uuid.UUID
    account_id: uuid.UUID
    network: str
    points: list[tuple[date, int]] = field(default_factory=list)  # sorted by day

    def latest(self, day: date) -> tuple[date, int] | None:
        index = bisect_right(self.points, (day, float("inf")))
        return self.points[index - 1] if index else None

    def first_after(self, day: date) -> tuple[date, int] | None:
        index = bisect_right(self.points, (day, float("inf")))
        return self.points[index] if index < len(self.points) else None

    def over(self, period: Period) -> tuple[int, int] | None:
        """(followers at the end, growth) over ``period``, or ``None`` without a reading
        in it. The start is the last reading before the period's first day (else its
        first reading in the period, for an account connected meanwhile); the end, the
        last reading on or before its last day. Missing days fall back to the day before."""
        before = period.first - timedelta(days=1)
        end = self.latest(period.last)
        if end is None or end[0] <= before:
            return None
        start = self.latest(before) or self.first_after(before)
        return end[1], end[1] - start[1]


def follower_readings(client_ids: Sequence[uuid.UUID], boundaries: Iterable[date],
                      as_of: datetime) -> list[AccountFollowers]:
    """Per account of these clients, the readings that answer ``latest(D)`` for each
    boundary D and ``first_after(D)`` for a day between two boundaries. One query: the
    days are split into buckets by the boundaries and each bucket keeps its first and
    last reading (a window function). Readings taken after ``as_of`` are left out."""
    days = sorted(set(boundaries))
    if not client_ids or not days:
        return []
    row = AccountMetricDay
    bucket = case(*((row.day <= day, index) for index, day in enumerate(days)),
                  else_=len(days))
    window = {"partition_by": (row.social_account_id, bucket)}
    ranked = (
        select(row.client_id, row.social_account_id, row.network, row.day, row.followers,
               func.row_number().over(**window, order_by=row.day.desc()).label("last_in"),
               func.row_number().over(**window, order_by=row.day.asc()).label("first_in"))
        .where(row.client_id.in_(client_ids), row.followers.is_not(None),
               row.day <= days[-1], row.taken_at <= aware(as_of))
        .subquery("ranked")
    )
    accounts: dict[uuid.UUID, AccountFollowers] = {}
    for client_id, account_id, network, day, followers in db.session.execute(
            select(ranked.c.client_id, ranked.c.social_account_id, ranked.c.network,
                   ranked.c.day, ranked.c.followers)
            .where(or_(ranked.c.last_in == 1, ranked.c.first_in == 1))
            .order_by(ranked.c.social_account_id, ranked.c.day)):
        account = accounts.setdefault(account_id,
                                      AccountFollowers(client_id, account_id, network))
        if not account.points or account.points[-1][0] != day:
            account.points.append((day, followers))
    return list(accounts.values())


def follower_totals(accounts: Iterable[AccountFollowers], period: Period) -> tuple:
    """(followers at the end, growth) summed over the accounts with a reading in the
    period; (None, None) when none has one."""
    followers = growth = None
    for account in accounts:
        found = account.over(period)
        if found is not None:
            followers = (followers or 0) + found[0]
            growth = (growth or 0) + found[1]
    return followers, growth


def daily_followers(client_id: uuid.UUID, period: Period, as_of: datetime,
                    accounts: Iterable[AccountFollowers]) -> list[int | None]:
    """Followers per day of the period, summed over the accounts that have a reading on
    or before that day (a missing day repeats the day before). One query."""
    carried = {a.account_id: a.latest(period.first - timedelta(days=1)) for a in accounts}
    by_day: dict[date, dict[uuid.UUID, int]] = defaultdict(dict)
    row = AccountMetricDay
    for account_id, day, followers in db.session.execute(
            select(row.social_account_id, row.day, row.followers)
            .where(row.client_id == client_id, row.followers.is_not(None),
                   row.day >= period.first, row.day <= period.last,
                   row.taken_at <= aware(as_of))):
        by_day[day][account_id] = followers
    current = {k: v[1] for k, v in carried.items() if v is not None}
    series: list[int | None] = []
    for day in period.each_day():
        current.update(by_day.get(day, {}))
        series.append(sum(current.values()) if current else None)
    return series


# --- the plan ------------------------------------------------------------------------------

def slots_of(client_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[tuple[int, time]]]:
    """Each client's weekly slots as (weekday, wall-clock time). One query."""
    found: dict[uuid.UUID, list[tuple[int, time]]] = defaultdict(list)
    if not client_ids:
        return found
    for client_id, weekday, clock in db.session.execute(
            select(TimeSlot.client_id, TimeSlot.weekday, TimeSlot.time_of_day)
            .where(TimeSlot.client_id.in_(client_ids))
            .order_by(TimeSlot.weekday, TimeSlot.time_of_day)):
        found[client_id].append((weekday, parse_time_of_day(clock)))
    return found


def planned_posts(slots: list[tuple[int, time]], period: Period,
                  until: datetime | None = None) -> int | None:
    """How many slot times fall in the period (up to ``until`` if given), each placed on
    the client's calendar day by day, so 12:30 stays 12:30 across a change of the clocks
    (a time the change skips is not counted that day). ``None``: no slots, no plan."""
    if not slots:
        return None
    clocks: dict[int, list[time]] = defaultdict(list)
    for weekday, clock in slots:
        clocks[weekday].append(clock)
    count = 0
    for day in period.each_day():
        for clock in clocks.get(day.weekday(), ()):
            instant = local_instant(day, clock, period.zone)
            if instant is not None and (until is None or instant <= until):
                count += 1
    return count

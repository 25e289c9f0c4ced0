"""A client's results for a period and the one before it: the summary the dashboard,
the API and the monthly report show, and the per-publication rows of the export.

``summary(client, period, as_of=...)`` reads with a fixed set of queries whatever the
number of posts (see ``readings.py``): the publications of both periods with their
newest readings, the follower readings at the periods' boundaries, the followers of
each day, the slots, the text and image of the few posts shown, and the billing plan.
A post's figures count in the period in which it was published.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from agency.clients.models import Client
from agency.content.forms import network_name

from .periods import Period
from .readings import (
    AccountFollowers,
    Figures,
    PostFigure,
    aware,
    daily_followers,
    figures_of,
    fill_details,
    follower_readings,
    follower_totals,
    planned_posts,
    publication_figures,
    slots_of,
)

TOP = 3  # best and weakest posts shown


@dataclass
class NetworkLine:
    network: str
    name: str  # the network's name for a person
    current: Figures
    previous: Figures


@dataclass
class Cadence:
    published: int  # distinct posts published in the period
    planned: int | None  # slot times in the period; None: the client has no slots
    slots: int  # weekly slots
    allowance: int | None = None  # the billing plan's posts a month (None: billing off)
    plan_name: str | None = None

    @property
    def has_plan(self) -> bool:
        return self.planned is not None


@dataclass
class Daily:
    days: list[date]  # the period's days
    impressions: list[int]  # impressions of the posts published each day
    previous_impressions: list[int]  # the same for the previous period, day by day
    followers: list[int | None]  # followers at the end of each day (all accounts)


@dataclass
class Summary:
    client: Client
    period: Period
    previous_period: Period
    as_of: datetime
    current: Figures
    previous: Figures
    networks: list[NetworkLine]
    best: list[PostFigure]
    weakest: list[PostFigure]
    cadence: Cadence
    previous_cadence: Cadence
    daily: Daily
    rows: list[PostFigure]  # the period's publications, oldest first


def change(current: float | int | None, previous: float | int | None) -> float | None:
    """The relative change from ``previous`` to ``current`` (0.25 for +25 %); ``None``
    when either is unknown or the previous is 0."""
    if current is None or previous is None or previous == 0:
        return None
    return (current - previous) / abs(previous)


def _networks(rows: list[PostFigure], before: list[PostFigure],
              accounts: list[AccountFollowers], period: Period) -> list[NetworkLine]:
    names = sorted({r.network for r in rows} | {r.network for r in before}
                   | {a.network for a in accounts})
    lines = []
    for network in names:
        current = figures_of(r for r in rows if r.network == network)
        previous = figures_of(r for r in before if r.network == network)
        own = [a for a in accounts if a.network == network]
        current.followers, current.follower_growth = follower_totals(own, period)
        previous.followers, previous.follower_growth = follower_totals(own, period.previous())
        lines.append(NetworkLine(network, str(network_name(network)), current, previous))
    return lines


def best_and_weakest(rows: list[PostFigure], count: int = TOP):
    """The ``count`` publications with the most engagement, and the ``count`` with the
    least among the others (so a post is never both). Ties go to the earlier post, then
    by id, so the choice never changes between two readings of the same figures."""
    rated = [r for r in rows if r.engagement is not None]
    best = sorted(rated, key=lambda r: (-r.engagement, r.published_at, str(r.publication_id)))
    chosen = best[:count]
    taken = {r.publication_id for r in chosen}
    weakest = sorted((r for r in rated if r.publication_id not in taken),
                     key=lambda r: (r.engagement, r.published_at, str(r.publication_id)))
    return chosen, weakest[:count]


def _daily_impressions(rows: list[PostFigure], period: Period) -> list[int]:
    series = [0] * period.days
    for row in rows:
        index = (period.local_day(row.published_at) - period.first).days
        if 0 <= index < period.days and row.counters["impressions"] is not None:
            series[index] += row.counters["impressions"]
    return series


def _allowance(client: Client) -> tuple[int | None, str | None]:
    from billing.limits import plan_of
    from billing.stripe_client import enabled

    if not enabled():  # local mode: no plan limits anything
        return None, None
    plan = plan_of(client.id)
    return plan.max_posts_per_month, str(plan.name)


def summary(client: Client, period: Period, *, as_of: datetime | None = None,
            with_text: bool = False) -> Summary:
    """The client's figures for ``period`` and the period before it, as they stood at
    ``as_of`` (default now): only readings taken by then count, so a report made for a
    month can be made again with the same figures. ``with_text`` gives every row its
    text excerpt (the API); the best and weakest posts always have theirs and their
    first image."""
    as_of = aware(as_of or datetime.now(UTC))
    before = period.previous()
    everything = publication_figures([client.id], before.start, period.end, as_of,
                                     with_text=with_text)
    rows = [r for r in everything if period.contains(r.published_at)]
    earlier = [r for r in everything if before.contains(r.published_at)]
    accounts = follower_readings(
        [client.id], [before.first - timedelta(days=1), before.last, period.last], as_of)

    current, previous = figures_of(rows), figures_of(earlier)
    current.followers, current.follower_growth = follower_totals(accounts, period)
    previous.followers, previous.follower_growth = follower_totals(accounts, before)

    best, weakest = best_and_weakest(rows)
    fill_details([*best, *weakest], client.id)

    slots = slots_of([client.id]).get(client.id, [])
    allowance, plan_name = _allowance(client)
    cadence = Cadence(current.posts, planned_posts(slots, period), len(slots), allowance,
                      plan_name)
    previous_cadence = Cadence(previous.posts, planned_posts(slots, before), len(slots),
                               allowance, plan_name)
    daily = Daily(period.each_day(), _daily_impressions(rows, period),
                  _daily_impressions(earlier, before),
                  daily_followers(client.id, period, as_of, accounts))
    return Summary(client, period, before, as_of, current, previous,
                   _networks(rows, earlier, accounts, period), best, weakest, cadence,
                   previous_cadence, daily, rows)


def publication_rows(client: Client, period: Period, *,
                     as_of: datetime | None = None) -> list[PostFigure]:
    """The period's publications, oldest first, each with its newest reading as of
    ``as_of`` and its text excerpt (the export). One query."""
    as_of = aware(as_of or datetime.now(UTC))
    return publication_figures([client.id], period.start, period.end, as_of, with_text=True)

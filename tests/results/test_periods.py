"""Periods: months and chosen days in the client's timezone, as UTC bounds [start, end)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from agency.results import periods
from agency.results.periods import PeriodError

PARIS = ZoneInfo("Europe/Paris")
NOUMEA = ZoneInfo("Pacific/Noumea")


def test_a_month_runs_from_local_midnight_to_local_midnight():
    october = periods.month(2026, 10, PARIS)
    # 1 October 00:00 in Paris is 30 September 22:00 UTC (summer time, UTC+2)…
    assert october.start == datetime(2026, 9, 30, 22, 0, tzinfo=UTC)
    # …and 1 November 00:00 is 31 October 23:00 UTC (winter time, UTC+1).
    assert october.end == datetime(2026, 10, 31, 23, 0, tzinfo=UTC)
    assert october.start.tzinfo is UTC and october.end.tzinfo is UTC
    assert (october.first, october.last, october.days) == (date(2026, 10, 1),
                                                           date(2026, 10, 31), 31)


def test_months_with_a_change_of_the_clocks_have_743_or_745_hours():
    assert periods.month(2026, 3, PARIS).hours == 743  # clocks forward on 29 March
    assert periods.month(2026, 10, PARIS).hours == 745  # clocks back on 25 October
    assert periods.month(2026, 4, PARIS).hours == 720
    assert periods.month(2026, 2, PARIS).hours == 672


def test_a_post_at_2330_local_on_the_last_evening_belongs_to_that_month():
    october, november = periods.month(2026, 10, PARIS), periods.month(2026, 11, PARIS)
    late = datetime(2026, 10, 31, 23, 30, tzinfo=PARIS)  # 22:30 UTC
    assert october.contains(late.astimezone(UTC))
    assert not november.contains(late.astimezone(UTC))
    march_end = datetime(2026, 3, 31, 23, 30, tzinfo=PARIS)  # summer time: 21:30 UTC
    assert periods.month(2026, 3, PARIS).contains(march_end.astimezone(UTC))
    assert periods.month(2026, 4, PARIS).contains(datetime(2026, 3, 31, 22, 0, tzinfo=UTC))
    # Naive values (SQLite) are UTC.
    assert october.contains(datetime(2026, 10, 31, 22, 59))
    assert not october.contains(datetime(2026, 10, 31, 23, 0))


def test_the_same_month_elsewhere_has_other_bounds():
    october = periods.month(2026, 10, NOUMEA)  # UTC+11, no summer time
    assert october.start == datetime(2026, 9, 30, 13, 0, tzinfo=UTC)
    assert october.hours == 744


def test_previous_is_the_period_of_the_same_kind_just_before():
    march = periods.month(2026, 3, PARIS)
    assert march.previous() == periods.month(2026, 2, PARIS)
    assert periods.month(2026, 1, PARIS).previous() == periods.month(2025, 12, PARIS)
    assert march.previous().end == march.start
    chosen = periods.between(date(2026, 10, 10), date(2026, 10, 19), PARIS)
    before = chosen.previous()
    assert (before.first, before.last, before.kind) == (date(2026, 9, 30),
                                                        date(2026, 10, 9), periods.RANGE)
    assert before.end == chosen.start
    # Exactly a calendar month, given as dates, is that month.
    assert periods.between(date(2026, 10, 1), date(2026, 10, 31), PARIS) == periods.month(
        2026, 10, PARIS)
    assert periods.between(date(2026, 10, 1), date(2026, 10, 30), PARIS).kind == periods.RANGE


def test_the_last_30_days_end_today_in_the_clients_timezone():
    # 23:30 UTC on 31 October is already 1 November in Paris (UTC+1).
    now = datetime(2026, 10, 31, 23, 30, tzinfo=UTC)
    last = periods.last_days(PARIS, now)
    assert (last.first, last.last, last.days) == (date(2026, 10, 3), date(2026, 11, 1), 30)
    assert last.previous().last == date(2026, 10, 2)
    assert periods.current_month(PARIS, now) == periods.month(2026, 11, PARIS)
    assert periods.current_month(ZoneInfo("America/New_York"), now) == periods.month(
        2026, 10, ZoneInfo("America/New_York"))


@pytest.mark.parametrize(("args", "expected"), [
    ({"period": "2026-10"}, (date(2026, 10, 1), date(2026, 10, 31), periods.MONTH)),
    ({"period": " 2026-02 "}, (date(2026, 2, 1), date(2026, 2, 28), periods.MONTH)),
    ({"from": "2026-10-05", "to": "2026-10-05"},
     (date(2026, 10, 5), date(2026, 10, 5), periods.RANGE)),
    ({"period": "last30"}, (date(2026, 10, 18), date(2026, 11, 16), periods.LAST_30)),
    ({}, (date(2026, 11, 1), date(2026, 11, 30), periods.MONTH)),
])
def test_parse_reads_the_request(app, args, expected):
    now = datetime(2026, 11, 16, 12, 0, tzinfo=UTC)
    with app.test_request_context():
        period = periods.parse(args, PARIS, now)
    assert (period.first, period.last, period.kind) == expected
    assert period.zone is PARIS


@pytest.mark.parametrize("args", [
    {"period": "2026-13"}, {"period": "2026-1"}, {"period": "octobre"},
    {"period": "1850-01"}, {"from": "2026-10-01"}, {"to": "2026-10-01"},
    {"from": "2026-10-31", "to": "2026-10-01"}, {"from": "2026-02-30", "to": "2026-03-01"},
    {"from": "01/10/2026", "to": "2026-10-31"}, {"from": "2020-01-01", "to": "2026-01-01"},
    {"from": "9999-01-01", "to": "9999-01-02"},
])
def test_parse_refuses_what_it_cannot_understand_with_a_message(app, args):
    with app.test_request_context(), pytest.raises(PeriodError) as refused:
        periods.parse(args, PARIS)
    assert str(refused.value)


def test_query_and_slug_ask_for_the_same_period_again(app):
    october = periods.month(2026, 10, PARIS)
    assert october.query == {"period": "2026-10"} and october.slug == "2026-10"
    chosen = periods.between(date(2026, 10, 1), date(2026, 10, 15), PARIS)
    assert chosen.query == {"from": "2026-10-01", "to": "2026-10-15"}
    assert chosen.slug == "2026-10-01_2026-10-15"
    with app.test_request_context():
        assert periods.parse(chosen.query, PARIS) == chosen
        assert periods.parse(october.query, PARIS) == october
        assert october.label() == "October 2026"

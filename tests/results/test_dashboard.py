"""The client summary, computed exactly from known readings: the newest reading taken by
``as_of`` counts, NULL counters are not zeros, periods are the client's days (summer
time included), per network, best and weakest posts, cadence from the slots, followers
with missing days, and a number of SQL statements that does not grow with the posts."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from agency.clients.models import Client
from agency.extensions import db as db_
from agency.results import periods, queries
from agency.results.queries import best_and_weakest
from agency.results.readings import PostFigure, planned_posts
from tenants.context import tenant_scope
from tests.factories import make_world
from tests.results.test_dashboard_support import (
    AS_OF,
    PARIS,
    Data,
    counting_statements,
    october_scene,
    paris,
)

OCTOBER = periods.month(2026, 10, PARIS)


def load_client(client_id) -> Client:
    return db_.session.scalars(select(Client).where(Client.id == client_id)).one()


@pytest.fixture
def world(db):
    return make_world("Agence Résultats")


@pytest.fixture
def scene(app, db, world):
    return october_scene(world)


def summary_of(app, scene, period=OCTOBER, as_of=AS_OF, **kwargs):
    with app.test_request_context(), tenant_scope(scene.world.agency_id):
        client = load_client(scene.world.client.id)
        return queries.summary(client, period, as_of=as_of, **kwargs)


def test_the_summary_is_computed_exactly_from_the_newest_readings(app, scene):
    summary = summary_of(app, scene)
    now = summary.current
    assert (now.posts, now.publications, now.measured) == (4, 5, 4)
    assert now.impressions == 500 + 200
    assert now.reach == 400 + 150
    assert now.reactions == 20 + 7 + 10 + 3
    assert now.comments == 4 + 2 + 0
    assert now.shares == 1 + 3 + 0
    assert now.saves == 5 + 0
    assert now.clicks == 6 + 4
    assert now.engagement == (20 + 4 + 1 + 5) + (7 + 2 + 3) + 10 + 3
    # Mastodon and Facebook report neither reach nor impressions: left out of the rate.
    assert (now.rated_engagement, now.rate_base) == (30 + 10, 400 + 150)
    assert now.engagement_rate == pytest.approx(40 / 550)
    then = summary.previous
    assert (then.posts, then.impressions, then.reach, then.engagement, then.clicks) == (
        1, 300, 200, 10, 1)
    assert then.engagement_rate == pytest.approx(0.05)
    assert [r.publication_id for r in summary.rows] == [scene.p1, scene.p2, scene.p6,
                                                        scene.p7, scene.p3]
    assert summary.as_of == AS_OF
    assert summary.previous_period == periods.month(2026, 9, PARIS)


def test_a_later_as_of_takes_the_newer_reading(app, scene):
    later = summary_of(app, scene, as_of=AS_OF + timedelta(days=2))
    assert later.current.impressions == 900 + 200
    earlier = summary_of(app, scene, as_of=paris(2026, 10, 3, 12, 0))
    # Only post A was out, with its first reading.
    assert (earlier.current.publications, earlier.current.measured,
            earlier.current.impressions, earlier.current.reactions,
            earlier.current.engagement) == (2, 1, 100, 5, 5 + 1 + 0 + 2)


def test_a_counter_no_network_reports_is_none_not_zero(app, scene):
    summary = summary_of(app, scene)
    by_network = {line.network: line for line in summary.networks}
    assert list(by_network) == ["facebook", "instagram", "mastodon"]
    facebook = by_network["facebook"].current
    assert (facebook.publications, facebook.measured, facebook.reactions) == (2, 1, 3)
    assert facebook.comments is None and facebook.impressions is None
    assert facebook.engagement == 3 and facebook.engagement_rate is None
    mastodon = by_network["mastodon"]
    assert mastodon.current.reach is None and mastodon.current.engagement == 12
    assert mastodon.previous.publications == 0 and mastodon.previous.engagement is None
    instagram = by_network["instagram"]
    assert (instagram.current.reach, instagram.current.engagement) == (550, 40)
    assert instagram.previous.reach == 200
    assert by_network["instagram"].name == "Instagram"


def test_best_and_weakest_posts_with_text_link_and_first_image(app, scene):
    summary = summary_of(app, scene)
    assert [f.publication_id for f in summary.best] == [scene.p1, scene.p2, scene.p3]
    assert [f.publication_id for f in summary.weakest] == [scene.p7]
    first, second = summary.best[0], summary.best[1]
    assert first.text == "Nos croissants du dimanche"
    assert second.text == "Texte Mastodon"  # what went out there
    assert first.media_id == scene.image_id == second.media_id  # the image, not the video
    assert first.external_url.startswith("https://instagram.example/p/")
    assert summary.weakest[0].media_id is None


def _figure(n: int, engagement: int | None, day: int) -> PostFigure:
    return PostFigure(
        publication_id=uuid.UUID(int=n), post_id=uuid.UUID(int=n),
        client_id=None, network="x", published_at=datetime(2026, 10, day, tzinfo=UTC),
        external_url="", revision_id=None, measured_at=datetime(2026, 11, 1, tzinfo=UTC),
        counters={"impressions": None, "reach": None, "reactions": engagement,
                  "comments": None, "shares": None, "clicks": None, "saves": None})


def test_ties_are_broken_by_date_then_id_and_no_post_is_both():
    figures = [_figure(1, 5, 3), _figure(2, 9, 4), _figure(3, 5, 2), _figure(4, 5, 3),
               _figure(5, 1, 9), _figure(6, None, 1), _figure(7, 0, 8)]
    best, weakest = best_and_weakest(figures)
    assert [f.publication_id.int for f in best] == [2, 3, 1]
    assert [f.publication_id.int for f in weakest] == [7, 5, 4]
    best, weakest = best_and_weakest(list(reversed(figures)))
    assert [f.publication_id.int for f in best] == [2, 3, 1]
    few_best, few_weakest = best_and_weakest(figures[:2])
    assert len(few_best) == 2 and few_weakest == []


def test_follower_growth_with_missing_days_and_late_starters(app, scene):
    summary = summary_of(app, scene)
    # Instagram: 1180 (31 Oct) − 1000 (29 Sep, the last before October); Mastodon:
    # 230 (20 Oct) − 200 (its first reading, 10 Oct); the 25 Oct reading came too late.
    assert (summary.current.followers, summary.current.follower_growth) == (1410, 210)
    # September: Instagram only, 1000 (29 Sep) − 950 (20 Aug).
    assert (summary.previous.followers, summary.previous.follower_growth) == (1000, 50)
    by_network = {line.network: line.current.follower_growth for line in summary.networks}
    assert by_network == {"instagram": 180, "mastodon": 30, "facebook": None}
    followers = summary.daily.followers
    assert len(followers) == 31
    assert followers[0] == 1000  # 1 Oct: Instagram's 29 Sep carried over
    assert followers[9] == 1200  # 10 Oct: Mastodon joins
    assert followers[14] == 1300 and followers[19] == 1330 and followers[30] == 1410


def test_daily_impressions_by_local_publish_day(app, scene):
    daily = summary_of(app, scene).daily
    assert daily.days[0] == date(2026, 10, 1) and len(daily.days) == 31
    expected = [0] * 31
    expected[2], expected[30] = 500, 200  # 3 Oct, and 31 Oct at 23:30 Paris time
    assert daily.impressions == expected
    assert len(daily.previous_impressions) == 30
    assert daily.previous_impressions[29] == 300  # 30 Sep at 23:30 Paris time


def test_cadence_counts_the_slot_times_of_the_period(app, scene, monkeypatch):
    summary = summary_of(app, scene)
    # October 2026: 4 Tuesdays and 5 Fridays; September: 5 and 4.
    assert (summary.cadence.published, summary.cadence.planned, summary.cadence.slots) == (
        4, 9, 2)
    assert (summary.previous_cadence.published, summary.previous_cadence.planned) == (1, 9)
    assert summary.cadence.allowance is None  # billing off: no plan limits
    monkeypatch.setitem(app.config, "STRIPE_API_KEY", "sk_test_results")
    summary = summary_of(app, scene)
    assert summary.cadence.allowance == 30 and summary.cadence.plan_name == "Essentiel"


def test_without_slots_there_is_no_plan(app, db, world):
    with app.test_request_context(), tenant_scope(world.agency_id):
        client = load_client(world.client.id)
        summary = queries.summary(client, OCTOBER, as_of=AS_OF)
    assert summary.cadence.planned is None and not summary.cadence.has_plan
    assert summary.current.posts == 0 and summary.current.engagement_rate is None
    assert summary.best == [] and summary.networks == []


def test_slot_times_skipped_by_the_change_of_the_clocks_are_not_planned():
    march = periods.month(2026, 3, PARIS)
    # Sundays at 02:30: 1, 8, 15, 22 March; on the 29th 02:30 does not exist in Paris.
    assert planned_posts([(6, datetime.strptime("02:30", "%H:%M").time())], march) == 4
    # Sundays at 02:30 in October: the 25th has it twice, counted once.
    october = periods.month(2026, 10, PARIS)
    assert planned_posts([(6, datetime.strptime("02:30", "%H:%M").time())], october) == 4
    # Up to a moment: Tuesdays 10:00 in October up to 13 October 10:00 Paris time.
    tuesday = [(1, datetime.strptime("10:00", "%H:%M").time())]
    assert planned_posts(tuesday, october, until=paris(2026, 10, 13, 10, 0)) == 2
    assert planned_posts([], october) is None


def test_march_boundaries_in_summer_time(app, db, world):
    data = Data(world.agency_id, world.client.id)
    ig = data.account("instagram")
    [inside] = data.post({ig: "instagram"}, paris(2026, 3, 31, 23, 30))  # 21:30 UTC
    [outside] = data.post({ig: "instagram"}, paris(2026, 4, 1, 0, 0))  # 22:00 UTC
    [first] = data.post({ig: "instagram"}, paris(2026, 3, 1, 0, 0))  # 23:00 UTC on 28 Feb
    for publication in (inside, outside, first):
        data.reading(publication, "instagram", paris(2026, 4, 2, 0, 0), reach=10, reactions=1)
    with app.test_request_context(), tenant_scope(world.agency_id):
        client = load_client(world.client.id)
        march = queries.summary(client, periods.month(2026, 3, PARIS), as_of=AS_OF)
    assert {r.publication_id for r in march.rows} == {inside, first}
    assert march.current.reach == 20
    assert march.daily.impressions == [0] * 31


def _many(app, db, world, count: int):
    data = Data(world.agency_id, world.client.id)
    accounts = {data.account("instagram"): "instagram", data.account("mastodon"): "mastodon"}
    _, image = data.media()
    for n in range(count):
        when = paris(2026, 10, 1 + n % 28, 9, n % 60)
        ids = data.post(accounts, when, f"Post {n}", media=[image])
        for publication, network in zip(ids, accounts.values(), strict=True):
            data.reading(publication, network, when + timedelta(hours=1), reach=n, reactions=1)
            data.reading(publication, network, when + timedelta(days=1), reach=2 * n,
                         reactions=n % 7)
    for account, network in accounts.items():
        for day in range(1, 32, 2):
            data.followers(account, network, date(2026, 10, day), 100 + day)
    data.slot(2, "12:00")


def _statements_for_summary(app, db, count: int) -> int:
    world = make_world(f"Agence {count}")
    _many(app, db, world, count)
    with app.test_request_context(), tenant_scope(world.agency_id):
        client = load_client(world.client.id)
        with counting_statements() as seen:
            summary = queries.summary(client, OCTOBER, as_of=AS_OF)
    assert summary.current.publications == 2 * count
    return len(seen)


def test_the_number_of_statements_does_not_grow_with_the_posts(app, db):
    few, many = _statements_for_summary(app, db, 3), _statements_for_summary(app, db, 60)
    assert few == many
    assert many <= 8

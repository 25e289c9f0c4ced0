"""The agency overview: every visible client, this month against last, the flags on the
ones falling behind, and a number of SQL statements that does not grow with clients."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from flask import g

from agency.clients.services import create_client
from agency.content.models import Post, PostStatus
from agency.extensions import db
from agency.results import overview_queries
from agency.results.overview_queries import APPROVALS_WAITING, BEHIND, ENGAGEMENT_DROP
from tenants.context import tenant_scope
from tests.factories import login, make_world
from tests.results.test_dashboard_support import Data, counting_statements

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def waiting_post(agency_id, client_id, status=PostStatus.AWAITING_CLIENT) -> None:
    with tenant_scope(agency_id):
        db.session.add(Post(client_id=client_id, status=status, text="À valider"))
        db.session.flush()


def new_client(world, name: str, **values):
    with tenant_scope(world.agency_id):
        client = create_client({"name": name, **values})
        db.session.flush()
        return client


@pytest.fixture
def agency(app, db):
    world = make_world("Agence Vue")
    # Boulangerie: two posts of nine planned, three slots already past… behind plan.
    bakery = Data(world.agency_id, world.client.id)
    ig = bakery.account("instagram")
    bakery.slot(1, "10:00")
    bakery.slot(4, "18:00")
    for day in (3, 12):
        [p] = bakery.post({ig: "instagram"}, paris(2026, 10, day, 9, 0))
        bakery.reading(p, "instagram", paris(2026, 10, day, 21, 0), reach=100, reactions=10)
    [p] = bakery.post({ig: "instagram"}, paris(2026, 9, 8, 9, 0))
    bakery.reading(p, "instagram", paris(2026, 9, 9, 9, 0), reach=100, reactions=10)
    for day, count in ((date(2026, 8, 31), 90), (date(2026, 9, 30), 100),
                       (date(2026, 10, 19), 130)):
        bakery.followers(ig, "instagram", day, count)
    # Garage: no slots (no plan); engagement rate halved; two posts waiting.
    garage = Data(world.agency_id, world.other_client.id)
    md = garage.account("mastodon")
    [p] = garage.post({md: "mastodon"}, paris(2026, 9, 15, 9, 0))
    garage.reading(p, "mastodon", paris(2026, 9, 16, 9, 0), impressions=100, reactions=10)
    [p] = garage.post({md: "mastodon"}, paris(2026, 10, 15, 9, 0))
    garage.reading(p, "mastodon", paris(2026, 10, 16, 9, 0), impressions=200, reactions=10)
    waiting_post(world.agency_id, world.other_client.id)
    waiting_post(world.agency_id, world.other_client.id, PostStatus.IN_REVIEW)
    waiting_post(world.agency_id, world.other_client.id, PostStatus.DRAFT)  # not waiting
    # Café, in Nouméa: on plan, engagement 10 % lower only.
    cafe_client = new_client(world, "Café du Port", timezone="Pacific/Noumea")
    cafe = Data(world.agency_id, cafe_client.id)
    fb = cafe.account("instagram")
    cafe.slot(0, "08:00")  # Mondays: 5, 12 and 19 October so far
    noumea = ZoneInfo("Pacific/Noumea")
    for day in (5, 12, 19):
        [p] = cafe.post({fb: "instagram"}, datetime(2026, 10, day, 8, 0, tzinfo=noumea))
        cafe.reading(p, "instagram", NOW - timedelta(hours=1), reach=100, reactions=9)
    [p] = cafe.post({fb: "instagram"}, datetime(2026, 9, 1, 8, 0, tzinfo=noumea))
    cafe.reading(p, "instagram", paris(2026, 9, 2, 0, 0), reach=100, reactions=10)
    # Archived: not on the overview.
    archived = new_client(world, "Ancien client")
    with tenant_scope(world.agency_id):
        archived.archived_at = NOW - timedelta(days=3)
        db.session.flush()
    return SimpleNamespace(world=world, cafe_id=cafe_client.id)


def overview_as(app, membership, now=NOW):
    with app.test_request_context(), tenant_scope(membership.agency_id):
        g.membership = membership
        return overview_queries.overview(now)


def test_every_visible_client_this_month_against_last(app, agency):
    lines = overview_as(app, agency.world.owner)
    by_name = {line.client.name: line for line in lines}
    assert list(by_name) == ["Agence Vue Boulangerie", "Agence Vue Garage", "Café du Port"]
    bakery = by_name["Agence Vue Boulangerie"]
    assert (bakery.this_month.posts, bakery.last_month.posts) == (2, 1)
    assert (bakery.this_month.reach, bakery.last_month.reach) == (200, 100)
    assert bakery.this_month.engagement_rate == pytest.approx(0.1)
    assert (bakery.this_month.follower_growth, bakery.last_month.follower_growth) == (30, 10)
    assert (bakery.planned, bakery.planned_so_far) == (9, 6)
    garage = by_name["Agence Vue Garage"]
    assert garage.planned is None and garage.waiting == 2
    assert garage.this_month.engagement_rate == pytest.approx(0.05)
    assert garage.last_month.engagement_rate == pytest.approx(0.1)
    cafe = by_name["Café du Port"]
    assert cafe.month.zone.key == "Pacific/Noumea"
    assert (cafe.this_month.posts, cafe.planned_so_far, cafe.planned) == (3, 3, 4)


def test_flags_on_the_clients_falling_behind(app, agency):
    flags = {line.client.name: line.flags for line in overview_as(app, agency.world.owner)}
    assert flags == {
        "Agence Vue Boulangerie": [BEHIND],
        "Agence Vue Garage": [ENGAGEMENT_DROP, APPROVALS_WAITING],
        "Café du Port": [],
    }


def test_members_see_only_the_clients_they_are_assigned_to(app, agency):
    lines = overview_as(app, agency.world.member)
    assert [line.client.name for line in lines] == ["Agence Vue Boulangerie"]


def test_the_page_in_english_and_french(app, client, agency):
    login(client, agency.world.owner)
    page = client.get("/results")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Agence Vue Boulangerie" in html and "Café du Port" in html
    assert "Ancien client" not in html
    assert "Approvals waiting" in html and 'data-flag="approvals_waiting"' in html
    assert f'/clients/{agency.cafe_id}/results' in html
    assert "by more than 20 % against last month" in html
    client.post("/language", data={"lang": "fr", "next": "/results"})
    html = client.get("/results").get_data(as_text=True)
    assert '<html lang="fr">' in html and "Café du Port" in html


def test_a_member_sees_only_their_clients_on_the_page(app, client, agency):
    login(client, agency.world.member)
    html = client.get("/results").get_data(as_text=True)
    assert "Agence Vue Boulangerie" in html and "Agence Vue Garage" not in html


def _statements_for_overview(app, count: int) -> int:
    world = make_world(f"Agence {count} clients")
    clients = [world.client.id, world.other_client.id]
    clients += [new_client(world, f"Client {n}").id for n in range(count - 2)]
    for n, client_id in enumerate(clients):
        data = Data(world.agency_id, client_id)
        account = data.account("instagram")
        data.slot(n % 7, "09:00")
        for day in (2, 9, 16):
            [p] = data.post({account: "instagram"}, paris(2026, 10, day, 9, 0))
            data.reading(p, "instagram", paris(2026, 10, day, 19, 0), reach=50, reactions=n)
        data.followers(account, "instagram", date(2026, 9, 30), 10)
        data.followers(account, "instagram", date(2026, 10, 18), 20)
        waiting_post(world.agency_id, client_id)
    with app.test_request_context(), tenant_scope(world.agency_id):
        g.membership = world.owner
        with counting_statements() as seen:
            lines = overview_queries.overview(NOW)
    assert len(lines) == count
    assert all(line.this_month.posts == 3 and line.waiting == 1 for line in lines)
    return len(seen)


def test_the_number_of_statements_does_not_grow_with_the_clients(app, db):
    few, many = _statements_for_overview(app, 2), _statements_for_overview(app, 20)
    assert few == many
    assert many <= 6

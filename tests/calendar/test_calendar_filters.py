"""Calendar filters (client, network, status, label, author, combined) and who sees what:
a member sees only the posts of the clients they are assigned to."""

from __future__ import annotations

import pytest

from agency.content.models import PostStatus
from agency.content.services import create_post
from agency.networks.services import add_account
from tenants.context import tenant_scope
from tests.calendar.helpers import NEXT_YEAR, page, shown_on, utc
from tests.factories import login, make_world

DAY = f"{NEXT_YEAR}-02-10"


@pytest.fixture
def posts(cal):
    """Four posts on the same day, each different in one way."""
    mastodon = cal.account_on(cal.world.client, "mastodon")
    when = utc(NEXT_YEAR, 2, 10, 9)
    bakery = cal.post(when=when, text="Croissants", labels=["Promo"])
    garage = cal.post(client=cal.world.other_client, when=when, text="Winter tyres",
                      author=cal.world.manager)
    toot = cal.post(when=when, text="Hello fediverse", accounts=[mastodon],
                    labels=["Event"])
    approved = cal.post(when=when, text="Easter cakes", labels=["promo", "Easter"])
    cal.update(approved, status=PostStatus.APPROVED)
    return {"bakery": bakery, "garage": garage, "toot": toot, "approved": approved}


def _shown(client, url: str, posts: dict) -> set[str]:
    response = client.get(url)
    assert response.status_code == 200, url
    return {name for name, post in posts.items() if shown_on(response, post)}


def test_no_filter_shows_everything_the_owner_may_see(client, cal, posts):
    login(client, cal.world.owner)
    assert _shown(client, f"/calendar?date={DAY}", posts) == set(posts)


def test_filter_by_client(client, cal, posts):
    login(client, cal.world.owner)
    url = f"/calendar?date={DAY}&client={cal.world.other_client.id}"
    assert _shown(client, url, posts) == {"garage"}


def test_filter_by_network_of_the_targeted_accounts(client, cal, posts):
    login(client, cal.world.owner)
    assert _shown(client, f"/calendar?date={DAY}&network=mastodon", posts) == {"toot"}
    assert _shown(client, f"/calendar?date={DAY}&network=sandbox", posts) == {
        "bakery", "garage", "approved"}


def test_filter_by_status(client, cal, posts):
    login(client, cal.world.owner)
    assert _shown(client, f"/calendar?date={DAY}&status=approved", posts) == {"approved"}
    assert _shown(client, f"/calendar?date={DAY}&status=draft", posts) == {
        "bakery", "garage", "toot"}


def test_filter_by_label_ignores_case(client, cal, posts):
    login(client, cal.world.owner)
    assert _shown(client, f"/calendar?date={DAY}&label=PROMO", posts) == {"bakery",
                                                                          "approved"}
    assert _shown(client, f"/calendar?date={DAY}&label=Easter", posts) == {"approved"}


def test_filter_by_author(client, cal, posts):
    login(client, cal.world.owner)
    url = f"/calendar?date={DAY}&author={cal.world.manager.user_id}"
    assert _shown(client, url, posts) == {"garage"}


def test_filters_combine(client, cal, posts):
    login(client, cal.world.owner)
    url = f"/calendar?date={DAY}&label=promo&status=draft&network=sandbox"
    assert _shown(client, url, posts) == {"bakery"}
    url = f"/calendar?date={DAY}&label=promo&client={cal.world.other_client.id}"
    assert _shown(client, url, posts) == set()


def test_filters_apply_to_unscheduled_posts_too(client, cal):
    idea = cal.post(when=None, text="Idea", labels=["Promo"])
    other = cal.post(when=None, text="Other idea")
    login(client, cal.world.owner)
    response = client.get(f"/calendar?date={DAY}&label=promo")
    assert shown_on(response, idea) == [None]
    assert shown_on(response, other) == []


def test_filters_on_one_clients_calendar(client, cal, posts):
    login(client, cal.world.owner)
    base = f"/clients/{cal.world.client.id}/calendar?date={DAY}"
    assert _shown(client, base, posts) == {"bakery", "toot", "approved"}
    assert _shown(client, base + "&network=mastodon", posts) == {"toot"}
    # The client filter has no say on one client's calendar.
    assert _shown(client, base + f"&client={cal.world.other_client.id}", posts) == {
        "bakery", "toot", "approved"}


def test_unreadable_filter_values_are_ignored(client, cal, posts):
    login(client, cal.world.owner)
    url = f"/calendar?date={DAY}&client=nope&status=published&author=42"
    assert _shown(client, url, posts) == set(posts)


def test_member_sees_only_assigned_clients_posts(client, cal, posts):
    login(client, cal.world.member)
    assert _shown(client, f"/calendar?date={DAY}", posts) == {"bakery", "toot", "approved"}
    # Asking for the unassigned client by id shows nothing, and says nothing.
    url = f"/calendar?date={DAY}&client={cal.world.other_client.id}"
    response = client.get(url)
    assert _shown(client, url, posts) == set()
    assert cal.world.other_client.name not in page(response)
    other_calendar = client.get(f"/clients/{cal.world.other_client.id}/calendar")
    assert other_calendar.status_code == 404


def test_other_agencies_posts_never_show(client, app, db, cal, posts):
    other = make_world("Beta")
    with app.test_request_context(), tenant_scope(other.agency.id):
        account = add_account(other.client, "sandbox", "Beta sandbox")
        foreign = create_post(other.client, {"text": "Beta post", "target_ids": [account.id],
                                             "scheduled_at": utc(NEXT_YEAR, 2, 10, 9)},
                              other.owner.user_id)
        db.session.flush()
    login(client, cal.world.owner)
    response = client.get(f"/calendar?date={DAY}&client={other.client.id}")
    assert str(foreign.id) not in page(response)
    assert str(foreign.id) not in page(client.get(f"/calendar?date={DAY}"))
    assert client.get(f"/clients/{other.client.id}/calendar").status_code == 404

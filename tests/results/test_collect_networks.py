"""Each network's account figures through its loopback fake over real HTTP, and whole
collection runs against a fake: Mastodon's counters mapped onto the columns, a 429 that
pauses the account, X's read limit that never pauses its posts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from agency.networks.base import Outgoing
from agency.networks.bluesky import BlueskyNetwork
from agency.networks.facebook import FacebookNetwork
from agency.networks.google_business import GoogleBusinessNetwork
from agency.networks.instagram import InstagramNetwork
from agency.networks.linkedin import LinkedInNetwork
from agency.networks.mastodon import MastodonNetwork
from agency.networks.x import XNetwork
from agency.networks.x_api import credentials_from
from agency.publishing import ratelimit
from agency.results.collect import Outcome, collect_account, paused_seconds
from agency.results.counters import columns
from agency.results.models import POST_COUNTERS
from tests.fakes.bluesky import serving
from tests.fakes.linkedin import outgoing as linkedin_outgoing
from tests.fakes.mastodon import FakeMastodon
from tests.results.support import days, make_account, publish, snapshots


def _for(network: str, *, settings: dict, credentials: dict) -> Outgoing:
    return Outgoing.for_account(uuid.uuid4(), network, settings=settings,
                                credentials=credentials)


@pytest.fixture
def mastodon(app, monkeypatch):
    monkeypatch.setitem(app.config, "NETWORK_TIMEOUT_SECONDS", 2)
    with app.app_context(), FakeMastodon(throttle_seconds=120) as fake:
        fake.token = fake.add_account("boulangerie", "Boulangerie Martin")
        fake.account = next(iter(fake.accounts.values()))
        fake.settings = {"instance_url": fake.url, "account_id": fake.account.id}
        yield fake


def test_mastodon_reports_the_accounts_followers(mastodon):
    mastodon.account.followers_count, mastodon.account.following_count = 321, 45
    figures = MastodonNetwork().fetch_account_metrics(_for(
        "mastodon", settings=mastodon.settings,
        credentials={"access_token": mastodon.token}))
    assert figures == {"followers": 321, "following": 45, "posts": 0}
    assert mastodon.requests_to("GET", "/api/v1/accounts/verify_credentials")


def test_bluesky_reports_the_profiles_followers(app):
    with app.app_context(), serving(app, timeout=2) as fake:
        did = fake.add_account("boulangerie.bsky.social")
        fake.accounts[did].followers_count, fake.accounts[did].follows_count = 87, 9
        credentials = fake.session_for("boulangerie.bsky.social")
        figures = BlueskyNetwork().fetch_account_metrics(_for(
            "bluesky", settings={"did": did}, credentials=credentials))
    assert figures == {"followers": 87, "following": 9, "posts": 0}


def test_facebook_reports_the_pages_followers_and_fans(app, fake_facebook):
    page = fake_facebook.add_page("Boulangerie Martin", "boulangeriemartin")
    page.followers_count, page.fan_count = 1520, 1480
    with app.app_context():
        figures = FacebookNetwork().fetch_account_metrics(_for(
            "facebook", settings={"page_id": page.id},
            credentials={"page_access_token": page.token}))
    assert figures == {"followers": 1520, "fans": 1480}
    [request] = [r for r in fake_facebook.requests if r["path"] == f"/{page.id}"]
    assert request["args"]["fields"] == ["followers_count,fan_count"]


def test_instagram_reports_the_ig_users_followers(app, fake_instagram):
    page = fake_instagram.add_page("Boulangerie Martin", "boulangeriemartin")
    page.instagram.followers_count, page.instagram.follows_count = 2310, 180
    with app.app_context():
        figures = InstagramNetwork().fetch_account_metrics(_for(
            "instagram", settings={"ig_user_id": page.instagram.id, "page_id": page.id},
            credentials={"page_access_token": page.token}))
    assert figures == {"followers": 2310, "following": 180, "posts": 0}


def test_x_reports_the_users_public_metrics(app, fake_x):
    user = fake_x.add_user("Boulangerie Martin", "boulangeriemartin")
    user.followers_count, user.following_count = 640, 71
    with app.app_context():
        figures = XNetwork().fetch_account_metrics(_for(
            "x", settings={"user_id": user.id},
            credentials=credentials_from(fake_x.issue_tokens(user))))
    assert figures == {"followers": 640, "following": 71, "posts": 0, "listed": 0}


def test_linkedin_reports_a_pages_followers_and_nothing_for_a_member(app, fake_linkedin):
    member = fake_linkedin.add_member("Marie Martin")
    organization = fake_linkedin.add_organization("Boulangerie Martin", "boulangerie",
                                                  roles={member: "ADMINISTRATOR"})
    organization.followers = 870
    with app.app_context():
        page = linkedin_outgoing(organization.urn, member.token)
        assert LinkedInNetwork().fetch_account_metrics(page) == {"followers": 870}
        before = len(fake_linkedin.requests)
        person = linkedin_outgoing(f"urn:li:person:{member.sub}", member.token)
        assert LinkedInNetwork().fetch_account_metrics(person) == {}
    assert len(fake_linkedin.requests) == before  # a member's: not even asked


def test_google_business_reports_nothing_without_asking(app):
    with app.app_context():
        assert GoogleBusinessNetwork().fetch_account_metrics(_for(
            "google_business", settings={}, credentials={})) == {}


# --- each network's counters onto the columns -----------------------------------------------

@pytest.mark.parametrize(("network", "metrics", "expected"), [
    ("x", {"impressions": 900, "likes": 40, "replies": 3, "reposts": 5, "quotes": 2,
           "bookmarks": 4, "url_link_clicks": 11, "profile_clicks": 6},
     {"impressions": 900, "reach": None, "reactions": 40, "comments": 3, "shares": 7,
      "clicks": 11, "saves": 4}),
    ("x", {"likes": 40, "replies": 3, "reposts": 5, "quotes": 2, "bookmarks": 4},
     {"impressions": None, "reach": None, "reactions": 40, "comments": 3, "shares": 7,
      "clicks": None, "saves": 4}),  # an older post: public metrics only
    ("bluesky", {"likes": 9, "reposts": 1, "replies": 2, "quotes": 1},
     {"impressions": None, "reach": None, "reactions": 9, "comments": 2, "shares": 2,
      "clicks": None, "saves": None}),
    ("facebook", {"reactions": 14, "comments": 2},  # a video: no shares counted
     {"impressions": None, "reach": None, "reactions": 14, "comments": 2, "shares": None,
      "clicks": None, "saves": None}),
    ("instagram", {"views": 1200, "reach": 800, "likes": 60, "comments": 4, "shares": 3,
                   "saves": 9, "interactions": 76},
     {"impressions": 1200, "reach": 800, "reactions": 60, "comments": 4, "shares": 3,
      "clicks": None, "saves": 9}),
    ("linkedin", {"likes": 3, "comments": 1},  # a member's post
     {"impressions": None, "reach": None, "reactions": 3, "comments": 1, "shares": None,
      "clicks": None, "saves": None}),
    ("google_business", {}, dict.fromkeys(POST_COUNTERS)),
    ("mastodon", {"likes": True, "reposts": "2"}, dict.fromkeys(POST_COUNTERS)),
])
def test_each_networks_counters_land_in_their_columns(network, metrics, expected):
    assert columns(network, metrics) == expected


# --- whole runs ------------------------------------------------------------------------------

def _mastodon_account(app, db, world, mastodon) -> uuid.UUID:
    return make_account(app, db, world, network="mastodon", settings=mastodon.settings,
                        credentials={"access_token": mastodon.token})


def _status(mastodon, text: str) -> str:
    published = MastodonNetwork().publish(Outgoing(
        publication_id=uuid.uuid4(), account_id=uuid.uuid4(), network="mastodon", text=text,
        media=(), first_comment="", scheduled_at=None, idempotency_key=uuid.uuid4().hex,
        settings=mastodon.settings, credentials={"access_token": mastodon.token}))
    return published.external_id


def test_a_mastodon_run_maps_its_counters_and_leaves_the_rest_null(app, db, world, mastodon):
    account = _mastodon_account(app, db, world, mastodon)
    mastodon.account.followers_count = 415
    status = _status(mastodon, "Pain au levain ce matin")
    mastodon.set_status_counts(status, favourites=12, reblogs=3, replies=2)
    publication = publish(app, db, world, account, datetime.now(UTC) - timedelta(hours=2),
                          external_id=status)

    assert collect_account(world.agency_id, account) == Outcome.COLLECTED

    [reading] = snapshots(world, publication)
    assert (reading.reactions, reading.shares, reading.comments) == (12, 3, 2)
    assert (reading.impressions, reading.reach, reading.clicks, reading.saves) == (
        None, None, None, None)
    assert reading.raw == {"likes": 12, "reposts": 3, "replies": 2}
    [day] = days(world, account)
    assert day.followers == 415 and day.raw["following"] == 0


def test_a_429_from_mastodon_pauses_the_account(app, db, world, mastodon):
    account = _mastodon_account(app, db, world, mastodon)
    first = publish(app, db, world, account, datetime.now(UTC) - timedelta(hours=2),
                    external_id=_status(mastodon, "Premier"))
    publish(app, db, world, account, datetime.now(UTC) - timedelta(hours=3),
            external_id=_status(mastodon, "Second"))
    mastodon.fail_next(429, path="/api/v1/statuses/", count=1)
    mastodon.requests.clear()

    assert collect_account(world.agency_id, account) == Outcome.RATE_LIMITED

    assert snapshots(world) == [] and len(days(world, account)) == 1
    assert 100 < paused_seconds(account) <= 121  # Mastodon's reset, for reads and posts
    assert ratelimit.wait_seconds("mastodon", account) > 100
    assert collect_account(world.agency_id, account) == Outcome.PAUSED
    assert len(mastodon.requests) == 2  # verify_credentials, then the refused read
    assert snapshots(world, first) == []


def test_a_spent_read_budget_on_x_never_pauses_its_posts(app, db, world, fake_x):
    user = fake_x.add_user("Boulangerie Martin", "boulangeriemartin")
    account = make_account(app, db, world, network="x",
                           settings={"user_id": user.id, "username": user.username},
                           credentials=credentials_from(fake_x.issue_tokens(user)))
    fake_x.fail_next(429, path="/2/users/me", method="GET",
                     headers={"x-rate-limit-remaining": "0",
                              "x-rate-limit-reset": str(int(datetime.now(UTC).timestamp())
                                                        + 900)})
    with app.app_context():
        assert collect_account(world.agency_id, account) == Outcome.RATE_LIMITED
    assert paused_seconds(account) == 0
    assert ratelimit.wait_seconds("x", account) == 0

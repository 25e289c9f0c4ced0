"""The X adapter against the fake X API v2, over real loopback HTTP: the request shapes
of a post, every outcome class, X's rate-limit headers, the duplicate refusal, find and
metrics. Media: test_x_media.py; threads: test_x_thread.py; tokens: test_x_tokens.py."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from agency.networks.base import (
    AuthExpiredError,
    OutcomeUnknown,
    PermanentError,
    Published,
    RetryableError,
)
from agency.networks.registry import adapter_for
from agency.networks.x import XNetwork
from tests.fakes.x import DUPLICATE, fake_x  # noqa: F401 (fixture)
from tests.networks.test_x_support import TEXT, Saved, outgoing, photo, posts, x_fake  # noqa: F401


@pytest.fixture
def fake(x_fake):  # noqa: F811 (the fake with an account, from test_x_support)
    return x_fake


def test_the_registry_knows_x_and_its_promises():
    adapter = adapter_for("x")
    assert isinstance(adapter, XNetwork)
    # No idempotency key on POST /2/tweets, and a timeline search proves nothing.
    assert adapter.idempotent_publish is False and adapter.authoritative_find is False


# --- request shapes -----------------------------------------------------------------------

def test_a_text_post_is_one_create_post_call(fake):
    saved = Saved()
    published = XNetwork().publish(outgoing(fake, saved=saved))
    [tweet] = fake.tweets
    assert published == Published(tweet["id"],
                                   f"https://x.com/boulangeriemartin/status/{tweet['id']}")
    # Documented form (x-api/posts/create-or-edit-post): POST /2/tweets, JSON {"text"},
    # the user's OAuth 2.0 token as a Bearer.
    [request] = posts(fake)
    assert request["json"] == {"text": TEXT}
    assert request["headers"]["authorization"] == f"Bearer {fake.credentials['access_token']}"
    assert request["headers"]["content-type"] == "application/json"
    # The attempt said what it was about to send, then what it sent.
    assert saved[0]["sending"]["part"] == 0 and "posted" not in saved[0]
    assert saved.last["posted"] == [tweet["id"]] and "sending" not in saved.last


def test_a_retry_after_success_posts_nothing_more(fake):
    saved = Saved()
    first = XNetwork().publish(outgoing(fake, saved=saved))
    again = XNetwork().publish(outgoing(fake, progress=saved.last))
    assert again == first and len(fake.tweets) == 1 and len(posts(fake)) == 1


def test_the_username_falls_back_to_the_handle_then_to_i(fake):
    sent = outgoing(fake)
    sent.settings.pop("username")
    assert XNetwork().publish(sent).url.startswith("https://x.com/boulangeriemartin/status/")


# --- outcome classes ----------------------------------------------------------------------

def test_a_revoked_token_without_refresh_means_reconnect(fake):
    fake.revoke_token(fake.credentials["access_token"])
    credentials = {**fake.credentials, "refreshable": False}
    credentials.pop("refresh_token")
    with pytest.raises(AuthExpiredError) as caught:
        XNetwork().publish(outgoing(fake, credentials=credentials))
    assert "Reconnect" in caught.value.reason and fake.tweets == []
    assert fake.credentials["access_token"] not in caught.value.reason + caught.value.detail


def test_a_429_retries_after_xs_reset(fake):
    reset = int(time.time()) + 600
    fake.fail_next(429, body={"title": "Too Many Requests", "detail": "Too Many Requests",
                              "type": "about:blank", "status": 429},
                   headers={"x-rate-limit-limit": 100, "x-rate-limit-remaining": 0,
                            "x-rate-limit-reset": reset})
    adapter = XNetwork()
    with pytest.raises(RetryableError) as caught:
        adapter.publish(outgoing(fake))
    assert 590 <= caught.value.retry_after <= 600
    assert adapter.rate_limited_until == datetime.fromtimestamp(reset, UTC)


def test_a_429_without_headers_waits_a_minute(fake):
    fake.fail_next(429, body={"title": "Too Many Requests", "status": 429})
    with pytest.raises(RetryableError) as caught:
        XNetwork().publish(outgoing(fake))
    assert caught.value.retry_after == 60


def test_the_fakes_own_limit_answers_429_with_its_headers(fake):
    fake.limits["POST /2/tweets"] = 1
    XNetwork().publish(outgoing(fake))
    with pytest.raises(RetryableError) as caught:
        XNetwork().publish(outgoing(fake, text="Encore"))
    assert 800 < caught.value.retry_after <= 900  # the 15-minute window's reset


def test_a_spent_budget_on_success_pauses_the_account(fake):
    fake.limits["POST /2/tweets"] = 1  # this post takes the last one
    adapter = XNetwork()
    adapter.publish(outgoing(fake))
    assert adapter.rate_limited_until > datetime.now(UTC) + timedelta(minutes=14)


def test_the_24_hour_cap_pauses_until_its_own_reset(fake):
    fake.daily_tweet_limit = 1
    adapter = XNetwork()
    adapter.publish(outgoing(fake))
    assert adapter.rate_limited_until > datetime.now(UTC) + timedelta(hours=23)


def test_a_budget_with_room_left_pauses_nothing(fake):
    adapter = XNetwork()
    adapter.publish(outgoing(fake))
    assert adapter.rate_limited_until is None


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_trouble_is_retryable(fake, status):
    fake.fail_next(status)
    with pytest.raises(RetryableError):
        XNetwork().publish(outgoing(fake))
    assert fake.tweets == []


def test_an_invalid_request_is_permanent_quoting_the_errors_messages(fake):
    with pytest.raises(PermanentError) as caught:
        XNetwork().publish(outgoing(fake, text="a" * 300))
    assert "Tweet text is too long." in caught.value.reason


def test_a_forbidden_post_is_permanent_quoting_the_detail(fake):
    fake.fail_next(403, body={"title": "Forbidden", "type": "about:blank", "status": 403,
                              "detail": "You are not permitted to perform this action."})
    with pytest.raises(PermanentError) as caught:
        XNetwork().publish(outgoing(fake))
    assert "You are not permitted to perform this action." in caught.value.reason


def test_a_text_posted_before_is_refused_as_a_duplicate(fake):
    XNetwork().publish(outgoing(fake))
    with pytest.raises(PermanentError) as caught:  # a fresh send: not ours, a true refusal
        XNetwork().publish(outgoing(fake))
    assert DUPLICATE in caught.value.reason and "change the text" in caught.value.reason
    assert len(fake.tweets) == 1


def test_an_unreachable_x_is_retryable(fake, app):
    import socket

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    app.config["X_API_URL"] = f"http://127.0.0.1:{port}"
    with pytest.raises(RetryableError):
        XNetwork().publish(outgoing(fake))


def test_a_timeout_after_sending_is_unknown_and_find_settles_it(fake):
    fake.hang_next()
    saved = Saved()
    sent = outgoing(fake, saved=saved)
    with pytest.raises(OutcomeUnknown):
        XNetwork().publish(sent)
    [tweet] = fake.tweets  # stored, its answer lost
    found = XNetwork().find(outgoing(fake, progress=saved.last))
    assert found == Published(tweet["id"],
                              f"https://x.com/boulangeriemartin/status/{tweet['id']}")


# --- the duplicate refusal after an unknown outcome ---------------------------------------

def test_a_retry_after_a_lost_answer_finds_the_post_instead_of_resending(fake):
    fake.hang_next()
    saved = Saved()
    with pytest.raises(OutcomeUnknown):
        XNetwork().publish(outgoing(fake, saved=saved))
    published = XNetwork().publish(outgoing(fake, progress=saved.last))
    [tweet] = fake.tweets
    assert published.external_id == tweet["id"] and len(posts(fake)) == 1


def test_a_duplicate_refusal_after_a_lost_answer_means_the_post_is_out(fake):
    fake.hang_next()
    saved = Saved()
    with pytest.raises(OutcomeUnknown):
        XNetwork().publish(outgoing(fake, saved=saved))
    # The timeline does not show it yet: the retry sends again, X refuses the duplicate,
    # and that refusal is taken for what it means (out), not as a failure.
    empty = {"meta": {"result_count": 0}}
    timeline = f"/2/users/{fake.user.id}/tweets"
    fake.fail_next(200, path=timeline, method="GET", body=empty, count=2)
    with pytest.raises(RetryableError) as caught:
        XNetwork().publish(outgoing(fake, progress=saved.last, saved=saved))
    assert "already out" in caught.value.reason
    assert saved.last["sending"]["at"] == saved[0]["sending"]["at"]  # still looks back far
    published = XNetwork().publish(outgoing(fake, progress=saved.last, saved=saved))
    [tweet] = fake.tweets
    assert published.external_id == tweet["id"]
    assert len(posts(fake)) == 2  # the refused resend, never a second post


# --- find and metrics ---------------------------------------------------------------------

def test_find_matches_texts_as_x_gives_them_back(fake):
    text = "Pain & croissants <chauds> : https://boulangerie.example/menu"
    sent = outgoing(fake, text=text, media=[photo()], scheduled_at=datetime.now(UTC))
    published = XNetwork().publish(sent)
    assert "t.co" in fake.tweets[0]["shown"] and "&amp;" in fake.tweets[0]["shown"]
    found = XNetwork().find(outgoing(fake, text=text, scheduled_at=sent.scheduled_at))
    assert found == published
    [query] = [r for r in fake.requests if r["path"].endswith("/tweets")
               and r["method"] == "GET"]
    # Documented form (x-api/posts/user-posts-timeline-by-user-id).
    assert query["path"] == f"/2/users/{fake.user.id}/tweets"
    assert set(query["args"]["tweet.fields"].split(",")) >= {"created_at", "text"}
    start = datetime.strptime(query["args"]["start_time"], "%Y-%m-%dT%H:%M:%SZ")
    assert start.replace(tzinfo=UTC) <= sent.scheduled_at - timedelta(minutes=5)


def test_find_ignores_other_texts_and_earlier_posts(fake):
    XNetwork().publish(outgoing(fake, text="Autre chose"))
    assert XNetwork().find(outgoing(fake, scheduled_at=datetime.now(UTC))) is None
    XNetwork().publish(outgoing(fake))
    later = outgoing(fake, scheduled_at=datetime.now(UTC) + timedelta(hours=1))
    assert XNetwork().find(later) is None


def test_find_trusts_the_saved_progress_without_a_call(fake):
    found = XNetwork().find(outgoing(fake, progress={"posted": ["123"]}))
    assert found == Published("123", "https://x.com/boulangeriemartin/status/123")
    assert fake.requests == []


def test_find_never_renews_the_token(fake):
    fake.expire_access(fake.credentials["access_token"])
    with pytest.raises(AuthExpiredError):
        XNetwork().find(outgoing(fake, scheduled_at=datetime.now(UTC)))
    assert [r for r in fake.requests if r["path"] == "/2/oauth2/token"] == []


def test_metrics_flatten_public_and_private_counters(fake):
    published = XNetwork().publish(outgoing(fake))
    tweet = fake.tweets[0]
    tweet["metrics"].update(like_count=7, retweet_count=2, reply_count=3, quote_count=1,
                            bookmark_count=4, impression_count=90)
    tweet["private"].update(impression_count=120, url_link_clicks=5, user_profile_clicks=6)
    assert XNetwork().fetch_metrics(outgoing(fake), published.external_id) == {
        "impressions": 120, "likes": 7, "replies": 3, "reposts": 2, "quotes": 1,
        "bookmarks": 4, "url_link_clicks": 5, "profile_clicks": 6}
    [request] = [r for r in fake.requests if r["path"] == f"/2/tweets/{tweet['id']}"]
    assert request["args"]["tweet.fields"] == "public_metrics,non_public_metrics"


def test_metrics_of_an_old_post_fall_back_to_public_ones(fake):
    published = XNetwork().publish(outgoing(fake))
    fake.tweets[0]["created"] -= 40 * 86400  # private metrics last 30 days
    fake.tweets[0]["metrics"]["like_count"] = 9
    metrics = XNetwork().fetch_metrics(outgoing(fake), published.external_id)
    assert metrics["likes"] == 9 and "url_link_clicks" not in metrics


def test_the_fake_refuses_unknown_tokens_like_x(fake):
    answer = httpx.get(f"{fake.url}/2/users/me", headers={"Authorization": "Bearer nope"})
    assert answer.status_code == 401
    assert answer.json() == {"title": "Unauthorized", "type": "about:blank", "status": 401,
                             "detail": "Unauthorized"}


def test_a_spent_read_budget_does_not_pause_the_accounts_posts(fake):
    fake.limits["GET /2/users/:id/tweets"] = 1  # as low as some plans have it
    adapter = XNetwork()
    adapter.find(outgoing(fake, scheduled_at=datetime.now(UTC)))
    assert adapter.rate_limited_until is None

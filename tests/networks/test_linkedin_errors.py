"""The LinkedIn adapter's outcome classes against the fake LinkedIn (error-handling and
rate-limits pages of LinkedIn's API guide), then find and metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from agency.networks.base import (
    AuthExpiredError,
    OutcomeUnknown,
    PermanentError,
    RetryableError,
)
from agency.networks.linkedin import LinkedInNetwork
from agency.networks.linkedin_api import DEFAULT_RETRY_AFTER, next_midnight_utc
from tests.fakes.linkedin import FakeLinkedIn, fake_linkedin, outgoing, photo  # noqa: F401

TEXT = "Bonjour, le pain est chaud !"


@pytest.fixture
def fake(app, fake_linkedin):  # noqa: F811
    fake_linkedin.hang_seconds = 1.5
    app.config["NETWORK_TIMEOUT_SECONDS"] = 0.5  # restored by the fixture's monkeypatch
    fake_linkedin.member = fake_linkedin.add_member("Léa Martin")
    fake_linkedin.page = fake_linkedin.add_organization(
        "Boulangerie Martin", "boulangerie-martin", {fake_linkedin.member: "ADMINISTRATOR"})
    with app.app_context():
        yield fake_linkedin


def as_page(fake: FakeLinkedIn, **kwargs):
    return outgoing(fake.page.urn, fake.member.token, **kwargs)


def as_member(fake: FakeLinkedIn, **kwargs):
    return outgoing(f"urn:li:person:{fake.member.sub}", fake.member.token, **kwargs)


def gets(fake: FakeLinkedIn, path: str) -> list[dict]:
    return [r for r in fake.requests if r["method"] == "GET" and r["path"].startswith(path)]


# --- tokens and permissions ---------------------------------------------------------------

def test_a_revoked_token_means_reconnect(fake):
    fake.revoke_token(fake.member.token)
    with pytest.raises(AuthExpiredError) as caught:
        LinkedInNetwork().publish(as_page(fake))
    assert "revoked" in caught.value.reason and "Reconnect" in caught.value.reason
    assert fake.posts == []


def test_an_expired_token_means_reconnect(fake):
    fake.tokens[fake.member.token]["expires_at"] = fake.now() - 1
    with pytest.raises(AuthExpiredError) as caught:
        LinkedInNetwork().publish(as_page(fake))
    assert "expired" in caught.value.reason


def test_a_page_role_that_cannot_post_is_explained(fake):
    fake.page.roles[fake.member.sub] = "ANALYST"
    with pytest.raises(AuthExpiredError) as caught:
        LinkedInNetwork().publish(as_page(fake))
    assert "role on this LinkedIn Page must allow posting" in caught.value.reason
    assert "Not enough permissions" in caught.value.reason  # LinkedIn's words, kept
    assert fake.posts == []


def test_a_member_token_without_posting_permission_is_explained(fake):
    shy = fake.add_member("Paul Petit", scopes=("openid", "profile"))
    with pytest.raises(AuthExpiredError) as caught:
        LinkedInNetwork().publish(outgoing(f"urn:li:person:{shy.sub}", shy.token))
    assert "allow Relais to post on your behalf" in caught.value.reason


def test_missing_ids_or_tokens_mean_reconnect_without_calling(fake):
    with pytest.raises(AuthExpiredError):
        LinkedInNetwork().publish(outgoing("", fake.member.token))
    with pytest.raises(AuthExpiredError):
        LinkedInNetwork().publish(outgoing(fake.page.urn, ""))
    assert fake.requests == []


# --- rate limits --------------------------------------------------------------------------

def test_a_spent_daily_limit_waits_for_midnight_utc(fake):
    fake.p_429 = 1.0  # "Resource level throttle limit for calls to this resource is reached."
    adapter = LinkedInNetwork()
    with pytest.raises(RetryableError) as caught:
        adapter.publish(as_page(fake))
    midnight = next_midnight_utc()
    assert adapter.rate_limited_until == midnight
    expected = (midnight - datetime.now(UTC)).total_seconds()
    assert abs(caught.value.retry_after - expected) < 5
    assert "midnight UTC" in caught.value.reason


def test_another_429_waits_the_default(fake):
    fake.fail_next(429, code="TOO_MANY_REQUESTS", message="Too many requests")
    adapter = LinkedInNetwork()
    with pytest.raises(RetryableError) as caught:
        adapter.publish(as_page(fake))
    assert abs(caught.value.retry_after - DEFAULT_RETRY_AFTER) < 5
    soon = datetime.now(UTC) + timedelta(seconds=DEFAULT_RETRY_AFTER)
    assert abs((adapter.rate_limited_until - soon).total_seconds()) < 5


def test_nothing_is_paused_after_a_success(fake):
    adapter = LinkedInNetwork()
    adapter.publish(as_page(fake))
    assert adapter.rate_limited_until is None


# --- server trouble and refusals ----------------------------------------------------------

@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_trouble_is_retryable(fake, status):
    fake.fail_next(status, message="Service Unavailable", path="/rest/posts")
    with pytest.raises(RetryableError):
        LinkedInNetwork().publish(as_page(fake))


def test_a_gateway_timeout_on_the_post_is_an_unknown_outcome(fake):
    fake.fail_next(504, message="Gateway Timeout", path="/rest/posts")
    with pytest.raises(OutcomeUnknown):
        LinkedInNetwork().publish(as_page(fake))


def test_a_gateway_timeout_before_the_post_is_retryable(fake):
    fake.fail_next(504, message="Gateway Timeout", path="/rest/images")
    with pytest.raises(RetryableError):
        LinkedInNetwork().publish(as_page(fake, media=[photo()]))
    assert fake.posts == []


def test_a_write_conflict_is_retryable(fake):
    fake.fail_next(409, code="CONFLICT", message="A write conflict occurred. Retry the request.")
    with pytest.raises(RetryableError):
        LinkedInNetwork().publish(as_page(fake))


def test_a_sunset_api_version_names_the_setting(fake):
    fake.sunset.add("202410")
    with pytest.raises(RetryableError) as caught:
        LinkedInNetwork().publish(as_page(fake))
    assert "LINKEDIN_VERSION" in caught.value.reason
    assert "Requested version 202410 is not active" in caught.value.reason


@pytest.mark.parametrize(("status", "message"), [
    (400, "/commentary length 3001 can't exceeded maximum 3000 length"),
    (422, "Content is a duplicate of urn:li:share:7000000000000000001"),
    (404, "Could not find entity")])
def test_refusals_are_permanent_with_linkedins_words(fake, status, message):
    fake.fail_next(status, message=message, path="/rest/posts")
    with pytest.raises(PermanentError) as caught:
        LinkedInNetwork().publish(as_page(fake))
    assert message in caught.value.reason


def test_a_duplicate_is_refused_by_the_fake_like_linkedin(fake):
    LinkedInNetwork().publish(as_page(fake))
    with pytest.raises(PermanentError) as caught:
        LinkedInNetwork().publish(as_page(fake))
    assert f"Content is a duplicate of {fake.posts[0]['id']}" in caught.value.reason
    assert len(fake.posts) == 1


def test_a_timeout_after_sending_is_an_unknown_outcome_that_find_settles(fake):
    fake.hang_next(path="/rest/posts")
    sent = as_page(fake, scheduled_at=datetime.now(UTC))
    with pytest.raises(OutcomeUnknown):
        LinkedInNetwork().publish(sent)
    [post] = fake.posts  # stored, its answer lost
    found = LinkedInNetwork().find(sent)
    assert found is not None and found.external_id == post["id"]
    assert found.url == f"https://www.linkedin.com/feed/update/{post['id']}"


def test_a_timeout_uploading_an_image_is_merely_retryable(fake):
    fake.hang_next(path="/dms-uploads/")
    with pytest.raises(RetryableError):
        LinkedInNetwork().publish(as_page(fake, media=[photo()]))
    assert fake.posts == []


def test_an_unreachable_linkedin_is_retryable(fake, app):
    import socket

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    app.config["LINKEDIN_API_URL"] = f"http://127.0.0.1:{port}"  # restored by the fixture
    with pytest.raises(RetryableError):
        LinkedInNetwork().publish(as_page(fake))


# --- find ---------------------------------------------------------------------------------

def test_find_matches_the_exact_text_only(fake):
    sent = as_page(fake, text=TEXT + " (ce matin)", scheduled_at=datetime.now(UTC))
    LinkedInNetwork().publish(as_page(fake, text=TEXT + " (ce soir)"))
    assert LinkedInNetwork().find(sent) is None
    LinkedInNetwork().publish(sent)
    assert LinkedInNetwork().find(sent).external_id == fake.posts[-1]["id"]

    request = gets(fake, "/rest/posts")[-1]
    # Posts API, "Find Posts by Authors": a FINDER on the author, URN Rest.li-encoded.
    assert request["query"] == (f"author={fake.page.urn.replace(':', '%3A')}&q=author"
                                "&count=50&sortBy=LAST_MODIFIED")
    assert request["headers"]["x-restli-method"] == "FINDER"
    assert request["headers"]["linkedin-version"] == "202410"


def test_find_ignores_posts_before_the_scheduled_time(fake):
    LinkedInNetwork().publish(as_page(fake))
    later = as_page(fake, scheduled_at=datetime.now(UTC) + timedelta(hours=1))
    assert LinkedInNetwork().find(later) is None
    assert LinkedInNetwork().find(as_page(fake)) is None  # no scheduled time: no bound


def test_find_for_a_member_cannot_tell_without_r_member_social(fake):
    sent = as_member(fake, scheduled_at=datetime.now(UTC))
    LinkedInNetwork().publish(sent)
    assert LinkedInNetwork().find(sent) is None  # 403: the app may not read them
    fake.member_social_read = True
    assert LinkedInNetwork().find(sent).external_id == fake.posts[0]["id"]


def test_find_that_linkedin_cannot_answer_is_retryable(fake):
    sent = as_page(fake, scheduled_at=datetime.now(UTC))
    fake.fail_next(503, message="Service Unavailable", method="GET")
    with pytest.raises(RetryableError):
        LinkedInNetwork().find(sent)
    fake.fail_next(400, message="Invalid param", method="GET")
    with pytest.raises(RetryableError):  # never a PermanentError out of find
        LinkedInNetwork().find(sent)


def test_find_for_a_page_the_member_lost_says_so(fake):
    sent = as_page(fake, scheduled_at=datetime.now(UTC))
    fake.page.roles.clear()
    with pytest.raises(AuthExpiredError):
        LinkedInNetwork().find(sent)


# --- metrics ------------------------------------------------------------------------------

def test_page_metrics_read_the_share_statistics(fake):
    published = LinkedInNetwork().publish(as_page(fake, first_comment="Merci"))
    fake.posts[0]["likes"] = 7
    fake.posts[0]["stats"] = {"impressionCount": 120, "uniqueImpressionsCount": 90,
                              "clickCount": 12, "shareCount": 2, "engagement": 0.1833}
    assert LinkedInNetwork().fetch_metrics(as_page(fake), published.external_id) == {
        "impressions": 120, "reach": 90, "clicks": 12, "likes": 7, "comments": 1,
        "shares": 2, "engagement_rate_bp": 1833}
    request = gets(fake, "/rest/organizationalEntityShareStatistics")[-1]
    encoded = published.external_id.replace(":", "%3A")
    assert request["query"] == ("q=organizationalEntity&organizationalEntity="
                                f"{fake.page.urn.replace(':', '%3A')}&shares=List({encoded})")
    assert request["headers"]["x-restli-method"] == "FINDER"


def test_multiimage_metrics_ask_for_ugc_posts(fake):
    published = LinkedInNetwork().publish(as_page(fake, media=[photo("a", "a"),
                                                               photo("b", "b")]))
    assert published.external_id.startswith("urn:li:ugcPost:")
    fake.posts[0]["stats"] = {"impressionCount": 5}
    assert LinkedInNetwork().fetch_metrics(as_page(fake), published.external_id)[
        "impressions"] == 5
    assert "ugcPosts=List(" in gets(fake, "/rest/organizationalEntityShareStatistics")[-1][
        "query"]


def test_member_metrics_read_the_social_actions_when_allowed(fake):
    published = LinkedInNetwork().publish(as_member(fake, first_comment="Merci"))
    fake.posts[0]["likes"] = 4
    assert LinkedInNetwork().fetch_metrics(as_member(fake), published.external_id) == {}
    fake.member_social_read = True
    assert LinkedInNetwork().fetch_metrics(as_member(fake), published.external_id) == {
        "likes": 4, "comments": 1}
    request = gets(fake, "/rest/socialActions/")[-1]
    assert request["raw_path"] == "/rest/socialActions/" + published.external_id.replace(
        ":", "%3A")


def test_the_fake_refuses_unknown_tokens_like_linkedin(fake):
    answer = httpx.get(f"{fake.url}/rest/posts", headers={"Authorization": "Bearer nope"})
    assert answer.status_code == 401
    assert answer.json() == {"status": 401, "message": "Invalid access token",
                             "serviceErrorCode": 65600}

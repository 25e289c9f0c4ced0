"""The Facebook Pages adapter against the fake Graph API, over real loopback HTTP: the
request shapes of each kind of post, the first comment, every outcome class, rate-limit
headers, find and metrics."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from agency.networks.base import (
    AuthExpiredError,
    OutcomeUnknown,
    Outgoing,
    OutgoingMedia,
    PermanentError,
    Published,
    RetryableError,
)
from agency.networks.facebook import FacebookNetwork
from agency.networks.registry import adapter_for
from tests.fakes.facebook import FakeFacebook, fake_facebook  # noqa: F401 (fixture)

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108000000003a7e9b55"
                    "0000000a49444154789c636000000002000148afa4710000000049454e44ae426082")
TEXT = "Bonjour, le pain est chaud !"


@pytest.fixture
def fake(app, fake_facebook):  # noqa: F811
    fake_facebook.hang_seconds = 1.5
    app.config["NETWORK_TIMEOUT_SECONDS"] = 0.5  # restored by the fixture's monkeypatch
    fake_facebook.page = fake_facebook.add_page("Boulangerie Martin", "boulangeriemartin")
    with app.app_context():
        yield fake_facebook


def outgoing(fake: FakeFacebook, *, text=TEXT, media=(), first_comment="",
             scheduled_at=None, token=None) -> Outgoing:
    return Outgoing(
        publication_id=uuid.uuid4(), account_id=uuid.uuid4(), network="facebook", text=text,
        media=tuple(media), first_comment=first_comment, scheduled_at=scheduled_at,
        idempotency_key=uuid.uuid4().hex, settings={"page_id": fake.page.id},
        credentials={"page_access_token": token or fake.page.token})


def photo(name="croissants.png") -> OutgoingMedia:
    return OutgoingMedia(sha256="0" * 64, mime="image/png", kind="image", data=PNG,
                         filename=name)


def posts_to(fake: FakeFacebook, suffix: str) -> list[dict]:
    return [r for r in fake.requests if r["method"] == "POST" and r["path"].endswith(suffix)]


def test_the_registry_knows_facebook_and_its_promises():
    adapter = adapter_for("facebook")
    assert isinstance(adapter, FacebookNetwork)
    assert adapter.idempotent_publish is False and adapter.authoritative_find is False


# --- request shapes -----------------------------------------------------------------------

def test_text_goes_to_the_page_feed(fake):
    published = FacebookNetwork().publish(outgoing(fake))
    [post] = fake.posts
    assert published == Published(post["id"], f"https://www.facebook.com/{post['id']}")
    assert post["message"] == TEXT and post["photos"] == []
    [request] = posts_to(fake, "/feed")
    assert request["path"] == f"/{fake.page.id}/feed"
    assert request["form"]["message"] == [TEXT]
    assert request["args"]["access_token"] == [fake.page.token]


def test_one_photo_is_posted_with_its_caption(fake):
    published = FacebookNetwork().publish(outgoing(fake, media=[photo()]))
    [post] = fake.posts
    assert published.external_id == post["id"] and post["message"] == TEXT
    [request] = posts_to(fake, "/photos")
    assert request["form"]["caption"] == [TEXT]
    assert request["files"]["source"][:2] == ("croissants.png", "image/png")
    assert posts_to(fake, "/feed") == []


def test_several_photos_are_uploaded_unpublished_then_attached(fake):
    published = FacebookNetwork().publish(outgoing(fake, media=[photo("a.png"), photo("b.png")]))
    uploads = posts_to(fake, "/photos")
    assert [u["form"]["published"] for u in uploads] == [["false"], ["false"]]
    [feed] = posts_to(fake, "/feed")
    attached = [json.loads(feed["form"][f"attached_media[{i}]"][0])["media_fbid"]
                for i in range(2)]
    [post] = fake.posts
    assert post["photos"] == attached and published.external_id == post["id"]


def test_the_first_comment_follows_the_post(fake):
    adapter = FacebookNetwork()
    published = adapter.publish(outgoing(fake, first_comment="Commandez au 01 23 45 67 89"))
    [post] = fake.posts
    assert post["comments"][0]["message"] == "Commandez au 01 23 45 67 89"
    assert adapter.first_comment_id == post["comments"][0]["id"]
    assert adapter.first_comment_error == "" and published.external_id == post["id"]


def test_a_failed_first_comment_never_fails_the_post(fake):
    fake.fail_next(400, code=100, path="/comments", message="(#100) Comment too spammy")
    adapter = FacebookNetwork()
    published = adapter.publish(outgoing(fake, first_comment="Venez !"))
    assert published.external_id == fake.posts[0]["id"]
    assert "Comment too spammy" in adapter.first_comment_error


def test_videos_are_refused_plainly(fake):
    video = OutgoingMedia(sha256="1" * 64, mime="video/mp4", kind="video", data=b"x",
                          filename="v.mp4")
    with pytest.raises(PermanentError):
        FacebookNetwork().publish(outgoing(fake, media=[video]))
    assert fake.requests == []


# --- outcome classes ----------------------------------------------------------------------

@pytest.mark.parametrize("code", [190, 102, 10, 200, 230])
def test_token_and_permission_errors_mean_reconnect(fake, code):
    fake.fail_next(400, code=code, message="Error validating access token")
    with pytest.raises(AuthExpiredError) as caught:
        FacebookNetwork().publish(outgoing(fake))
    assert "Error validating access token" in caught.value.reason


def test_a_revoked_page_token_means_reconnect(fake):
    fake.revoke_token(fake.page.token)
    with pytest.raises(AuthExpiredError):
        FacebookNetwork().publish(outgoing(fake))
    assert fake.posts == []


@pytest.mark.parametrize("code", [4, 17, 32, 613])
def test_rate_limit_codes_retry_after_the_default_minute(fake, code):
    fake.fail_next(400, code=code, message="(#4) Application request limit reached")
    with pytest.raises(RetryableError) as caught:
        FacebookNetwork().publish(outgoing(fake))
    assert caught.value.retry_after == 60


def test_rate_limits_use_the_usage_headers_regain_time(fake):
    fake.p_429, fake.regain_minutes = 1.0, 3
    adapter = FacebookNetwork()
    with pytest.raises(RetryableError) as caught:
        adapter.publish(outgoing(fake))
    assert caught.value.retry_after == 180
    assert adapter.rate_limited_until is not None


def test_http_429_is_retryable(fake):
    fake.fail_next(429, code=0, message="Too many calls")
    with pytest.raises(RetryableError) as caught:
        FacebookNetwork().publish(outgoing(fake))
    assert caught.value.retry_after == 60


@pytest.mark.parametrize(("status", "code"), [(500, 2), (503, 0), (400, 1), (400, 2)])
def test_server_trouble_is_retryable(fake, status, code):
    fake.fail_next(status, code=code)
    with pytest.raises(RetryableError):
        FacebookNetwork().publish(outgoing(fake))


def test_other_refusals_are_permanent_with_facebooks_words(fake):
    fake.fail_next(400, code=100, message="(#100) Invalid parameter")
    with pytest.raises(PermanentError) as caught:
        FacebookNetwork().publish(outgoing(fake))
    assert "(#100) Invalid parameter" in caught.value.reason


def test_a_budget_spent_on_success_is_exposed(fake):
    fake.usage = {"call_count": 100, "total_cputime": 3, "total_time": 3}
    adapter = FacebookNetwork()
    adapter.publish(outgoing(fake))
    assert adapter.rate_limited_until > datetime.now(UTC) + timedelta(seconds=50)


def test_a_timeout_after_sending_is_an_unknown_outcome_that_find_settles(fake):
    fake.hang_next()
    adapter = FacebookNetwork()
    sent = outgoing(fake, scheduled_at=datetime.now(UTC))
    with pytest.raises(OutcomeUnknown):
        adapter.publish(sent)
    [post] = fake.posts  # stored, its answer lost
    found = adapter.find(sent)
    assert found is not None and found.external_id == post["id"]
    assert "facebook.com" in found.url


def test_a_timeout_uploading_unpublished_photos_is_merely_retryable(fake):
    fake.hang_next()
    with pytest.raises(RetryableError):
        FacebookNetwork().publish(outgoing(fake, media=[photo("a.png"), photo("b.png")]))
    assert fake.posts == []


def test_an_unreachable_graph_is_retryable(fake, app):
    with socket_closed(app), pytest.raises(RetryableError):
        FacebookNetwork().publish(outgoing(fake))


class socket_closed:
    """Points the adapter at a loopback port nothing listens on."""

    def __init__(self, app):
        self.app = app

    def __enter__(self):
        import socket

        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        self.saved = self.app.config["FACEBOOK_GRAPH_URL"]
        self.app.config["FACEBOOK_GRAPH_URL"] = f"http://127.0.0.1:{port}"

    def __exit__(self, *exc):
        self.app.config["FACEBOOK_GRAPH_URL"] = self.saved


# --- find and metrics ---------------------------------------------------------------------

def test_find_matches_the_exact_message_only(fake):
    sent = outgoing(fake, scheduled_at=datetime.now(UTC))
    FacebookNetwork().publish(outgoing(fake, text=TEXT + " (autre)"))
    assert FacebookNetwork().find(sent) is None
    FacebookNetwork().publish(sent)
    assert FacebookNetwork().find(sent).external_id == fake.posts[-1]["id"]
    [query] = [r["args"] for r in fake.requests if r["method"] == "GET"][-1:]
    assert query["fields"] == ["id,message,created_time,permalink_url"]
    assert int(query["since"][0]) <= int(sent.scheduled_at.timestamp()) - 300


def test_find_ignores_posts_before_the_scheduled_time(fake):
    FacebookNetwork().publish(outgoing(fake))
    later = outgoing(fake, scheduled_at=datetime.now(UTC) + timedelta(hours=1))
    assert FacebookNetwork().find(later) is None


def test_metrics_read_the_summaries(fake):
    published = FacebookNetwork().publish(outgoing(fake, first_comment="Merci"))
    fake.posts[0]["reactions"], fake.posts[0]["shares"] = 7, 2
    assert FacebookNetwork().fetch_metrics(outgoing(fake), published.external_id) == {
        "reactions": 7, "comments": 1, "shares": 2}


def test_the_fake_refuses_unknown_tokens_like_graph(fake):
    answer = httpx.get(f"{fake.url}/v21.0/{fake.page.id}/feed",
                       params={"access_token": "nope"})
    assert answer.json()["error"]["code"] == 190

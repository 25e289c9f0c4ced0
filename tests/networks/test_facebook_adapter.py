"""The Facebook Pages adapter against the fake Graph API, over real loopback HTTP: the
request shapes of each kind of post (as the Graph API references "Page Feed" and "Page
Photos" document them: message, link, place, caption, source, attached_media), the first
comment, and every outcome class. Videos: test_facebook_video.py; appsecret_proof, paging,
find and metrics: test_facebook_graph.py; the engine: test_facebook_engine.py."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

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


def with_page(app, server: FakeFacebook) -> FakeFacebook:
    """The fake with one Page, and answers held back longer than the client waits."""
    server.hang_seconds = 1.5
    app.config["NETWORK_TIMEOUT_SECONDS"] = 0.5  # restored by the fixture's monkeypatch
    server.page = server.add_page("Boulangerie Martin", "boulangeriemartin")
    return server


@pytest.fixture
def fake(app, fake_facebook):  # noqa: F811
    with app.app_context():
        yield with_page(app, fake_facebook)


def outgoing(fake: FakeFacebook, *, text=TEXT, media=(), first_comment="",
             scheduled_at=None, token=None, options=None, settings=None, progress=None,
             checkpoint=None) -> Outgoing:
    return Outgoing(
        publication_id=uuid.uuid4(), account_id=uuid.uuid4(), network="facebook", text=text,
        media=tuple(media), first_comment=first_comment, scheduled_at=scheduled_at,
        idempotency_key=uuid.uuid4().hex,
        settings={"page_id": fake.page.id, **(settings or {})},
        credentials={"page_access_token": token or fake.page.token},
        options=dict(options or {}), progress=dict(progress or {}), checkpoint=checkpoint)


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
    assert "link" not in request["form"] and "place" not in request["form"]
    assert request["args"]["access_token"] == [fake.page.token]


def test_a_text_with_an_address_is_a_link_post(fake):
    # Page Feed: "link: The URL of a link to attach to the post"; Facebook builds the
    # preview from it. The first http(s) address of the text is the one.
    text = "Nouveau menu : https://boulangerie.fr/menu?jour=1. Et aussi http://autre.fr"
    published = FacebookNetwork().publish(outgoing(fake, text=text))
    [request] = posts_to(fake, "/feed")
    assert request["form"]["message"] == [text]
    assert request["form"]["link"] == ["https://boulangerie.fr/menu?jour=1"]
    [post] = fake.posts
    assert post["link"] == "https://boulangerie.fr/menu?jour=1"
    assert published.external_id == post["id"]


def test_a_bare_domain_is_not_taken_for_a_link(fake):
    FacebookNetwork().publish(outgoing(fake, text="Commandez sur pain.fr ou www.pain.fr"))
    [request] = posts_to(fake, "/feed")
    assert "link" not in request["form"]


def test_photos_carry_no_link(fake):
    FacebookNetwork().publish(outgoing(fake, text="Voir https://boulangerie.fr",
                                       media=[photo("a.png"), photo("b.png")]))
    [feed] = posts_to(fake, "/feed")
    assert "link" not in feed["form"]


# --- location tag (Page Feed and Page Photos: "place", the Page id of a place) -----------

def test_a_chosen_place_tags_a_text_post(fake):
    place = fake.add_place()
    FacebookNetwork().publish(outgoing(fake, options={"place_id": place}))
    [request] = posts_to(fake, "/feed")
    assert request["form"]["place"] == [place]
    assert fake.posts[0]["place"] == place


def test_a_chosen_place_tags_a_photo_and_an_album(fake):
    place = fake.add_place()
    FacebookNetwork().publish(outgoing(fake, media=[photo()], options={"place_id": place}))
    [single] = posts_to(fake, "/photos")
    assert single["form"]["place"] == [place]
    fake.requests.clear()
    FacebookNetwork().publish(outgoing(fake, media=[photo("a.png"), photo("b.png")],
                                       options={"place_id": place}))
    uploads = posts_to(fake, "/photos")
    assert all("place" not in u["form"] for u in uploads)  # invisible uploads: no tag
    [feed] = posts_to(fake, "/feed")
    assert feed["form"]["place"] == [place]


def test_a_page_that_is_a_place_is_tagged_only_when_the_post_says_so(fake):
    # The composer's default; the adapter itself never adds a tag that was not approved.
    fake.places.add(fake.page.id)
    FacebookNetwork().publish(outgoing(fake, settings={"has_location": True},
                                       options={"place_id": fake.page.id}))
    FacebookNetwork().publish(outgoing(fake, text="Sans lieu", settings={"has_location": True}))
    tagged, untagged = posts_to(fake, "/feed")
    assert tagged["form"]["place"] == [fake.page.id]
    assert "place" not in untagged["form"]


def test_the_chosen_place_wins_over_the_pages_own(fake):
    place = fake.add_place()
    FacebookNetwork().publish(outgoing(fake, settings={"has_location": True},
                                       options={"place_id": place}))
    [request] = posts_to(fake, "/feed")
    assert request["form"]["place"] == [place]


def test_no_location_no_place(fake):
    FacebookNetwork().publish(outgoing(fake, settings={"has_location": False}))
    [request] = posts_to(fake, "/feed")
    assert "place" not in request["form"]


def test_a_place_that_is_not_an_id_is_refused_before_sending(fake):
    with pytest.raises(PermanentError) as caught:
        FacebookNetwork().publish(outgoing(fake, options={"place_id": "Paris"}))
    assert "location tag" in caught.value.reason
    assert fake.requests == []


def test_a_place_facebook_does_not_know_is_its_refusal(fake):
    with pytest.raises(PermanentError) as caught:
        FacebookNetwork().publish(outgoing(fake, options={"place_id": "999"}))
    assert "valid place" in caught.value.reason
    assert fake.posts == []


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


def test_a_video_with_photos_is_refused_plainly(fake):
    video = OutgoingMedia(sha256="1" * 64, mime="video/mp4", kind="video",
                          data=b"v" * 5000, filename="v.mp4")
    with pytest.raises(PermanentError) as caught:
        FacebookNetwork().publish(outgoing(fake, media=[photo(), video]))
    assert "one video" in caught.value.reason
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


SERVER_TROUBLE = [(500, 2), (503, 0), (400, 1), (400, 2)]


@pytest.mark.parametrize(("status", "code"), SERVER_TROUBLE)
def test_server_trouble_on_the_publishing_call_is_an_unknown_outcome(fake, status, code):
    # No idempotency key on Graph: the post may have been stored before the failure, so
    # a retry waits for find rather than risking a second post.
    fake.fail_next(status, code=code, path="/feed")
    with pytest.raises(OutcomeUnknown) as caught:
        FacebookNetwork().publish(outgoing(fake))
    assert "may or may not be out" in caught.value.reason


@pytest.mark.parametrize(("status", "code"), SERVER_TROUBLE)
def test_server_trouble_on_an_unpublished_upload_is_retryable(fake, status, code):
    fake.fail_next(status, code=code, path="/photos")
    with pytest.raises(RetryableError):
        FacebookNetwork().publish(outgoing(fake, media=[photo("a.png"), photo("b.png")]))
    assert fake.posts == [] and posts_to(fake, "/feed") == []


def test_a_500_after_the_post_was_stored_is_found_not_resent(fake):
    fake.fail_next(500, code=2, path="/feed", after_store=True)
    sent = outgoing(fake, scheduled_at=datetime.now(UTC))
    with pytest.raises(OutcomeUnknown):
        FacebookNetwork().publish(sent)
    [post] = fake.posts
    assert FacebookNetwork().find(sent).external_id == post["id"]


def test_server_trouble_on_the_first_comment_is_reported_not_raised(fake):
    fake.fail_next(500, code=2, path="/comments")
    adapter = FacebookNetwork()
    published = adapter.publish(outgoing(fake, first_comment="Venez !"))
    assert published.external_id == fake.posts[0]["id"]
    assert "did not confirm its first comment" in adapter.first_comment_error


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

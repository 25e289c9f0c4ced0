"""The Bluesky adapter against the fake PDS over real loopback HTTP: each outcome class,
sessions reused and renewed, exactly-once record keys, facets with byte offsets."""

from __future__ import annotations

import io
import socket
import time
import uuid

import pytest
from PIL import Image

from agency.networks.base import (
    AuthExpiredError,
    OutcomeUnknown,
    Outgoing,
    OutgoingMedia,
    PermanentError,
    RetryableError,
)
from agency.networks.bluesky import ADAPTER, BlueskyNetwork, post_url
from agency.networks.bluesky_text import TID_PATTERN, facets, record_key, tid_parts
from agency.networks.registry import adapter_for
from tenants.ids import new_id
from tests.fakes.bluesky import FakeBluesky, serving

HANDLE = "boulangerie.bsky.social"
FRIEND = "moulin.bsky.social"
CREATE = "com.atproto.repo.createRecord"


@pytest.fixture
def fake(app):
    with app.app_context(), serving(app, timeout=0.5, hang_seconds=1.0) as fake:
        fake.add_account(HANDLE, display_name="Boulangerie Martin")
        fake.add_account(FRIEND)
        yield fake


def _outgoing(fake, credentials=None, *, text="Pain au levain ce week-end !", media=(),
              first_comment="", publication_id=None, settings=None) -> Outgoing:
    credentials = credentials if credentials is not None else fake.session_for(HANDLE)
    return Outgoing(
        publication_id=publication_id or new_id(), account_id=uuid.UUID(int=1),
        network="bluesky", text=text, media=tuple(media), first_comment=first_comment,
        scheduled_at=None, idempotency_key="key", handle=f"@{HANDLE}",
        settings=settings if settings is not None else {"did": credentials.get("did"),
                                                        "handle": HANDLE},
        credentials=credentials)


def _png(width=4, height=3) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "orange").save(buffer, "PNG")
    return buffer.getvalue()


def _image(data: bytes, description="Une baguette dorée", mime="image/png") -> OutgoingMedia:
    return OutgoingMedia(sha256="0" * 64, mime=mime, kind="image", data=data,
                         filename="baguette.png", description=description)


# --- record keys -----------------------------------------------------------------------------

def test_the_record_key_is_a_tid_derived_from_the_publication():
    first, second = new_id(), new_id()
    key = record_key(first)
    assert TID_PATTERN.match(key) and len(key) == 13
    assert record_key(first) == key  # every retry asks for the same key
    assert record_key(second) > key  # uuid7 order is TID order
    micros, clock_id = tid_parts(key)
    assert micros // 1000 == first.int >> 80  # the uuid's millisecond timestamp
    assert clock_id == first.int & 0x3FF
    reply = record_key(first, reply=True)
    assert TID_PATTERN.match(reply) and reply != key and tid_parts(reply)[0] == micros + 1


def test_an_id_that_is_not_a_uuid7_still_gives_a_stable_valid_key():
    legacy = uuid.UUID("6f1c2b8e-3d4a-4f5b-9c6d-7e8f9a0b1c2d")
    assert record_key(legacy) == record_key(legacy)
    assert TID_PATTERN.match(record_key(legacy))


# --- facets ----------------------------------------------------------------------------------

def test_facets_count_utf8_bytes_after_accents_and_emoji():
    text = ("Crème brûlée 🍮 à déguster 🥐✨ : https://boulangerie.fr/menu?jour=samedi. "
            "Merci @Moulin.bsky.social et @inconnu.example ! #Été #2024 #pâtisserie!")
    found = facets(text, lambda h: "did:plc:moulin" if h == FRIEND else None)
    raw = text.encode("utf-8")
    spans = [(raw[f["index"]["byteStart"]:f["index"]["byteEnd"]].decode(), f["features"][0])
             for f in found]
    assert spans == [
        ("https://boulangerie.fr/menu?jour=samedi",
         {"$type": "app.bsky.richtext.facet#link",
          "uri": "https://boulangerie.fr/menu?jour=samedi"}),
        ("@Moulin.bsky.social",
         {"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:moulin"}),
        ("#Été", {"$type": "app.bsky.richtext.facet#tag", "tag": "Été"}),
        ("#pâtisserie", {"$type": "app.bsky.richtext.facet#tag", "tag": "pâtisserie"}),
    ]
    # Byte offsets, not character offsets: the link starts later in bytes.
    assert found[0]["index"]["byteStart"] > text.index("https")


def test_nothing_inside_a_link_becomes_a_mention_or_a_tag():
    text = "Voir (https://example.com/@chef/#menu) et https://ex.fr/a_(b)"
    found = facets(text, lambda h: "did:plc:x")
    assert [f["features"][0]["$type"] for f in found] == ["app.bsky.richtext.facet#link"] * 2
    assert [f["features"][0]["uri"] for f in found] == ["https://example.com/@chef/#menu",
                                                        "https://ex.fr/a_(b)"]


# --- publishing ------------------------------------------------------------------------------

def test_the_registry_knows_bluesky(app):
    assert ADAPTER is BlueskyNetwork
    assert isinstance(adapter_for("bluesky"), BlueskyNetwork)
    assert BlueskyNetwork.idempotent_publish and BlueskyNetwork.authoritative_find


def test_publish_a_post_with_facets_under_the_derived_key(fake):
    outgoing = _outgoing(fake, text="Café ☕ et croissants 🥐 : https://boulangerie.fr ! "
                                    "Avec @moulin.bsky.social #levain")
    adapter = BlueskyNetwork()
    published = adapter.publish(outgoing)
    [post] = fake.posts
    rkey = record_key(outgoing.publication_id)
    assert post["rkey"] == rkey
    assert published.external_id == post["uri"] == f"at://{post['did']}/app.bsky.feed.post/{rkey}"
    assert published.url == post_url(HANDLE, rkey) == \
        f"https://bsky.app/profile/{HANDLE}/post/{rkey}"
    value = post["value"]
    assert value["$type"] == "app.bsky.feed.post" and value["text"] == outgoing.text
    assert value["createdAt"].endswith("Z")
    kinds = [f["features"][0]["$type"].split("#")[1] for f in value["facets"]]
    assert kinds == ["link", "mention", "tag"]
    mention = value["facets"][1]
    assert mention["features"][0]["did"] == fake.accounts[next(
        d for d, a in fake.accounts.items() if a.handle == FRIEND)].did
    assert adapter.credentials_after_use() is None  # the session was still good
    assert fake.created_sessions(HANDLE) == 1  # only the one made when connecting


def test_images_are_uploaded_with_their_type_and_alt_text(fake):
    outgoing = _outgoing(fake, media=[_image(_png(40, 30)),
                                      _image(_png(), description="", mime="image/png")])
    BlueskyNetwork().publish(outgoing)
    [post] = fake.posts
    assert {b["mimeType"] for b in fake.blobs} == {"image/png"}
    embed = post["value"]["embed"]
    assert embed["$type"] == "app.bsky.embed.images"
    first, second = embed["images"]
    assert first["alt"] == "Une baguette dorée" and second["alt"] == ""
    assert first["aspectRatio"] == {"width": 40, "height": 30}
    assert first["image"]["$type"] == "blob" and first["image"]["mimeType"] == "image/png"


def test_a_video_goes_out_as_a_video_embed(fake):
    video = OutgoingMedia(sha256="1" * 64, mime="video/mp4", kind="video", data=b"\0" * 2048,
                          filename="four.mp4", description="Le four à bois")
    BlueskyNetwork().publish(_outgoing(fake, media=[video]))
    [post] = fake.posts
    assert post["value"]["embed"]["$type"] == "app.bsky.embed.video"
    assert post["value"]["embed"]["alt"] == "Le four à bois"


@pytest.mark.parametrize("media, words", [
    ([_image(b"\xff" * 1_000_001, mime="image/jpeg")], "1,000,000 bytes"),
    ([_image(_png())] * 5, "at most 4 images"),
    ([_image(_png()), OutgoingMedia("2" * 64, "video/mp4", "video", b"0", "v.mp4")],
     "images and a video"),
])
def test_media_bluesky_would_refuse_fail_before_anything_is_sent(fake, media, words):
    with pytest.raises(PermanentError) as refused:
        BlueskyNetwork().publish(_outgoing(fake, media=media))
    assert words in refused.value.reason
    assert fake.calls == [] and fake.posts == []


def test_the_session_is_reused_and_refreshed_across_twenty_posts(app):
    # A createSession budget of 3: twenty sign-ins would be refused by the fake.
    with app.app_context(), serving(app, session_limit=3) as fake:
        fake.add_account(HANDLE)
        credentials = fake.session_for(HANDLE)
        for n in range(20):
            if n in (5, 12):
                fake.expire_access_tokens()
            adapter = BlueskyNetwork()
            adapter.publish(_outgoing(fake, credentials, text=f"Post n°{n}"))
            credentials = adapter.credentials_after_use() or credentials
        assert len(fake.posts) == 20
        assert fake.created_sessions(HANDLE) == 1
        assert fake.calls_to("com.atproto.server.refreshSession") == 2
        assert fake.calls_to("com.atproto.server.createSession") == 0


def test_an_expired_access_token_is_refreshed_and_the_call_made_once_more(fake):
    credentials = fake.session_for(HANDLE)
    fake.expire_access_tokens()
    adapter = BlueskyNetwork()
    adapter.publish(_outgoing(fake, credentials))
    assert len(fake.posts) == 1
    assert fake.calls == [CREATE, "com.atproto.server.refreshSession", CREATE]
    renewed = adapter.credentials_after_use()
    assert renewed["accessJwt"] != credentials["accessJwt"]
    assert renewed["refreshJwt"] != credentials["refreshJwt"]  # rotated: must be stored
    assert renewed["app_password"] == credentials["app_password"]


def test_a_token_about_to_expire_is_renewed_before_use(app):
    with app.app_context(), serving(app, access_ttl=5) as fake:  # under the 30 s margin
        fake.add_account(HANDLE)
        BlueskyNetwork().publish(_outgoing(fake))
        assert fake.calls == ["com.atproto.server.refreshSession", CREATE]


def test_a_dead_refresh_token_signs_in_again_with_the_app_password(fake, monkeypatch, app):
    monkeypatch.setitem(app.config, "BLUESKY_SESSION_MIN_INTERVAL", 0)
    credentials = fake.session_for(HANDLE)
    fake.expire_access_tokens()
    fake.expire_refresh_tokens()
    adapter = BlueskyNetwork()
    adapter.publish(_outgoing(fake, credentials))
    assert len(fake.posts) == 1
    assert fake.created_sessions(HANDLE) == 2
    renewed = adapter.credentials_after_use()
    assert renewed["session_created_at"] > credentials["session_created_at"]
    assert renewed["accessJwt"] != credentials["accessJwt"]


def test_signing_in_again_waits_for_the_minimum_interval(fake):
    credentials = fake.session_for(HANDLE)  # signed in just now
    fake.expire_access_tokens()
    fake.expire_refresh_tokens()
    adapter = BlueskyNetwork()
    with pytest.raises(RetryableError) as later:
        adapter.publish(_outgoing(fake, credentials))
    assert 500 < later.value.retry_after <= 600
    assert "signs in again" in later.value.reason
    assert fake.calls_to("com.atproto.server.createSession") == 0
    assert fake.posts == []


def test_a_revoked_app_password_means_the_account_needs_reconnecting(fake):
    credentials = {**fake.session_for(HANDLE), "session_created_at": time.time() - 3600}
    fake.revoke_app_password(HANDLE)
    adapter = BlueskyNetwork()
    with pytest.raises(AuthExpiredError) as expired:
        adapter.publish(_outgoing(fake, credentials))
    assert "revoked" in expired.value.reason
    assert fake.posts == []
    # The attempt is remembered, so the next one waits for the interval.
    assert adapter.credentials_after_use()["session_created_at"] > time.time() - 5


def test_credentials_without_a_session_or_did_are_refused_as_expired(fake):
    with pytest.raises(AuthExpiredError):
        BlueskyNetwork().publish(_outgoing(fake, {}, settings={}))


def test_a_429_is_retryable_after_bluesky_s_reset(fake):
    fake.fail_next(429, nsid=CREATE)
    adapter = BlueskyNetwork()
    with pytest.raises(RetryableError) as later:
        adapter.publish(_outgoing(fake))
    assert 1 <= later.value.retry_after <= fake.throttle_seconds + 2
    assert adapter.rate_limited_until > time.time()
    assert fake.posts == []


def test_a_spent_budget_is_reported_even_when_the_call_succeeds(app):
    with app.app_context(), serving(app, budget=1) as fake:
        fake.add_account(HANDLE)
        adapter = BlueskyNetwork()
        adapter.publish(_outgoing(fake))
        assert len(fake.posts) == 1
        assert adapter.rate_limited_until is not None
        assert adapter.rate_limited_until > time.time()
        with pytest.raises(RetryableError):  # the next call is refused by Bluesky
            BlueskyNetwork().publish(_outgoing(fake))


def test_a_5xx_with_nothing_stored_is_retryable(fake):
    fake.fail_next(503, nsid=CREATE)
    with pytest.raises(RetryableError) as later:
        BlueskyNetwork().publish(_outgoing(fake))
    assert "503" in later.value.reason
    assert fake.posts == []
    # It looked: a 500 may also mean "that key exists".
    assert fake.calls_to("com.atproto.repo.getRecord") == 1


def test_content_bluesky_refuses_is_a_permanent_error_with_its_message(fake):
    with pytest.raises(PermanentError) as refused:
        BlueskyNetwork().publish(_outgoing(fake, text="é" * 301))
    assert "300 graphemes" in refused.value.reason
    assert fake.posts == []


def test_an_answer_lost_after_storing_is_unknown_then_found_and_never_doubled(fake):
    outgoing = _outgoing(fake)
    fake.hang_next()
    with pytest.raises(OutcomeUnknown):
        BlueskyNetwork().publish(outgoing)
    assert len(fake.posts) == 1  # it was stored all the same
    found = BlueskyNetwork().find(outgoing)
    assert found is not None and found.external_id == fake.posts[0]["uri"]
    # An idempotent retry: the same key; Bluesky answers 500, the adapter reads it back.
    again = BlueskyNetwork().publish(outgoing)
    assert again.external_id == found.external_id and again.url == found.url
    assert len(fake.posts) == 1


def test_find_is_authoritative_when_nothing_was_stored(fake):
    outgoing = _outgoing(fake)
    assert BlueskyNetwork().find(outgoing) is None
    # Without a valid session too: reading a record needs no token.
    fake.revoke_app_password(HANDLE)
    assert BlueskyNetwork().find(outgoing) is None


def test_another_record_under_the_key_is_never_taken_for_ours(fake):
    publication_id = new_id()
    BlueskyNetwork().publish(_outgoing(fake, text="Premier", publication_id=publication_id))
    other = _outgoing(fake, text="Autre chose", publication_id=publication_id)
    assert BlueskyNetwork().find(other) is None
    with pytest.raises(PermanentError):
        BlueskyNetwork().publish(other)
    assert len(fake.posts) == 1


def test_unreachable_bluesky_is_retryable(fake, app):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    app.config["BLUESKY_PDS_URL"] = f"http://127.0.0.1:{port}"
    with pytest.raises(RetryableError) as later:
        BlueskyNetwork().publish(_outgoing(fake))
    assert "could not be reached" in later.value.reason


def test_silence_after_sending_a_post_is_unknown_but_a_silent_read_is_retryable(fake, app):
    with socket.socket() as mute:  # accepts connections, never answers
        mute.bind(("127.0.0.1", 0))
        mute.listen(8)
        app.config["BLUESKY_PDS_URL"] = f"http://127.0.0.1:{mute.getsockname()[1]}"
        outgoing = _outgoing(fake)
        with pytest.raises(OutcomeUnknown):
            BlueskyNetwork().publish(outgoing)
        with pytest.raises(RetryableError):
            BlueskyNetwork().find(outgoing)


def test_metrics_come_from_get_posts(fake):
    outgoing = _outgoing(fake)
    published = BlueskyNetwork().publish(outgoing)
    fake.set_counts(published.external_id, likes=7, reposts=2, replies=3, quotes=1)
    metrics = BlueskyNetwork().fetch_metrics(outgoing, published.external_id)
    assert metrics == {"likes": 7, "reposts": 2, "replies": 3, "quotes": 1}


def test_the_first_comment_is_a_reply_with_its_own_key(fake):
    outgoing = _outgoing(fake, first_comment="Réservez au 01 23 45 67 89 #levain")
    published = BlueskyNetwork().publish(outgoing)
    post, reply = sorted(fake.posts, key=lambda r: r["rkey"])
    assert post["uri"] == published.external_id
    assert reply["rkey"] == record_key(outgoing.publication_id, reply=True)
    ref = {"uri": post["uri"], "cid": post["cid"]}
    assert reply["value"]["reply"] == {"root": ref, "parent": ref}
    assert reply["value"]["facets"][0]["features"][0]["tag"] == "levain"
    # A retry makes neither a second post nor a second reply.
    BlueskyNetwork().publish(outgoing)
    assert len(fake.posts) == 2


def test_a_failed_first_comment_does_not_fail_the_post(fake, caplog):
    outgoing = _outgoing(fake, first_comment="x" * 400)  # over Bluesky's 300 graphemes
    adapter = BlueskyNetwork()
    published = adapter.publish(outgoing)
    assert [p["uri"] for p in fake.posts] == [published.external_id]
    assert "300 graphemes" in adapter.first_comment_error
    assert "first comment" in caplog.text


def test_the_fake_refuses_sign_ins_beyond_its_limit(app):
    # The limit the session test relies on is real in the fake.
    with app.app_context(), FakeBluesky(session_limit=2) as fake:
        fake.add_account(HANDLE)
        import httpx

        body = {"identifier": HANDLE, "password": "abcd-efgh-ijkl-mnop"}
        url = f"{fake.url}/xrpc/com.atproto.server.createSession"
        statuses = [httpx.post(url, json=body).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]


def test_retries_through_random_failures_publish_each_post_exactly_once(app):
    """Four workers, 5xx / 429 / lost answers at random: retrying (after ``find`` when the
    outcome is unknown) ends with every publication online once."""
    from concurrent.futures import ThreadPoolExecutor

    knobs = {"p_5xx": 0.25, "p_429": 0.15, "p_store_then_hang": 0.2, "seed": 7,
             "hang_seconds": 0.4, "throttle_seconds": 0}
    with app.app_context(), serving(app, timeout=0.3, **knobs) as fake:
        fake.add_account(HANDLE)
        credentials = fake.session_for(HANDLE)
        outgoings = [_outgoing(fake, credentials, text=f"Post {n} #levain")
                     for n in range(12)]

        def settle(outgoing):
            with app.app_context():
                for _ in range(40):
                    try:
                        return BlueskyNetwork().publish(outgoing).external_id
                    except RetryableError:
                        continue
                    except OutcomeUnknown:
                        try:
                            found = BlueskyNetwork().find(outgoing)
                        except RetryableError:
                            continue
                        if found is not None:
                            return found.external_id
                raise AssertionError("never settled")

        with ThreadPoolExecutor(4) as pool:
            uris = list(pool.map(settle, outgoings))
        posts = fake.posts
        assert sorted(p["uri"] for p in posts) == sorted(uris)
        assert sorted(p["rkey"] for p in posts) == sorted(
            record_key(o.publication_id) for o in outgoings)
        assert fake.calls_to(CREATE) > len(outgoings)  # failures did happen

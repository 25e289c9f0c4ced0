"""The Mastodon adapter against the fake instance, over real loopback HTTP: every outcome
class, media processing, the first comment, rate limits, and the idempotent retry after
a status was stored but its answer lost."""

from __future__ import annotations

import threading
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
from agency.networks.mastodon import MastodonNetwork, plain_text
from agency.networks.registry import adapter_for
from tests.fakes.mastodon import FakeMastodon

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108000000003a7e9b55"
                    "0000000a49444154789c636000000002000148afa4710000000049454e44ae426082")


@pytest.fixture
def config(app, monkeypatch):
    monkeypatch.setitem(app.config, "NETWORK_TIMEOUT_SECONDS", 0.5)
    monkeypatch.setitem(app.config, "MASTODON_MEDIA_POLL_SECONDS", 0.01)
    monkeypatch.setitem(app.config, "MASTODON_MEDIA_WAIT_SECONDS", 0.3)
    with app.app_context():
        yield app.config


@pytest.fixture
def fake(config):
    with FakeMastodon(hang_seconds=1.5) as server:
        server.token = server.add_account("boulangerie", "Boulangerie Martin")
        server.account_id = next(iter(server.accounts))
        yield server


def outgoing(fake: FakeMastodon, *, text="Bonjour, le pain est chaud !", media=(),
             first_comment="", key=None, scheduled_at=None, token=None,
             **settings) -> Outgoing:
    return Outgoing(
        publication_id=uuid.uuid4(), account_id=uuid.uuid4(), network="mastodon", text=text,
        media=tuple(media), first_comment=first_comment, scheduled_at=scheduled_at,
        idempotency_key=key or uuid.uuid4().hex,
        settings={"instance_url": fake.url, "account_id": fake.account_id, **settings},
        credentials={"access_token": token or fake.token},
    )


def photo(description="Des croissants") -> OutgoingMedia:
    return OutgoingMedia(sha256="0" * 64, mime="image/png", kind="image", data=PNG,
                         filename="croissants.png", description=description)


def status_keys(fake: FakeMastodon) -> list[str]:
    return [r["headers"].get("Idempotency-Key", "")
            for r in fake.requests_to("POST", "/api/v1/statuses")]


# --- the adapter's promises ---------------------------------------------------------------

def test_the_registry_knows_it_and_its_promises(config):
    adapter = adapter_for("mastodon")
    assert isinstance(adapter, MastodonNetwork)
    assert MastodonNetwork.idempotent_publish is True
    assert MastodonNetwork.authoritative_find is False
    assert MastodonNetwork.idempotency_window_seconds == 3600


# --- success ------------------------------------------------------------------------------

def test_publishes_text_with_the_idempotency_key(fake):
    out = outgoing(fake)
    published = MastodonNetwork().publish(out)
    [post] = fake.posts
    assert published == Published(post["id"], f"{fake.url}/@boulangerie/{post['id']}")
    assert (post["text"], post["visibility"], post["media_ids"]) == (out.text, "public", [])
    assert status_keys(fake) == [out.idempotency_key]


def test_visibility_comes_from_the_account_settings(fake):
    MastodonNetwork().publish(outgoing(fake, visibility="unlisted"))
    MastodonNetwork().publish(outgoing(fake, visibility="private"))
    MastodonNetwork().publish(outgoing(fake, visibility="direct"))  # not offered: public
    assert [p["visibility"] for p in fake.posts] == ["unlisted", "private", "public"]


def test_media_is_uploaded_and_waited_for_until_processed(fake):
    fake.media_processing_polls = 2
    out = outgoing(fake, media=[photo(), photo("Une baguette")])
    MastodonNetwork().publish(out)
    [post] = fake.posts
    assert len(post["media_ids"]) == 2
    uploads = fake.requests_to("POST", "/api/v2/media")
    assert [u["form"]["description"] for u in uploads] == [["Des croissants"],
                                                            ["Une baguette"]]
    polls = [r for r in fake.requests if r["path"].startswith("/api/v1/media/")]
    assert len(polls) == 2 * 3  # two 206 answers, then the 200, for each file


def test_media_already_processed_is_not_polled(fake):
    fake.media_processing_polls = 0
    MastodonNetwork().publish(outgoing(fake, media=[photo(description="")]))
    assert not [r for r in fake.requests if r["path"].startswith("/api/v1/media/")]
    assert "description" not in fake.requests_to("POST", "/api/v2/media")[0]["form"]


def test_first_comment_is_a_reply_with_its_own_key(fake):
    out = outgoing(fake, first_comment="Commandez au 04 78 00 00 00")
    adapter = MastodonNetwork()
    published = adapter.publish(out)
    main, reply = fake.posts
    assert reply["in_reply_to_id"] == main["id"] == published.external_id
    assert reply["text"] == "Commandez au 04 78 00 00 00"
    assert status_keys(fake) == [out.idempotency_key, out.idempotency_key + ":c"]
    assert (adapter.first_comment_id, adapter.first_comment_error) == (reply["id"], "")


def test_a_failed_first_comment_does_not_fail_the_publication(fake, caplog):
    out = outgoing(fake, first_comment="x" * 600)  # over the instance's 500
    adapter = MastodonNetwork()
    published = adapter.publish(out)
    assert [p["id"] for p in fake.posts] == [published.external_id]
    assert "Text character limit of 500 exceeded" in adapter.first_comment_error
    assert "first comment" in caplog.text


def test_a_first_comment_whose_answer_is_lost_is_reported(fake):
    out = outgoing(fake, first_comment="Commandez au 04 78 00 00 00")
    adapter = MastodonNetwork()
    original = adapter._post_status

    def main_then_hang(api, text, key, **kwargs):
        if key.endswith(":c"):
            fake.hang_next()
        return original(api, text, key, **kwargs)

    adapter._post_status = main_then_hang
    published = adapter.publish(out)
    assert fake.posts[0]["id"] == published.external_id
    assert "did not confirm its first comment" in adapter.first_comment_error


# --- every failure class ------------------------------------------------------------------

def test_server_error_is_retryable_and_stores_nothing(fake):
    fake.fail_next(503, path="/api/v1/statuses")
    out = outgoing(fake)
    with pytest.raises(RetryableError) as raised:
        MastodonNetwork().publish(out)
    assert "error 503" in raised.value.reason
    assert fake.posts == []
    MastodonNetwork().publish(out)  # the next try goes through
    assert fake.statuses_with_key(out.idempotency_key) == 1


def test_rate_limited_is_retryable_after_the_reset(fake):
    fake.throttle_seconds = 3
    fake.fail_next(429)
    adapter = MastodonNetwork()
    with pytest.raises(RetryableError) as raised:
        adapter.publish(outgoing(fake))
    assert 1 <= raised.value.retry_after <= 3
    assert adapter.rate_limited_until is not None
    assert fake.posts == []


def test_an_exhausted_budget_is_reported_even_on_success(fake):
    fake.budget, fake.window_seconds = 1, 120
    adapter = MastodonNetwork()
    adapter.publish(outgoing(fake))  # spends the last call of the window
    assert adapter.rate_limited_until is not None
    left = (adapter.rate_limited_until - datetime.now(UTC)).total_seconds()
    assert 100 < left <= 120
    with pytest.raises(RetryableError) as raised:  # and the next call is refused
        MastodonNetwork().publish(outgoing(fake))
    assert 100 < raised.value.retry_after <= 120


def test_a_budget_left_sets_no_limit(fake):
    adapter = MastodonNetwork()
    adapter.publish(outgoing(fake))
    assert adapter.rate_limited_until is None


def test_revoked_token_means_reconnecting(fake):
    fake.revoke_token(fake.token)
    with pytest.raises(AuthExpiredError) as raised:
        MastodonNetwork().publish(outgoing(fake))
    assert "The access token is invalid" in raised.value.reason
    assert fake.posts == []


def test_missing_scope_means_reconnecting(fake):
    token = fake.issue_token("boulangerie", scopes=("read",))
    with pytest.raises(AuthExpiredError):
        MastodonNetwork().publish(outgoing(fake, token=token))


def test_no_token_at_all_means_reconnecting(fake):
    out = outgoing(fake)
    broken = Outgoing(**{**out.__dict__, "credentials": {}})
    with pytest.raises(AuthExpiredError):
        MastodonNetwork().publish(broken)
    assert fake.requests == []


def test_too_long_is_permanent_with_mastodons_words(fake):
    with pytest.raises(PermanentError) as raised:
        MastodonNetwork().publish(outgoing(fake, text="é" * 501))
    assert "Validation failed: Text character limit of 500 exceeded" in raised.value.reason


def test_refused_media_is_permanent(fake):
    bad = OutgoingMedia(sha256="1" * 64, mime="text/plain", kind="image", data=b"hello",
                        filename="notes.txt")
    with pytest.raises(PermanentError) as raised:
        MastodonNetwork().publish(outgoing(fake, media=[bad]))
    assert "could not be verified" in raised.value.reason
    assert fake.posts == []


def test_media_still_processing_after_the_wait_is_retryable(fake):
    fake.media_processing_polls = 10_000
    with pytest.raises(RetryableError) as raised:
        MastodonNetwork().publish(outgoing(fake, media=[photo()]))
    assert "processing" in raised.value.reason
    assert fake.posts == []


def test_an_instance_that_is_down_is_retryable(config):
    with FakeMastodon() as gone:
        url = gone.url
    out = Outgoing(publication_id=uuid.uuid4(), account_id=uuid.uuid4(), network="mastodon",
                   text="Bonjour", media=(), first_comment="", scheduled_at=None,
                   idempotency_key="k", settings={"instance_url": url},
                   credentials={"access_token": "t"})
    with pytest.raises(RetryableError):
        MastodonNetwork().publish(out)


def test_a_gateway_timeout_on_the_status_is_an_unknown_outcome(fake):
    fake.fail_next(504, path="/api/v1/statuses")
    with pytest.raises(OutcomeUnknown):
        MastodonNetwork().publish(outgoing(fake))


def test_a_gateway_timeout_on_media_is_merely_retryable(fake):
    fake.fail_next(504, path="/api/v2/media")
    with pytest.raises(RetryableError):
        MastodonNetwork().publish(outgoing(fake, media=[photo()]))


# --- the lost answer, and the idempotent retry that settles it ----------------------------

def test_store_then_hang_is_unknown_and_the_retry_returns_the_same_status(fake):
    fake.hang_next()
    out = outgoing(fake, first_comment="Le premier commentaire")
    with pytest.raises(OutcomeUnknown):
        MastodonNetwork().publish(out)
    [stored] = fake.posts  # the instance made it; the answer was lost
    published = MastodonNetwork().publish(out)  # the engine's retry, same key
    assert published.external_id == stored["id"]
    assert fake.statuses_with_key(out.idempotency_key) == 1
    assert status_keys(fake) == [out.idempotency_key, out.idempotency_key,
                                 out.idempotency_key + ":c"]
    main, reply = fake.posts  # the first comment went out with the retry, once
    assert (main["id"], reply["in_reply_to_id"]) == (stored["id"], stored["id"])


def test_concurrent_attempts_with_one_key_make_one_status(app, fake):
    out = outgoing(fake)
    results, errors = [], []

    def attempt():
        try:
            with app.app_context():  # as each worker process has its own
                results.append(MastodonNetwork().publish(out).external_id)
        except Exception as error:  # collected for the assertion
            errors.append(error)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(results)) == 1
    assert fake.statuses_with_key(out.idempotency_key) == 1


# --- find ---------------------------------------------------------------------------------

def _earlier() -> datetime:
    return datetime.now(UTC) - timedelta(minutes=1)


def test_find_matches_the_status_a_lost_answer_made(fake):
    fake.hang_next()
    out = outgoing(fake, scheduled_at=_earlier(), first_comment="Et un commentaire")
    with pytest.raises(OutcomeUnknown):
        MastodonNetwork().publish(out)
    [stored] = fake.posts
    found = MastodonNetwork().find(out)
    assert found == Published(stored["id"], f"{fake.url}/@boulangerie/{stored['id']}")


def test_find_answers_none_when_nothing_matches(fake):
    MastodonNetwork().publish(outgoing(fake, text="Autre chose"))
    assert MastodonNetwork().find(outgoing(fake, scheduled_at=_earlier())) is None


def test_find_ignores_statuses_older_than_the_schedule(fake):
    out = outgoing(fake, scheduled_at=datetime.now(UTC) + timedelta(hours=1))
    MastodonNetwork().publish(out)
    assert MastodonNetwork().find(out) is None


def test_find_needs_a_schedule_to_bound_the_search(fake):
    out = outgoing(fake)
    MastodonNetwork().publish(out)
    assert MastodonNetwork().find(out) is None


def test_find_ignores_a_reply_with_the_same_text(fake):
    main = MastodonNetwork().publish(outgoing(fake, text="Premier"))
    out = outgoing(fake, text="Même texte", scheduled_at=_earlier())
    adapter = MastodonNetwork()
    api = adapter._api(out)
    with api:
        adapter._post_status(api, "Même texte", "reply-key", visibility="public",
                             media_ids=[], in_reply_to_id=main.external_id)
    assert MastodonNetwork().find(out) is None


def test_find_on_an_instance_without_the_source_endpoint(fake):
    fake.source_endpoint = False
    out = outgoing(fake, text="Pain & croissants\n\nà <emporter>", scheduled_at=_earlier())
    published = MastodonNetwork().publish(out)
    assert MastodonNetwork().find(out) == published


def test_find_with_a_revoked_token_says_so(fake):
    fake.revoke_token(fake.token)
    with pytest.raises(AuthExpiredError):
        MastodonNetwork().find(outgoing(fake, scheduled_at=_earlier()))


def test_plain_text_reads_mastodon_html():
    assert plain_text("<p>Bonjour<br />à tous</p><p>&amp; bon appétit</p>") == (
        "Bonjour\nà tous\n\n& bon appétit")


# --- metrics ------------------------------------------------------------------------------

def test_metrics_are_the_status_counters(fake):
    published = MastodonNetwork().publish(outgoing(fake))
    fake.set_status_counts(published.external_id, favourites=7, reblogs=2, replies=1)
    assert MastodonNetwork().fetch_metrics(outgoing(fake), published.external_id) == {
        "likes": 7, "reposts": 2, "replies": 1}


def test_metrics_of_a_deleted_status_are_a_permanent_error(fake):
    with pytest.raises(PermanentError):
        MastodonNetwork().fetch_metrics(outgoing(fake), "404404")

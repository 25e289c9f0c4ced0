"""The X adapter's media upload against the fake: the simple upload for images, the
chunked INITIALIZE/APPEND/FINALIZE/STATUS for videos and GIFs, alt text, and media ids
kept in the progress so a retry does not upload again (unless they went stale)."""

from __future__ import annotations

import time

import pytest

from agency.networks import x_media
from agency.networks.base import OutcomeUnknown, PermanentError, RetryableError
from agency.networks.x import XNetwork
from tests.fakes.x import fake_x  # noqa: F401 (fixture)
from tests.networks.test_x_support import (  # noqa: F401 (fixture)
    PNG,
    Saved,
    calls,
    outgoing,
    photo,
    posts,
    video,
    x_fake,
)


@pytest.fixture
def fake(x_fake):  # noqa: F811 (the fake with an account, from test_x_support)
    return x_fake


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    monkeypatch.setattr(x_media, "CHUNK_BYTES", 10)  # several segments from a small file
    monkeypatch.setattr(x_media.MediaUpload, "processing_wait", 2.0)


def test_images_use_the_simple_upload_then_attach_in_order(fake):
    saved = Saved()
    XNetwork().publish(outgoing(fake, media=[photo("a.png"), photo("b.png")], saved=saved))
    uploads = calls(fake, "POST", "/2/media/upload")
    # Documented form (x-api/media/upload-media): multipart, the file as "media",
    # media_category tweet_image, media_type.
    assert [u["form"] for u in uploads] == [
        {"media_category": "tweet_image", "media_type": "image/png"}] * 2
    assert [u["files"]["media"] for u in uploads] == [("a.png", "image/png", len(PNG)),
                                                      ("b.png", "image/png", len(PNG))]
    assert uploads[0]["headers"]["content-type"].startswith("multipart/form-data")
    ids = [m["id"] for m in saved.last["media"]]
    [request] = posts(fake)
    assert request["json"] == {"text": "Bonjour, le pain est chaud !",
                               "media": {"media_ids": ids}}
    assert fake.tweets[0]["media_ids"] == ids


def test_a_described_image_gets_its_alt_text(fake):
    XNetwork().publish(outgoing(fake, media=[photo(description="Six croissants dorés")]))
    [meta] = calls(fake, "POST", "/2/media/metadata")
    media_id = fake.tweets[0]["media_ids"][0]
    assert meta["json"] == {"id": media_id,
                            "metadata": {"alt_text": {"text": "Six croissants dorés"}}}
    assert fake.media[media_id]["alt"] == "Six croissants dorés"


def test_a_refused_alt_text_does_not_stop_the_post(fake):
    fake.fail_next(400, path="/2/media/metadata", body={
        "errors": [{"message": "Alt text must be 1000 characters or fewer."}],
        "title": "Invalid Request", "detail": "One or more parameters to your request was "
        "invalid.", "type": "https://api.twitter.com/2/problems/invalid-request"})
    XNetwork().publish(outgoing(fake, media=[photo(description="x")]))
    assert len(fake.tweets) == 1


def test_a_video_goes_through_the_chunked_upload_and_waits_for_processing(fake):
    fake.processing_polls = 2
    XNetwork().publish(outgoing(fake, media=[video(size=25)]))
    [init] = calls(fake, "POST", "/2/media/upload/initialize")
    # Documented form (x-api/media/initialize-media-upload): JSON body.
    assert init["json"] == {"media_type": "video/mp4", "total_bytes": 25,
                            "media_category": "tweet_video"}
    media_id = fake.tweets[0]["media_ids"][0]
    appends = calls(fake, "POST", f"/2/media/upload/{media_id}/append")
    assert [a["form"] for a in appends] == [{"segment_index": str(i)} for i in range(3)]
    assert [a["files"]["media"][2] for a in appends] == [10, 10, 5]
    assert len(calls(fake, "POST", f"/2/media/upload/{media_id}/finalize")) == 1
    status = calls(fake, "GET", "/2/media/upload")
    assert [s["args"] for s in status] == [{"command": "STATUS", "media_id": media_id}] * 2
    assert fake.media[media_id]["state"] == "succeeded"


def test_a_gif_is_uploaded_in_chunks_as_tweet_gif(fake):
    gif = video(size=8, name="anim.gif", mime="image/gif", kind="image")
    XNetwork().publish(outgoing(fake, media=[gif]))
    [init] = calls(fake, "POST", "/2/media/upload/initialize")
    assert init["json"]["media_category"] == "tweet_gif"
    assert calls(fake, "POST", "/2/media/upload") == []  # not the simple upload
    assert len(fake.tweets) == 1


def test_a_video_x_cannot_process_is_refused_for_good(fake):
    fake.processing_fails = True
    with pytest.raises(PermanentError) as caught:
        XNetwork().publish(outgoing(fake, media=[video()]))
    assert "Unsupported video format" in caught.value.reason and fake.tweets == []


def test_a_video_still_processing_is_resumed_by_the_next_attempt(fake, monkeypatch):
    monkeypatch.setattr(x_media.MediaUpload, "processing_wait", 0.0)
    fake.processing_polls, fake.check_after_secs = 3, 7
    saved = Saved()
    with pytest.raises(RetryableError) as caught:
        XNetwork().publish(outgoing(fake, media=[video()], saved=saved))
    assert caught.value.retry_after == 7
    [entry] = saved.last["media"]
    assert entry["ready"] is False and fake.tweets == []
    monkeypatch.setattr(x_media.MediaUpload, "processing_wait", 2.0)
    XNetwork().publish(outgoing(fake, media=[video()], progress=saved.last, saved=saved))
    assert len(calls(fake, "POST", "/2/media/upload/initialize")) == 1  # not uploaded again
    assert fake.tweets[0]["media_ids"] == [entry["id"]]


def test_a_retry_reuses_the_uploaded_media(fake):
    fake.fail_next(503)  # the post itself fails, after the uploads
    saved = Saved()
    media = [photo("a.png"), photo("b.png")]
    with pytest.raises(RetryableError):
        XNetwork().publish(outgoing(fake, media=media, saved=saved))
    XNetwork().publish(outgoing(fake, media=media, progress=saved.last))
    assert len(calls(fake, "POST", "/2/media/upload")) == 2  # once each, not twice
    assert fake.tweets[0]["media_ids"] == [m["id"] for m in saved.last["media"]]


def test_stale_media_ids_are_uploaded_again(fake):
    fake.fail_next(503)
    saved = Saved()
    with pytest.raises(RetryableError):
        XNetwork().publish(outgoing(fake, media=[photo()], saved=saved))
    progress = saved.last
    progress["media"][0]["expires_at"] = int(time.time()) + 600  # X forgets it soon
    fresh = Saved()
    XNetwork().publish(outgoing(fake, media=[photo()], progress=progress, saved=fresh))
    uploads = calls(fake, "POST", "/2/media/upload")
    assert len(uploads) == 2
    assert fake.tweets[0]["media_ids"] == [fresh.last["media"][0]["id"]]
    assert fresh.last["media"][0]["id"] != progress["media"][0]["id"]


def test_media_of_another_file_are_not_reused(fake):
    saved = Saved()
    fake.fail_next(503)
    with pytest.raises(RetryableError):
        XNetwork().publish(outgoing(fake, media=[photo("a.png")], saved=saved))
    XNetwork().publish(outgoing(fake, media=[photo("b.png")], progress=saved.last))
    assert len(calls(fake, "POST", "/2/media/upload")) == 2


def test_an_upload_refused_by_a_5xx_is_retryable(fake):
    fake.fail_next(503, path="/2/media/upload")
    with pytest.raises(RetryableError):
        XNetwork().publish(outgoing(fake, media=[photo()]))
    assert fake.tweets == []


def test_a_timeout_during_an_upload_is_merely_retryable(fake):
    fake.hang_next(path="/2/media/upload")  # stored, its answer comes too late
    with pytest.raises(RetryableError) as caught:
        XNetwork().publish(outgoing(fake, media=[photo()]))
    assert not isinstance(caught.value, OutcomeUnknown) and fake.tweets == []

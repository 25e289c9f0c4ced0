"""A video post on a Facebook Page through the chunked upload of ``POST /{page}/videos``
(Graph API reference "Page Videos": upload_phase start → transfer… → finish, with
file_size, upload_session_id, start_offset and the multipart video_file_chunk; Video API
error codes for the size bounds and subcode 1363037), against the fake Graph API: request
shapes, the checkpointed session a retry resumes from, and which step may end unknown."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from agency.networks import facebook_video
from agency.networks.base import OutcomeUnknown, OutgoingMedia, PermanentError, RetryableError
from agency.networks.facebook import FacebookNetwork
from tests.fakes.facebook import FakeFacebook, fake_facebook  # noqa: F401 (fixture)
from tests.networks.test_facebook_adapter import TEXT, outgoing, with_page


@pytest.fixture
def fake(app, fake_facebook):  # noqa: F811
    with app.app_context():
        yield with_page(app, fake_facebook)


CHUNK = 4_096
DATA = bytes(range(256)) * 40  # 10,240 bytes: chunks of 4,096, 4,096 and 2,048


def video(data: bytes = DATA) -> OutgoingMedia:
    return OutgoingMedia(sha256=hashlib.sha256(data).hexdigest(), mime="video/mp4",
                         kind="video", data=data, filename="fournil.mp4")


@pytest.fixture
def vfake(fake):
    fake.chunk_size = CHUNK
    return fake


class Saved:
    """A checkpoint that keeps what the adapter saved, as the engine would, and can run a
    hook after each save (to break the next step on purpose)."""

    def __init__(self, after=None):
        self.progress: dict = {}
        self.saves: list[dict] = []
        self.after = after

    def __call__(self, progress: dict) -> None:
        self.progress = dict(progress)
        self.saves.append(dict(progress.get("facebook_video") or {}))
        if self.after is not None:
            self.after(self.saves[-1])


def video_posts(fake: FakeFacebook, phase: str = "") -> list[dict]:
    return [r for r in fake.requests if r["method"] == "POST"
            and r["path"].endswith("/videos")
            and (not phase or r["form"].get("upload_phase") == [phase])]


def send(fake, saved: Saved | None = None, **kwargs):
    saved = saved or Saved()
    sent = outgoing(fake, media=[video()], checkpoint=saved,
                    progress=kwargs.pop("progress", saved.progress), **kwargs)
    return FacebookNetwork().publish(sent), saved


# --- the upload ---------------------------------------------------------------------------

def test_a_video_goes_up_in_chunks_then_finishes_with_the_text(vfake):
    published, saved = send(vfake)
    [start] = video_posts(vfake, "start")
    assert start["path"] == f"/{vfake.page.id}/videos"
    assert start["form"] == {"upload_phase": ["start"], "file_size": [str(len(DATA))]}
    assert start["files"] == {}
    transfers = video_posts(vfake, "transfer")
    session = transfers[0]["form"]["upload_session_id"]
    assert [t["form"]["start_offset"] for t in transfers] == [["0"], ["4096"], ["8192"]]
    assert all(t["form"]["upload_session_id"] == session for t in transfers)
    assert [t["files"]["video_file_chunk"][2] for t in transfers] == [4096, 4096, 2048]
    assert transfers[0]["files"]["video_file_chunk"][:2] == ("fournil.mp4", "video/mp4")
    [finish] = video_posts(vfake, "finish")
    assert finish["form"] == {"upload_phase": ["finish"], "upload_session_id": session,
                              "description": [TEXT]}
    [stored] = vfake.videos.values()
    assert bytes(stored["data"]) == DATA  # every byte, once, in order
    [post] = vfake.posts
    assert post["message"] == TEXT and post["video_id"] == stored["id"]
    assert published.external_id == stored["id"]  # the video id is the post id
    assert published.url == f"https://www.facebook.com/{vfake.page.id}/videos/{stored['id']}/"
    # Checkpoints: the session after start, each new offset, then "finishing".
    assert [(s["start"], s["end"]) for s in saved.saves[:4]] == [
        (0, 4096), (4096, 8192), (8192, 10240), (10240, 10240)]
    assert saved.saves[-1]["finishing"] is True
    assert saved.saves[0]["session"] == session[0]


def test_a_video_is_never_tagged_with_a_place(vfake):
    place = vfake.add_place()
    send(vfake, options={"place_id": place}, settings={"has_location": True})
    assert all("place" not in r["form"] for r in video_posts(vfake))


def test_the_first_comment_goes_under_the_video(vfake):
    adapter = FacebookNetwork()
    published = adapter.publish(outgoing(vfake, media=[video()], first_comment="Merci !"))
    [comment] = [r for r in vfake.requests if r["path"].endswith("/comments")]
    assert comment["path"] == f"/{published.external_id}/comments"
    assert vfake.posts[0]["comments"][0]["message"] == "Merci !"
    assert adapter.first_comment_error == ""


def test_video_metrics_ask_no_shares(vfake):
    published, _ = send(vfake)
    vfake.posts[0]["reactions"] = 4
    metrics = FacebookNetwork().fetch_metrics(outgoing(vfake, media=[video()]),
                                              published.external_id)
    assert metrics == {"reactions": 4, "comments": 0}
    [read] = [r for r in vfake.requests if r["method"] == "GET"]
    assert "shares" not in read["args"]["fields"][0]


# --- sizes (Video API error codes 1363023 "maximum … 2 GB", 1363022 "minimum … 1 KB") ----

def test_a_video_over_the_limit_is_refused_before_sending(vfake, monkeypatch):
    monkeypatch.setattr(facebook_video, "MAX_VIDEO_BYTES", len(DATA) - 1)
    with pytest.raises(PermanentError) as caught:
        send(vfake)
    assert "too large for Facebook" in caught.value.reason
    assert vfake.requests == []


def test_a_video_under_a_kilobyte_is_refused_before_sending(vfake):
    with pytest.raises(PermanentError):
        FacebookNetwork().publish(outgoing(vfake, media=[video(b"x" * 500)]))
    assert vfake.requests == []


def test_facebooks_own_size_refusal_is_permanent(vfake):
    vfake.max_video_bytes = len(DATA) - 1
    with pytest.raises(PermanentError) as caught:
        send(vfake)
    assert "too large" in caught.value.reason
    assert vfake.posts == []


# --- retries resume -----------------------------------------------------------------------

def test_a_failed_chunk_is_retryable_and_the_retry_resumes_where_it_stopped(vfake):
    def break_second_chunk(state):
        if state.get("start") == 4096 and not state.get("finishing"):
            vfake.fail_next(500, code=2, phase="transfer")

    saved = Saved(after=break_second_chunk)
    with pytest.raises(RetryableError):
        send(vfake, saved)  # the 500 on an invisible chunk is merely retryable
    assert vfake.posts == [] and saved.progress["facebook_video"]["start"] == 4096
    saved.after = None
    vfake.requests.clear()
    published, _ = send(vfake, saved)
    assert video_posts(vfake, "start") == []  # the session goes on, not a new one
    assert [t["form"]["start_offset"] for t in video_posts(vfake, "transfer")] == [
        ["4096"], ["8192"]]
    [stored] = vfake.videos.values()
    assert bytes(stored["data"]) == DATA and published.external_id == stored["id"]
    assert len(vfake.posts) == 1


def test_a_chunk_whose_answer_was_lost_is_resynced_from_facebooks_offsets(vfake):
    def lose_first_answer(state):
        if state.get("start") == 0:
            vfake.hang_next(phase="transfer")

    saved = Saved(after=lose_first_answer)
    with pytest.raises(RetryableError):  # a timeout on a chunk: nothing visible yet
        send(vfake, saved)
    assert saved.progress["facebook_video"]["start"] == 0  # its answer never came
    saved.after = None
    vfake.requests.clear()
    send(vfake, saved)
    offsets = [t["form"]["start_offset"] for t in video_posts(vfake, "transfer")]
    # Resent at 0, refused with subcode 1363037 naming 4096, then on from there.
    assert offsets == [["0"], ["4096"], ["8192"]]
    [stored] = vfake.videos.values()
    assert bytes(stored["data"]) == DATA and len(vfake.posts) == 1


def test_upload_trouble_on_a_chunk_is_retryable(vfake):
    vfake.fail_next(400, code=6001, phase="transfer",
                    message="There was a problem uploading your video. Please try again.")
    with pytest.raises(RetryableError):
        send(vfake)


def test_a_session_facebook_forgot_is_started_afresh(vfake):
    saved = Saved()
    saved.progress = {"facebook_video": {
        "sha256": video().sha256, "file_size": len(DATA), "session": "424242",
        "video_id": "434343", "start": 4096, "end": 8192}}
    with pytest.raises(RetryableError) as caught:
        send(vfake, saved)
    assert "starts it again" in caught.value.reason
    assert "facebook_video" not in saved.progress  # forgotten, so the next attempt starts
    published, _ = send(vfake, saved)
    assert len(video_posts(vfake, "start")) == 1 and len(vfake.posts) == 1
    assert published.external_id in vfake.videos


def test_progress_of_another_file_is_ignored(vfake):
    saved = Saved()
    saved.progress = {"facebook_video": {
        "sha256": "0" * 64, "file_size": len(DATA), "session": "1", "video_id": "2",
        "start": 0, "end": 4096}}
    send(vfake, saved)
    assert len(video_posts(vfake, "start")) == 1 and len(vfake.posts) == 1


def test_a_timeout_at_start_is_merely_retryable(vfake):
    vfake.hang_next(phase="start")
    with pytest.raises(RetryableError):
        send(vfake)
    assert vfake.posts == []


# --- only finish may end unknown ----------------------------------------------------------

def test_a_lost_finish_is_an_unknown_outcome_that_find_settles(vfake):
    vfake.hang_next(phase="finish")
    saved = Saved()
    with pytest.raises(OutcomeUnknown):
        send(vfake, saved)
    [post] = vfake.posts  # finished, its answer lost
    assert saved.progress["facebook_video"]["finishing"] is True
    found = FacebookNetwork().find(outgoing(vfake, media=[video()], progress=saved.progress,
                                            scheduled_at=datetime.now(UTC)))
    assert found is not None and found.external_id == post["video_id"]
    assert found.url == (f"https://www.facebook.com/{vfake.page.id}/videos/"
                         f"{post['video_id']}/")
    [read] = [r for r in vfake.requests if r["method"] == "GET"]
    assert read["path"] == f"/{post['video_id']}"
    assert read["args"]["fields"] == ["id,description,permalink_url,status"]


def test_a_500_after_finish_stored_the_video_is_unknown_not_retryable(vfake):
    vfake.fail_next(500, code=2, phase="finish", after_store=True)
    saved = Saved()
    with pytest.raises(OutcomeUnknown):
        send(vfake, saved)
    assert len(vfake.posts) == 1
    found = FacebookNetwork().find(outgoing(vfake, media=[video()], progress=saved.progress))
    assert found.external_id == vfake.posts[0]["video_id"]


def test_a_retry_after_a_finish_that_went_through_does_not_finish_again(vfake):
    vfake.fail_next(429, code=4, phase="finish", after_store=True)
    saved = Saved()
    with pytest.raises(RetryableError):
        send(vfake, saved)
    vfake.requests.clear()
    published, _ = send(vfake, saved)
    assert video_posts(vfake) == []  # asked first, and it was there
    assert published.external_id == vfake.posts[0]["video_id"] and len(vfake.posts) == 1


def test_find_of_an_upload_never_started_or_never_finished_is_none(vfake):
    assert FacebookNetwork().find(outgoing(vfake, media=[video()])) is None
    assert vfake.requests == []
    vfake.fail_next(500, code=2, phase="transfer")
    saved = Saved()
    with pytest.raises(RetryableError):
        send(vfake, saved)
    assert FacebookNetwork().find(outgoing(vfake, media=[video()],
                                           progress=saved.progress)) is None

"""find and fetch_metrics of the Instagram adapter against the fake Graph API: what a
saved container's status proves (IG Container ``status_code``), the search of the
account's media (IG User Media), and Instagram Media Insights."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from agency.networks.base import AuthExpiredError, OutcomeUnknown, RetryableError
from agency.networks.instagram import InstagramNetwork
from tests.fakes.instagram import fake_instagram  # noqa: F401 (fixture)

from .test_instagram_support import TEXT, instagram, outgoing, video  # noqa: F401 (fixture)


@pytest.fixture
def fake(instagram):  # noqa: F811
    return instagram


def lost_answer(fake, **kwargs):
    """A publication whose media_publish went out but whose answer was lost."""
    saved: list[dict] = []
    sent = outgoing(fake, saved=saved, scheduled_at=datetime.now(UTC), **kwargs)
    fake.hang_next(path="/media_publish")
    with pytest.raises(OutcomeUnknown):
        InstagramNetwork().publish(sent)
    return replace(sent, progress=saved[-1], checkpoint=None)


# --- find -----------------------------------------------------------------------------------

def test_a_published_container_is_found_on_the_account(fake):
    sent = lost_answer(fake)
    adapter = InstagramNetwork()
    found = adapter.find(sent)
    [media] = fake.published()
    assert found is not None and found.external_id == media["id"]
    assert found.url == media["permalink"]
    [search] = [r for r in fake.requests if r["method"] == "GET"
                and r["path"] == f"/{fake.ig}/media"]
    assert search["args"]["fields"] == ["id,caption,permalink,timestamp"]


def test_a_finished_container_was_certainly_not_published(fake):
    saved: list[dict] = []
    sent = outgoing(fake, saved=saved)
    fake.fail_next(500, code=2, path="/media_publish", transient=True)
    with pytest.raises(RetryableError):
        InstagramNetwork().publish(sent)
    adapter = InstagramNetwork()
    assert adapter.find(replace(sent, progress=saved[-1])) is None
    assert adapter.authoritative_find is True
    assert InstagramNetwork.authoritative_find is False  # only this instance, this call


@pytest.mark.parametrize("state", ["IN_PROGRESS", "ERROR", "EXPIRED"])
def test_other_unpublished_states_are_authoritative_too(fake, state):
    saved: list[dict] = []
    fake.video_polls = 10_000
    with pytest.raises(RetryableError):  # still processing after the wait
        InstagramNetwork().publish(outgoing(fake, media=[video()], saved=saved))
    row = fake.containers[saved[-1]["container_id"]]
    if state == "ERROR":
        row["polls_left"], row["fails_with"] = 0, 2207026
    elif state == "EXPIRED":
        row["expired"] = True
    adapter = InstagramNetwork()
    assert adapter.find(outgoing(fake, progress=saved[-1])) is None
    assert adapter.authoritative_find is True


def test_without_a_saved_container_find_proves_nothing(fake):
    adapter = InstagramNetwork()
    assert adapter.find(outgoing(fake)) is None
    assert adapter.authoritative_find is False
    assert fake.requests == []
    only_children = outgoing(fake, progress={"container_id": "", "children": ["1", "2"]})
    assert adapter.find(only_children) is None and adapter.authoritative_find is False


def test_an_unreadable_container_proves_nothing(fake):
    adapter = InstagramNetwork()
    gone = outgoing(fake, progress={"container_id": "17841499999999999", "children": []})
    assert adapter.find(gone) is None
    assert adapter.authoritative_find is False


def test_published_but_not_on_the_account_proves_nothing(fake):
    sent = lost_answer(fake)
    fake.media.clear()  # deleted by someone meanwhile
    adapter = InstagramNetwork()
    assert adapter.find(sent) is None
    assert adapter.authoritative_find is False


def test_find_matches_the_caption_and_the_schedule(fake):
    sent = lost_answer(fake)
    fake.media[0]["caption"] = TEXT + " (modifié)"
    assert InstagramNetwork().find(sent) is None
    fake.media[0]["caption"] = TEXT
    later = replace(sent, scheduled_at=datetime.now(UTC) + timedelta(hours=1))
    assert InstagramNetwork().find(later) is None
    assert InstagramNetwork().find(sent) is not None


def test_find_when_instagram_cannot_answer_is_retryable(fake):
    sent = lost_answer(fake)
    fake.fail_next(500, code=2, method="GET", transient=True)
    with pytest.raises(RetryableError):
        InstagramNetwork().find(sent)


def test_find_with_a_revoked_token_means_reconnect(fake):
    sent = lost_answer(fake)
    fake.revoke_token(fake.page.token)
    with pytest.raises(AuthExpiredError):
        InstagramNetwork().find(sent)


def test_publishing_again_after_a_finished_find_reuses_the_container(fake):
    saved: list[dict] = []
    sent = outgoing(fake, saved=saved)
    fake.fail_next(500, code=2, path="/media_publish", transient=True)
    with pytest.raises(RetryableError):
        InstagramNetwork().publish(sent)
    again = replace(sent, progress=saved[-1])
    assert InstagramNetwork().find(again) is None
    InstagramNetwork().publish(again)
    assert len(fake.posts_to("/media")) == 1 and len(fake.published()) == 1


def test_publishing_a_container_already_published_returns_that_post(fake):
    sent = lost_answer(fake, first_comment="Merci !")
    adapter = InstagramNetwork()
    published = adapter.publish(replace(sent, checkpoint=[].append))
    [media] = fake.published()
    assert published.external_id == media["id"]
    assert len(fake.posts_to("/media_publish")) == 1  # not published again
    assert "cannot tell whether its first comment" in adapter.first_comment_error


# --- metrics --------------------------------------------------------------------------------

def test_metrics_read_the_insights(fake):
    published = InstagramNetwork().publish(outgoing(fake))
    fake.media[0]["insights"] = {"views": 120, "reach": 90, "likes": 12, "comments": 3,
                                 "shares": 2, "saved": 5, "total_interactions": 22}
    metrics = InstagramNetwork().fetch_metrics(outgoing(fake), published.external_id)
    assert metrics == {"views": 120, "reach": 90, "likes": 12, "comments": 3, "shares": 2,
                       "saves": 5, "interactions": 22}
    [query] = [r for r in fake.requests if r["path"].endswith("/insights")]
    # GET /{ig-media-id}/insights?metric=… with today's metric names (no impressions).
    assert query["args"]["metric"] == ["views,reach,likes,comments,shares,saved,"
                                       "total_interactions"]


def test_too_few_viewers_falls_back_to_the_medias_counters(fake):
    published = InstagramNetwork().publish(outgoing(fake, first_comment="Miam"))
    fake.media[0]["like_count"] = 4
    fake.insights_refused = True  # (#10) Not enough viewers for the media to show insights
    metrics = InstagramNetwork().fetch_metrics(outgoing(fake), published.external_id)
    assert metrics == {"likes": 4, "comments": 1}


def test_metrics_with_a_revoked_token_mean_reconnect(fake):
    published = InstagramNetwork().publish(outgoing(fake))
    fake.revoke_token(fake.page.token)
    with pytest.raises(AuthExpiredError):
        InstagramNetwork().fetch_metrics(outgoing(fake), published.external_id)

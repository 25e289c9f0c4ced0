"""The Instagram adapter against the fake Graph API, over real loopback HTTP: the request
shapes of each kind of post (Instagram Platform → Content Publishing, IG User Media, IG
User Media Publish), the options it reads, the containers' wait and the progress it
saves, and the first comment."""

from __future__ import annotations

from dataclasses import replace

import pytest

from agency.networks.base import (
    AuthExpiredError,
    PermanentError,
    Published,
    RetryableError,
)
from agency.networks.instagram import InstagramNetwork
from agency.networks.registry import adapter_for
from tests.fakes.instagram import PLACE_ID, fake_instagram  # noqa: F401 (fixture)

from .test_instagram_support import PUBLIC, TEXT, form, instagram, outgoing, photo, video  # noqa: F401


@pytest.fixture
def fake(instagram):  # noqa: F811
    return instagram


# --- what it promises ---------------------------------------------------------------------


def test_the_registry_knows_instagram_and_its_promises():
    adapter = adapter_for("instagram")
    assert isinstance(adapter, InstagramNetwork)
    # No idempotency key on the Graph API; find is authoritative only when it read the
    # container (set on the instance by find, see test_instagram_find).
    assert adapter.idempotent_publish is False and adapter.authoritative_find is False
    assert adapter.refresh({"page_access_token": "x"}) is None  # Page tokens do not expire


# --- request shapes -----------------------------------------------------------------------

def test_one_photo_is_a_container_then_media_publish(fake):
    saved: list[dict] = []
    published = InstagramNetwork().publish(outgoing(fake, saved=saved))

    [media] = fake.published()
    assert published == Published(media["id"], media["permalink"])
    [create] = fake.posts_to("/media")
    # POST /{ig-user-id}/media with image_url and caption, the Page token as access_token.
    assert create["path"] == f"/{fake.ig}/media"
    assert form(create) == {"image_url": f"{PUBLIC}/m/croissants.jpg", "caption": TEXT}
    assert create["args"]["access_token"] == [fake.page.token]
    [publish] = fake.posts_to("/media_publish")
    container = saved[-1]["container_id"]
    # POST /{ig-user-id}/media_publish?creation_id=<container>
    assert publish["path"] == f"/{fake.ig}/media_publish"
    assert form(publish) == {"creation_id": container}
    assert media["container"] == container and media["caption"] == TEXT
    # The status was read before publishing (GET /{container}?fields=status_code,status).
    reads = [r for r in fake.requests if r["method"] == "GET" and r["path"] == f"/{container}"]
    assert reads and reads[0]["args"]["fields"] == ["status_code,status"]
    # The quota was read first (GET /{ig-user-id}/content_publishing_limit).
    [quota] = [r for r in fake.requests if r["path"].endswith("/content_publishing_limit")]
    assert quota["args"]["fields"] == ["quota_usage,config"]
    assert saved == [{"container_id": container, "children": []}] * 2  # made, then before


def test_a_photo_description_becomes_its_alt_text(fake):
    InstagramNetwork().publish(outgoing(fake, media=[photo(description="Six croissants")]))
    [create] = fake.posts_to("/media")
    assert form(create)["alt_text"] == "Six croissants"


def test_several_files_make_a_carousel_of_their_children(fake):
    saved: list[dict] = []
    media = [photo("a"), video("b"), photo("c")]
    InstagramNetwork().publish(outgoing(fake, media=media, saved=saved))

    *children, parent = fake.posts_to("/media")
    assert [form(c) for c in children] == [
        {"image_url": f"{PUBLIC}/m/a.jpg", "is_carousel_item": "true"},
        {"media_type": "VIDEO", "video_url": f"{PUBLIC}/m/b.mp4", "is_carousel_item": "true"},
        {"image_url": f"{PUBLIC}/m/c.jpg", "is_carousel_item": "true"}]
    child_ids = saved[-1]["children"]
    assert len(child_ids) == 3
    assert form(parent) == {"media_type": "CAROUSEL", "children": ",".join(child_ids),
                            "caption": TEXT}
    [published] = fake.published()
    assert published["media_type"] == "CAROUSEL_ALBUM"
    assert form(fake.posts_to("/media_publish")[0]) == {"creation_id": saved[-1]["container_id"]}
    # Each child was saved as soon as it existed, before the parent.
    assert [len(s["children"]) for s in saved[:3]] == [1, 2, 3]


def test_a_single_video_is_a_reel(fake):
    InstagramNetwork().publish(outgoing(fake, media=[video()]))
    [create] = fake.posts_to("/media")
    assert form(create) == {"media_type": "REELS", "video_url": f"{PUBLIC}/m/fournil.mp4",
                            "share_to_feed": "true", "caption": TEXT}
    assert fake.published()[0]["media_type"] == "VIDEO"


def test_the_reel_option_with_a_video(fake):
    InstagramNetwork().publish(outgoing(fake, media=[video()], options={"kind": "reel"}))
    assert form(fake.posts_to("/media")[0])["media_type"] == "REELS"


def test_a_location_goes_on_the_container(fake):
    InstagramNetwork().publish(outgoing(fake, options={"location_id": PLACE_ID,
                                                       "kind": "feed"}))
    assert form(fake.posts_to("/media")[0])["location_id"] == PLACE_ID
    assert fake.published()[0]["location_id"] == PLACE_ID


def test_an_empty_caption_is_not_sent(fake):
    InstagramNetwork().publish(outgoing(fake, text=""))
    assert "caption" not in form(fake.posts_to("/media")[0])


# --- refused before any call --------------------------------------------------------------

@pytest.mark.parametrize(("options", "media", "words"), [
    ({"kind": "story"}, None, "not an Instagram post type"),
    ({"location_id": "Paris"}, None, "digits only"),
    ({"kind": "reel"}, [photo()], "A reel is one video"),
    ({"kind": "reel"}, [video("a"), video("b")], "A reel is one video"),
    ({}, [], "needs a photo or a video"),
    ({}, [photo(str(n)) for n in range(11)], "at most 10"),
])
def test_invalid_options_and_media_are_refused_plainly(fake, options, media, words):
    with pytest.raises(PermanentError) as caught:
        InstagramNetwork().publish(outgoing(fake, options=options, media=media))
    assert words in caught.value.reason
    assert fake.requests == []


def test_without_public_url_there_is_nothing_instagram_could_fetch(fake):
    unreachable = replace(photo(), url="")
    with pytest.raises(PermanentError) as caught:
        InstagramNetwork().publish(outgoing(fake, media=[unreachable]))
    assert "PUBLIC_URL" in caught.value.reason
    assert fake.requests == []


def test_missing_account_settings_mean_reconnect(fake):
    with pytest.raises(AuthExpiredError):
        InstagramNetwork().publish(replace(outgoing(fake), settings={}))
    with pytest.raises(AuthExpiredError):
        InstagramNetwork().publish(replace(outgoing(fake), credentials={}))
    assert fake.requests == []


# --- containers: waiting, and continuing from the progress --------------------------------

def test_publishing_waits_for_the_container_to_finish(fake):
    fake.video_polls = 3  # IN_PROGRESS three times, then FINISHED
    saved: list[dict] = []
    InstagramNetwork().publish(outgoing(fake, media=[video()], saved=saved))
    container = saved[-1]["container_id"]
    reads = [r for r in fake.requests if r["path"] == f"/{container}"]
    assert len(reads) == 4
    assert len(fake.published()) == 1


def test_a_container_still_processing_after_the_wait_is_retried_with_the_same_one(fake):
    fake.video_polls = 10_000
    saved: list[dict] = []
    sent = outgoing(fake, media=[video()], saved=saved)
    with pytest.raises(RetryableError) as caught:
        InstagramNetwork().publish(sent)
    assert "still processing" in caught.value.reason
    assert fake.published() == [] and fake.posts_to("/media_publish") == []
    container = saved[-1]["container_id"]

    fake.containers[container]["polls_left"] = 0  # Instagram is done meanwhile
    again = replace(sent, progress=saved[-1])
    published = InstagramNetwork().publish(again)
    assert len(fake.posts_to("/media")) == 1  # not made again
    assert published.external_id == fake.published()[0]["id"]
    assert fake.published()[0]["container"] == container


def test_a_carousel_continues_from_the_children_already_made(fake):
    saved: list[dict] = []
    sent = outgoing(fake, media=[photo("a"), photo("b"), photo("c")], saved=saved)
    # The third child is refused (Instagram: "Create media fail, please try to re-create").
    fake.fail_next(400, code=-1, subcode=2207032, path=f"/{fake.ig}/media", method="POST",
                   skip=2, message="Create media fail, please try to re-create media")
    with pytest.raises(RetryableError):
        InstagramNetwork().publish(sent)
    made = saved[-1]["children"]
    assert len(made) == 2 and saved[-1]["container_id"] == ""

    InstagramNetwork().publish(replace(sent, progress=saved[-1]))
    children = [r for r in fake.posts_to("/media") if form(r).get("is_carousel_item")]
    assert len(children) == 4  # two, the refused one, then only the missing one
    [media] = fake.published()
    assert fake.containers[media["container"]]["children"][:2] == made


def test_a_container_in_error_fails_with_instagrams_status(fake):
    fake.fail_fetch("/m/croissants", subcode=2207026)
    saved: list[dict] = []
    with pytest.raises(PermanentError) as caught:
        InstagramNetwork().publish(outgoing(fake, saved=saved))
    assert "Media upload has failed with error code 2207026" in caught.value.reason
    assert fake.published() == []


def test_a_download_timeout_is_retried_with_a_new_container(fake):
    fake.fail_fetch("/m/croissants", subcode=2207003)  # "takes too long to download"
    saved: list[dict] = []
    sent = outgoing(fake, saved=saved)
    with pytest.raises(RetryableError) as caught:
        InstagramNetwork().publish(sent)
    assert "2207003" in caught.value.reason
    assert saved[-1] == {"container_id": "", "children": []}  # that container is dropped

    fake._fetch_failures.clear()
    InstagramNetwork().publish(replace(sent, progress=saved[-1]))
    assert len(fake.posts_to("/media")) == 2 and len(fake.published()) == 1


def test_an_expired_container_is_made_again(fake):
    saved: list[dict] = []
    sent = outgoing(fake, saved=saved)
    fake.fail_next(400, code=9, subcode=2207042, path="/media_publish",
                   message="Application request limit reached")
    with pytest.raises(RetryableError):
        InstagramNetwork().publish(sent)
    old = saved[-1]["container_id"]
    fake.expire(old)  # a day later

    InstagramNetwork().publish(replace(sent, progress=saved[-1]))
    [media] = fake.published()
    assert media["container"] != old and len(fake.posts_to("/media")) == 2


def test_a_finished_container_from_an_earlier_attempt_is_published_as_is(fake):
    saved: list[dict] = []
    sent = outgoing(fake, saved=saved)
    fake.fail_next(500, code=2, path="/media_publish", transient=True)
    with pytest.raises(RetryableError):
        InstagramNetwork().publish(sent)
    InstagramNetwork().publish(replace(sent, progress=saved[-1]))
    assert len(fake.posts_to("/media")) == 1
    assert [m["container"] for m in fake.published()] == [saved[-1]["container_id"]]


# --- first comment ------------------------------------------------------------------------

def test_the_first_comment_follows_the_post(fake):
    adapter = InstagramNetwork()
    published = adapter.publish(outgoing(fake, first_comment="Commandez au 01 23 45 67 89"))
    [media] = fake.published()
    [comment] = fake.posts_to("/comments")
    # POST /{ig-media-id}/comments?message=...
    assert comment["path"] == f"/{published.external_id}/comments"
    assert form(comment) == {"message": "Commandez au 01 23 45 67 89"}
    assert media["comments"] == [{"id": adapter.first_comment_id,
                                  "text": "Commandez au 01 23 45 67 89"}]
    assert adapter.first_comment_error == ""


def test_a_failed_first_comment_never_fails_the_post(fake):
    fake.fail_next(400, code=100, path="/comments", message="(#100) Comment too spammy")
    adapter = InstagramNetwork()
    published = adapter.publish(outgoing(fake, first_comment="Venez !"))
    assert published.external_id == fake.published()[0]["id"]
    assert "Comment too spammy" in adapter.first_comment_error


def test_a_lost_first_comment_answer_says_to_check(fake):
    fake.hang_next(path="/comments")
    adapter = InstagramNetwork()
    adapter.publish(outgoing(fake, first_comment="Venez !"))
    assert "did not confirm its first comment" in adapter.first_comment_error


def test_a_missing_permalink_does_not_fail_a_published_post(fake):
    fake.fail_next(500, code=2, method="GET", fields="permalink", transient=True)
    published = InstagramNetwork().publish(outgoing(fake))
    assert published.external_id == fake.published()[0]["id"]
    assert published.url == "https://www.instagram.com/boulangeriemartin/"

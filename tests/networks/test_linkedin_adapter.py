"""The LinkedIn adapter against the fake LinkedIn, over real loopback HTTP: the request shapes
of each kind of post (Posts API, Images API, MultiImage), the little text format, the
images' progress, and the first comment. Errors, find and metrics: test_linkedin_errors.py.
"""

from __future__ import annotations

import json

import pytest

from agency.networks.base import PermanentError, Published, RetryableError
from agency.networks.linkedin import LinkedInNetwork
from agency.networks.linkedin_text import commentary, plain
from agency.networks.registry import adapter_for
from tests.fakes.linkedin import PNG, FakeLinkedIn, fake_linkedin, outgoing, photo  # noqa: F401
from tests.fakes.linkedin_text import shown as linkedin_shows

TEXT = "Bonjour, le pain est chaud !"


@pytest.fixture
def fake(app, fake_linkedin):  # noqa: F811
    fake_linkedin.member = fake_linkedin.add_member("Léa Martin")
    fake_linkedin.page = fake_linkedin.add_organization(
        "Boulangerie Martin", "boulangerie-martin", {fake_linkedin.member: "ADMINISTRATOR"})
    with app.app_context():
        yield fake_linkedin


def as_page(fake: FakeLinkedIn, **kwargs):
    return outgoing(fake.page.urn, fake.member.token, **kwargs)


def as_member(fake: FakeLinkedIn, **kwargs):
    return outgoing(f"urn:li:person:{fake.member.sub}", fake.member.token, **kwargs)


def calls(fake: FakeLinkedIn, method: str, path: str) -> list[dict]:
    return [r for r in fake.requests if r["method"] == method and r["path"].startswith(path)]


def test_the_registry_knows_linkedin_and_its_promises():
    adapter = adapter_for("linkedin")
    assert isinstance(adapter, LinkedInNetwork)
    # No idempotency key in the Posts API; the author's feed only proves presence.
    assert adapter.idempotent_publish is False and adapter.authoritative_find is False


# --- request shapes -----------------------------------------------------------------------

def test_a_text_post_as_the_page_has_the_documented_shape(fake):
    published = LinkedInNetwork().publish(as_page(fake))

    [post] = fake.posts
    assert published == Published(post["id"], f"https://www.linkedin.com/feed/update/{post['id']}")
    assert post["id"].startswith("urn:li:share:")  # from the x-restli-id header of the 201
    [request] = calls(fake, "POST", "/rest/posts")
    headers = request["headers"]
    assert headers["authorization"] == f"Bearer {fake.member.token}"
    assert headers["linkedin-version"] == "202410"  # LINKEDIN_VERSION, YYYYMM
    assert headers["x-restli-protocol-version"] == "2.0.0"
    assert headers["content-type"] == "application/json"
    # Posts API, "Create a text-only post": exactly these fields, no content.
    assert json.loads(request["body"]) == {
        "author": fake.page.urn, "commentary": commentary(TEXT), "visibility": "PUBLIC",
        "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [],
                         "thirdPartyDistributionChannels": []},
        "lifecycleState": "PUBLISHED", "isReshareDisabledByAuthor": False}
    assert post["shown"] == TEXT


def test_a_member_posts_as_their_person_urn(fake):
    published = LinkedInNetwork().publish(as_member(fake))
    [post] = fake.posts
    assert post["author"] == f"urn:li:person:{fake.member.sub}"
    assert published.external_id == post["id"]


# --- the little text format ---------------------------------------------------------------

RESERVED_TEXT = ("Nouveau (enfin) : 2 × [croissants] <chauds> à 1*2 € ~ 50 % | {offre} "
                 "@boulangerie \\ sous_titre #PainChaud #1 C# fin")


def test_reserved_characters_are_escaped_and_hashtags_kept(fake):
    LinkedInNetwork().publish(as_page(fake, text=RESERVED_TEXT))
    [post] = fake.posts
    sent = json.loads(calls(fake, "POST", "/rest/posts")[0]["body"])["commentary"]
    # Every reserved character of the little text format is escaped with a backslash...
    assert "\\(enfin\\)" in sent and "\\[croissants\\]" in sent and "\\<chauds\\>" in sent
    assert "1\\*2" in sent and "\\~" in sent and "\\|" in sent and "\\{offre\\}" in sent
    assert "\\@boulangerie" in sent and "\\\\" in sent and "sous\\_titre" in sent
    # ...except a hashtag, written as the documented template so that it stays one.
    assert "{hashtag|\\#|PainChaud}" in sent
    assert "\\#1" in sent and "C\\#" in sent  # "#1" and "C#" are not hashtags
    # LinkedIn shows the whole text, not a text cut at the first "(".
    assert post["shown"] == RESERVED_TEXT


def test_the_fake_cuts_unescaped_text_like_linkedin():
    # Why the escaping matters: LinkedIn silently stops at an unescaped reserved character.
    assert linkedin_shows("Ouvert (enfin) demain") == "Ouvert "
    assert linkedin_shows(commentary("Ouvert (enfin) demain")) == "Ouvert (enfin) demain"


@pytest.mark.parametrize("text", [
    TEXT, RESERVED_TEXT, "#tag", "fin #", "a\\b", "é#x #Été_2024", "{hashtag|\\#|x}",
    "multi\nligne\n\n#un #deux", ""])
def test_commentary_round_trips(text):
    assert plain(commentary(text)) == text
    assert linkedin_shows(commentary(text)) == text


# --- images -------------------------------------------------------------------------------

def test_one_image_is_uploaded_then_posted_as_media(fake):
    saved: list[dict] = []
    picture = photo(description="Des croissants dorés")
    published = LinkedInNetwork().publish(as_page(fake, media=[picture], saved=saved))

    [init] = calls(fake, "POST", "/rest/images")
    assert init["args"] == {"action": "initializeUpload"}
    assert json.loads(init["body"]) == {"initializeUploadRequest": {"owner": fake.page.urn}}
    assert init["headers"]["linkedin-version"] == "202410"
    [image_urn] = fake.images
    [put] = calls(fake, "PUT", "/dms-uploads/")
    assert put["body"] == PNG
    # The upload URL takes the bearer token only (Images API, "Upload the Image").
    assert put["headers"]["authorization"] == f"Bearer {fake.member.token}"
    assert "linkedin-version" not in put["headers"]
    assert fake.images[image_urn] == {"owner": fake.page.urn, "status": "AVAILABLE",
                                      "bytes": len(PNG)}
    [post] = fake.posts
    assert post["body"]["content"] == {"media": {"id": image_urn,
                                                 "altText": "Des croissants dorés"}}
    assert published.external_id == post["id"]
    # Saved as soon as uploaded, before the post was made.
    assert saved == [{"images": [{"sha256": picture.sha256, "urn": image_urn}]}]


def test_several_images_make_a_multiimage_post_in_order(fake):
    saved: list[dict] = []
    pictures = [photo("a.png", "a"), photo("b.png", "b"), photo("c.png", "c")]
    published = LinkedInNetwork().publish(as_member(fake, media=pictures, saved=saved))

    assert len(calls(fake, "POST", "/rest/images")) == 3
    assert len(calls(fake, "PUT", "/dms-uploads/")) == 3
    [post] = fake.posts
    urns = [i["urn"] for i in saved[-1]["images"]]
    assert post["body"]["content"] == {"multiImage": {"images": [{"id": u} for u in urns]}}
    assert [i["sha256"] for i in saved[-1]["images"]] == [p.sha256 for p in pictures]
    assert [len(s["images"]) for s in saved] == [1, 2, 3]  # one checkpoint per upload
    assert published.external_id.startswith("urn:li:ugcPost:")


def test_a_retry_reuses_the_images_already_uploaded(fake):
    pictures = [photo("a.png", "a"), photo("b.png", "b")]
    saved: list[dict] = []
    fake.fail_next(500, message="Internal Server Error", path="/rest/posts")
    with pytest.raises(RetryableError):
        LinkedInNetwork().publish(as_page(fake, media=pictures, saved=saved))
    assert fake.posts == [] and len(fake.images) == 2

    # The engine hands the next attempt the progress the first one saved.
    published = LinkedInNetwork().publish(as_page(fake, media=pictures, progress=saved[-1]))
    assert len(calls(fake, "POST", "/rest/images")) == 2  # none more
    [post] = fake.posts
    assert post["images"] == [i["urn"] for i in saved[-1]["images"]]
    assert published.external_id == post["id"]


def test_images_linkedin_no_longer_has_are_uploaded_again_next_time(fake):
    stale = {"images": [{"sha256": "0" * 64, "urn": "urn:li:image:C4Egone"}]}
    saved: list[dict] = []
    with pytest.raises(RetryableError):
        LinkedInNetwork().publish(as_page(fake, media=[photo()], progress=stale, saved=saved))
    assert saved == [{"images": []}] and fake.posts == []
    LinkedInNetwork().publish(as_page(fake, media=[photo()], progress=saved[-1]))
    assert len(fake.posts) == 1 and len(calls(fake, "POST", "/rest/images")) == 1


def test_videos_and_too_many_images_are_refused_plainly(fake):
    from agency.networks.base import OutgoingMedia

    video = OutgoingMedia(sha256="1" * 64, mime="video/mp4", kind="video", data=b"x",
                          filename="v.mp4")
    with pytest.raises(PermanentError):
        LinkedInNetwork().publish(as_page(fake, media=[video]))
    with pytest.raises(PermanentError) as caught:
        LinkedInNetwork().publish(as_page(fake, media=[photo(str(n), "1")
                                                       for n in range(21)]))
    assert "20" in caught.value.reason
    assert fake.requests == []


def test_the_token_goes_to_linkedin_upload_hosts_only(app):
    with app.app_context():
        allowed = LinkedInNetwork._upload_allowed
        assert allowed("https://www.linkedin.com/dms-uploads/C4E/uploaded-image/0?ca=x")
        assert allowed("https://api.linkedin.com/mediaUpload/C5/feedshare-uploadedImage/0")
        assert not allowed("http://www.linkedin.com/dms-uploads/x")  # not over TLS
        assert not allowed("https://www.linkedin.com.example.net/x")
        assert not allowed("https://evil.example/dms-uploads/x")


# --- the first comment --------------------------------------------------------------------

def test_the_first_comment_follows_as_the_author(fake):
    adapter = LinkedInNetwork()
    published = adapter.publish(as_page(fake, first_comment="Commandez (vite) au 01 23"))

    [post] = fake.posts
    [request] = calls(fake, "POST", "/rest/socialActions/")
    # The post URN is a Rest.li path key: percent-encoded.
    assert request["raw_path"].startswith(
        "/rest/socialActions/" + post["id"].replace(":", "%3A") + "/comments")
    assert json.loads(request["body"]) == {
        "actor": fake.page.urn, "object": post["id"],
        "message": {"text": "Commandez (vite) au 01 23"}}  # comments are not little text
    assert request["headers"]["linkedin-version"] == "202410"
    [comment] = post["comments"]
    assert adapter.first_comment_id == comment["urn"] and adapter.first_comment_error == ""
    assert published.external_id == post["id"]


def test_a_failed_first_comment_never_fails_the_post(fake):
    fake.fail_next(400, code="INVALID_VALUE_FOR_FIELD", message="Comment text is not allowed",
                   path="/comments")
    adapter = LinkedInNetwork()
    published = adapter.publish(as_page(fake, first_comment="Venez !"))
    assert published.external_id == fake.posts[0]["id"]
    assert "Comment text is not allowed" in adapter.first_comment_error


def test_an_unconfirmed_first_comment_says_to_check(fake, app):
    app.config["NETWORK_TIMEOUT_SECONDS"] = 0.5  # restored by the fixture's monkeypatch
    fake.hang_seconds = 1.5
    fake.hang_next(path="/comments")
    adapter = LinkedInNetwork()
    adapter.publish(as_page(fake, first_comment="Venez !"))
    assert "did not confirm its first comment" in adapter.first_comment_error

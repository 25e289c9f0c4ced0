"""Per-network post options: their checks (agency/content/options.py), the content hash
and diff that bind an approval to them (agency/content/revisions.py), their words
(agency/content/options_text.py), and the services that store them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from agency.auth.services import ServiceError
from agency.clients.models import Client
from agency.content import services
from agency.content.models import Post, PostStatus
from agency.content.options import check_dates, clean_options
from agency.content.options_text import as_text, describe, own_places
from agency.content.revisions import canonical_content, content_hash, diff
from agency.extensions import db
from agency.networks.models import SocialAccount
from agency.publishing.models import Publication
from tenants.context import tenant_scope
from tenants.scoping import tenant_get
from tests.content.helpers import NEXT_YEAR, make_post

PARIS = "Europe/Paris"
ALL = ("google_business", "instagram", "facebook", "x")
OFFER = {"topic": "OFFER",
         "event": {"title": "-10 % sur le pain", "start": f"{NEXT_YEAR}-03-01T00:00:00+01:00",
                   "end": f"{NEXT_YEAR}-03-12T23:59:00+01:00"},
         "offer": {"coupon_code": "PAIN10", "redeem_url": "https://boulangerie.example/offre",
                   "terms": "Une fois par client."}}


@pytest.fixture
def ctx(app):
    with app.test_request_context():
        yield


def clean(raw, networks=ALL, *, media=("image",), language="fr"):
    return clean_options(raw, networks, tz_name=PARIS, language=language, media_kinds=media)


def refused(raw, networks=ALL, **kwargs) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        clean(raw, networks, **kwargs)
    return caught.value


# --- checks and normal form ----------------------------------------------------------------

def test_no_options_are_no_options(ctx):
    assert clean(None, ("sandbox", "x")) == {}
    assert clean({}, ("x",)) == {}
    assert clean({"x": {"thread": ["  ", ""]}, "facebook": {}}, ("x",)) == {}


def test_a_google_offer_is_kept_whole_and_gets_the_clients_language(ctx):
    assert clean({"google_business": OFFER}, language="en") == {"google_business": {
        **OFFER, "language": "en"}}


def test_google_always_gets_the_language_even_without_options(ctx):
    assert clean({}, ("google_business",)) == {"google_business": {"language": "fr"}}
    # A language sent by a caller is replaced: it is the client's, not a person's choice.
    assert clean({"google_business": {"language": "de"}}, ("google_business",),
                 language="en") == {"google_business": {"language": "en"}}


def test_defaults_and_blanks_are_left_out(ctx):
    assert clean({"google_business": {"topic": "standard", "cta": {"type": "", "url": ""},
                                      "event": {"title": "", "start": "", "end": ""},
                                      "offer": {"coupon_code": " "}},
                  "instagram": {"kind": "feed", "location_id": ""},
                  "facebook": {"place_id": " "}}) == {"google_business": {"language": "fr"}}


def test_event_times_are_put_in_the_clients_zone(ctx):
    # 08:00 UTC is 10:00 in Paris in July: Google is sent the business's wall-clock time.
    cleaned = clean({"google_business": {"topic": "EVENT", "event": {
        "title": " Soirée   dégustation ", "start": f"{NEXT_YEAR}-07-14T08:00:00Z",
        "end": f"{NEXT_YEAR}-07-14T12:30:00.123+00:00"}}})
    assert cleaned["google_business"]["event"] == {
        "title": "Soirée dégustation", "start": f"{NEXT_YEAR}-07-14T10:00:00+02:00",
        "end": f"{NEXT_YEAR}-07-14T14:30:00+02:00"}


def test_calls_to_action(ctx):
    assert clean({"google_business": {"cta": {"type": "book", "url": "https://x.example/r"}}},
                 ("google_business",))["google_business"]["cta"] == {
        "type": "BOOK", "url": "https://x.example/r"}
    assert clean({"google_business": {"cta": {"type": "CALL"}}},
                 ("google_business",))["google_business"]["cta"] == {"type": "CALL"}


@pytest.mark.parametrize(("raw", "field", "words"), [
    ({"google_business": {"topic": "ALERT"}}, "options.google_business.topic", "news"),
    ({"google_business": {"cta": {"type": "BUY", "url": "https://a.example"}}},
     "options.google_business.cta.type", "Book, Order online"),
    ({"google_business": {"cta": {"type": "BOOK"}}}, "options.google_business.cta.url",
     "needs the web address"),
    ({"google_business": {"cta": {"type": "BOOK", "url": "http://a.example"}}},
     "options.google_business.cta.url", "https://"),
    ({"google_business": {"cta": {"type": "BOOK", "url": "javascript:alert(1)"}}},
     "options.google_business.cta.url", "https://"),
    ({"google_business": {"cta": {"type": "CALL", "url": "https://a.example"}}},
     "options.google_business.cta.url", "takes no link"),
    ({"google_business": {"cta": {"url": "https://a.example"}}},
     "options.google_business.cta.type", "Choose the button"),
    ({"google_business": {"topic": "EVENT"}}, "options.google_business.event.title",
     "needs a title"),
    ({"google_business": {"topic": "OFFER", "event": {"start": "x"}}},
     "options.google_business.event.title", "needs a name"),
    ({"google_business": {"topic": "EVENT", "event": {"title": "Fête", "end": "2031-01-01"}}},
     "options.google_business.event.start", "Give a date and a time"),
    ({"google_business": {"topic": "EVENT", "event": {
        "title": "Fête", "start": "le 3 mars", "end": "2031-01-01T10:00:00+01:00"}}},
     "options.google_business.event.start", "Not a date and time"),
    ({"google_business": {"topic": "EVENT", "event": {
        "title": "Fête", "start": "2031-01-01T09:00:00", "end": "2031-01-01T10:00:00+01:00"}}},
     "options.google_business.event.start", "UTC offset"),
    ({"google_business": {"topic": "EVENT", "event": {
        "title": "Fête", "start": "2031-01-01T10:00:00+01:00",
        "end": "2031-01-01T10:00:00+01:00"}}},
     "options.google_business.event.end", "after the start"),
    ({"google_business": {"topic": "EVENT", "event": {
        "title": "x" * 59, "start": "2031-01-01T09:00:00+01:00",
        "end": "2031-01-01T10:00:00+01:00"}}},
     "options.google_business.event.title", "At most 58 characters"),
    ({"google_business": {"event": {"title": "Fête"}}}, "options.google_business.event",
     "choose Event or Offer"),
    ({"google_business": {"topic": "EVENT", "event": OFFER["event"], "offer": {
        "coupon_code": "A"}}}, "options.google_business.offer", "choose Offer"),
    ({"google_business": {**OFFER, "cta": {"type": "BOOK", "url": "https://a.example"}}},
     "options.google_business.cta.type", "its own button on an offer"),
    ({"google_business": {**OFFER, "offer": {"redeem_url": "ftp://a.example"}}},
     "options.google_business.offer.redeem_url", "https://"),
    ({"google_business": {**OFFER, "offer": {"coupon_code": {"a": 1}}}},
     "options.google_business.offer.coupon_code", "must be text"),
    ({"google_business": {"colour": "red"}}, "options.google_business.colour",
     "Unknown option “colour”"),
    ({"google_business": {"cta": {"type": "BOOK", "url": "https://a.example", "label": "x"}}},
     "options.google_business.cta.label", "Unknown option"),
    ({"google_business": "OFFER"}, "options.google_business", "object"),
    ({"instagram": {"kind": "story"}}, "options.instagram.kind", "feed post (feed) or a reel"),
    ({"instagram": {"location_id": "Lyon"}}, "options.instagram.location_id", "digits only"),
    ({"facebook": {"place_id": "12 34"}}, "options.facebook.place_id", "digits only"),
    ({"facebook": {"place": "1234"}}, "options.facebook.place", "Unknown option"),
    ({"x": {"thread": "second part"}}, "options.x.thread", "list of texts"),
    ({"x": {"thread": ["ok", 3]}}, "options.x.thread", "list of texts"),
    ({"x": {"thread": ["ok", "a" * 281]}}, "options.x.thread",
     "Post 3 of the thread is too long for X: 281 characters out of 280."),
    ({"x": {"thread": [f"part {n}" for n in range(26)]}}, "options.x.thread",
     "At most 25 further posts"),
    ({"linkedin": {"thread": ["a"]}}, "options.linkedin", "LinkedIn takes no options."),
    ({"mystery": {"a": 1}}, "options.mystery", "takes no options"),
    ("nope", "options", "object"),
])
def test_bad_options_are_refused_on_their_field(ctx, raw, field, words):
    error = refused(raw)
    assert error.field == field
    assert words in error.message


def test_a_thread_is_counted_as_x_counts(ctx):
    # X weighs a URL 23 and an emoji 2 (twitter-text v3): 140 emoji weigh exactly 280.
    assert clean({"x": {"thread": ["🥖" * 140, " https://example.com/" + "a" * 300 + " "]}},
                 ("x",)) == {"x": {"thread": ["🥖" * 140, "https://example.com/" + "a" * 300]}}
    assert refused({"x": {"thread": ["🥖" * 141]}}, ("x",)).field == "options.x.thread"
    assert clean({"x": {"thread": [f"part {n}" for n in range(25)]}}, ("x",))


def test_options_for_a_network_not_targeted_are_refused(ctx):
    error = refused({"facebook": {"place_id": "123"}}, ("x", "sandbox"))
    assert (error.field, error.message) == (
        "options.facebook", "Options were given for Facebook, which this post does not target.")


def test_a_reel_is_one_video_alone(ctx):
    assert clean({"instagram": {"kind": "reel", "location_id": 1234}}, ("instagram",),
                 media=("video",)) == {
        "instagram": {"kind": "reel", "location_id": "1234"}}
    for media in (("image",), ("video", "video"), ("video", "image"), ()):
        assert refused({"instagram": {"kind": "reel"}}, media=media).field == \
            "options.instagram.kind"


def test_dates_must_still_be_ahead(ctx):
    options = clean({"google_business": OFFER})
    before_end = datetime(NEXT_YEAR, 3, 10, tzinfo=UTC)
    check_dates(options, now=before_end, publish_at=before_end)
    after_end = datetime(NEXT_YEAR, 3, 13, tzinfo=UTC)
    with pytest.raises(ServiceError, match="in the past") as past:
        check_dates(options, now=after_end, publish_at=None)
    assert past.value.field == "options.google_business.event.end"
    with pytest.raises(ServiceError, match="before the post goes out"):
        check_dates(options, now=before_end, publish_at=after_end)
    check_dates({"x": {"thread": ["a"]}}, now=after_end, publish_at=after_end)


# --- the content hash and the diff -------------------------------------------------------------

def _content(**overrides):
    values = dict(text="Pain au levain", variants={"x": "Levain"}, first_comment="",
                  media_checksums=["a" * 64],
                  target_ids=["00000000-0000-0000-0000-000000000001"],
                  scheduled_at=datetime(2031, 3, 1, 8, 0, tzinfo=UTC))
    values.update(overrides)
    return canonical_content(**values)


def test_a_post_without_options_keeps_the_hash_it_had_before_options_existed():
    # Computed with the canonical content of the previous release (no "options" key):
    # approvals given before options existed must still match.
    expected = "ccd0819170c414884c3a5928fc35f65a8d2a37aaf64e8b70bd1fdd8906de6df7"
    assert content_hash(_content()) == expected
    assert "options" not in _content(options={}, networks={"x"})
    assert content_hash(_content(options={"x": {}}, networks={"x"})) == expected
    # Options of a network the post does not target do not count either.
    assert content_hash(_content(options={"facebook": {"place_id": "1"}},
                                 networks={"x"})) == expected


def test_options_of_a_targeted_network_change_the_hash():
    threaded = _content(options={"x": {"thread": ["Deux"]}}, networks={"x"})
    assert threaded["options"] == {"x": {"thread": ["Deux"]}}
    hashes = {content_hash(_content()), content_hash(threaded),
              content_hash(_content(options={"x": {"thread": ["Trois"]}}, networks={"x"}))}
    assert len(hashes) == 3


def test_the_diff_says_the_option_changes_in_words(ctx):
    old = _content(options={"x": {"thread": ["Deux"]}}, networks={"x"})
    new = _content(options={"x": {"thread": ["Deux", "Trois"]},
                            "facebook": {"place_id": "42"}}, networks={"x", "facebook"})
    [change] = diff(old, new)
    assert change["field"] == "options"
    assert change["before"] == {"x": {"thread": ["Deux"]}}
    assert "+[Facebook] At the place of Facebook Page 42" in change["lines"]
    assert "-[X] Thread of 2 posts" in change["lines"]
    assert "+[X] Thread of 3 posts" in change["lines"]
    assert "+[X] Post 3: Trois" in change["lines"]
    assert diff(_content(), old)[0]["before"] is None


# --- in words ------------------------------------------------------------------------------

def test_an_offer_in_words(ctx):
    now = datetime(NEXT_YEAR, 3, 5, tzinfo=UTC)
    words = describe("google_business", clean({"google_business": OFFER})["google_business"],
                     now=now)
    assert words.lines == [
        "Offer: -10 % sur le pain with the code PAIN10, valid until 12 March",
        "To use it online: https://boulangerie.example/offre",
        "Conditions: Une fois par client."]
    later = describe("google_business", {**OFFER, "offer": {}},
                     now=datetime(NEXT_YEAR - 1, 12, 1, tzinfo=UTC))
    assert later.lines == [f"Offer: -10 % sur le pain, valid from 1 March {NEXT_YEAR} to "
                           f"12 March {NEXT_YEAR}"]


def test_an_event_a_button_and_a_thread_in_words(ctx):
    now = datetime(NEXT_YEAR, 1, 1, tzinfo=UTC)
    event = {"topic": "EVENT", "cta": {"type": "BOOK", "url": "https://b.example/r"},
             "event": {"title": "Dégustation", "start": f"{NEXT_YEAR}-07-14T18:00:00+02:00",
                       "end": f"{NEXT_YEAR}-07-14T21:30:00+02:00"}, "language": "fr"}
    assert describe("google_business", event, now=now).lines == [
        "Event: Dégustation, 14 July from 18:00 to 21:30",
        "Button “Book”, opening https://b.example/r"]
    two_days = {"topic": "EVENT", "event": {**event["event"],
                                            "end": f"{NEXT_YEAR}-07-15T02:00:00+02:00"}}
    assert describe("google_business", two_days, now=now).lines == [
        "Event: Dégustation, from 14 July 18:00 to 15 July 02:00"]
    assert describe("google_business", {"cta": {"type": "CALL"}}).lines == [
        "Button “Call now”: it calls the phone number of your Google profile"]
    thread = describe("x", {"thread": ["Deux", "Trois"]})
    assert (thread.lines, thread.thread) == (["Thread of 3 posts"], ["Deux", "Trois"])
    assert not describe("x", {})
    assert describe("instagram", {"kind": "reel"}).lines == ["Published as a reel"]


def test_a_place_in_words(ctx):
    class Account:
        def __init__(self, **settings):
            self.settings = settings

    accounts = [Account(page_id="111", has_location=True, address="Page address"),
                Account(page_id="222", has_location=False), Account(has_location=True)]
    assert own_places(accounts) == {"111": "Page address"}
    places = own_places(accounts, "12 rue des Lilas, 69001 Lyon")
    assert describe("facebook", {"place_id": "111"}, places=places).lines == [
        "At 12 rue des Lilas, 69001 Lyon (your Page's place)"]
    assert describe("instagram", {"location_id": "111"}, places={"111": ""}).lines == [
        "At your Page's place"]
    assert describe("facebook", {"place_id": "999"}, places=places).lines == [
        "At another place (Facebook Page 999)"]
    assert as_text({"google_business": {"language": "en"}}) == [
        "[Google Business Profile] Language on Google: English"]


# --- through the services ------------------------------------------------------------------

def _account(world, network: str, **settings):
    with tenant_scope(world.agency_id):
        account = SocialAccount(client_id=world.client_id, network=network,
                                display_name=f"Boulangerie {network}", settings=settings)
        db.session.add(account)
        db.session.flush()
        return account.id


def _client(world) -> Client:
    return db.session.scalars(select(Client).where(Client.id == world.client_id)).one()


def test_a_post_keeps_its_options_and_its_hash_covers_them(world, read):
    post_id = make_post(world, targets=[world.x_id], options={"x": {"thread": ["Deux"]}})
    post = read.post(post_id)
    assert post.options == {"x": {"thread": ["Deux"]}}
    [revision] = read.revisions(post_id)
    assert revision.content["options"] == {"x": {"thread": ["Deux"]}}
    assert revision.content_hash == post.content_hash == content_hash(revision.content)


def test_a_post_made_without_options_has_no_options_key(world, read):
    post_id = make_post(world)
    [revision] = read.revisions(post_id)
    assert "options" not in revision.content and read.post(post_id).options == {}


def test_google_posts_get_the_clients_language(world, read):
    google = _account(world, "google_business")
    with tenant_scope(world.agency_id):
        _client(world).language = "en"
        db.session.flush()
    post_id = make_post(world, targets=[google])
    assert read.post(post_id).options == {"google_business": {"language": "en"}}


def test_editing_the_options_of_an_approved_post_withdraws_its_approval(world, read):
    post_id = make_post(world, targets=[world.x_id], policy="none", submit=True,
                        options={"x": {"thread": ["Deux"]}})
    approved = read.post(post_id)
    assert approved.status == PostStatus.APPROVED
    assert read.count(Publication, Publication.post_id == post_id) == 1
    with tenant_scope(world.agency_id):
        post = tenant_get(Post, post_id)
        assert services.update_post(post, _client(world), {"options": {"x": {
            "thread": ["Deux", "Trois"]}}}, world.owner.user_id) is True
        db.session.flush()
    edited = read.post(post_id)
    assert edited.status == PostStatus.DRAFT
    assert edited.content_hash != approved.content_hash
    assert edited.revision_number == 2
    assert read.count(Publication, Publication.post_id == post_id) == 0  # withdrawn
    # The same options again: nothing changes, no new revision.
    with tenant_scope(world.agency_id):
        post = tenant_get(Post, post_id)
        assert services.update_post(post, _client(world), {"options": {"x": {
            "thread": [" Deux", "Trois "]}}}, world.owner.user_id) is False


def test_options_of_a_network_no_longer_targeted_are_dropped(world, read):
    post_id = make_post(world, targets=[world.x_id, world.sandbox_id],
                        options={"x": {"thread": ["Deux"]}})
    with tenant_scope(world.agency_id):
        post = tenant_get(Post, post_id)
        services.update_post(post, _client(world), {"target_ids": [world.sandbox_id]},
                             world.owner.user_id)
        db.session.flush()
    post = read.post(post_id)
    assert post.options == {}
    assert "options" not in read.revisions(post_id)[-1].content


def test_refused_options_write_nothing(world, read):
    before = read.state()
    with tenant_scope(world.agency_id), pytest.raises(ServiceError) as caught:
        services.create_post(_client(world), {
            "text": "Bonjour", "target_ids": [world.x_id],
            "scheduled_at": datetime.now(UTC) + timedelta(days=2),
            "options": {"x": {"thread": ["a" * 300]}}}, world.owner.user_id)
    assert caught.value.field == "options.x.thread"
    assert read.state() == before


def test_an_offer_that_ends_before_the_post_goes_out_is_refused(world):
    google = _account(world, "google_business")
    with tenant_scope(world.agency_id), pytest.raises(ServiceError) as caught:
        services.create_post(_client(world), {
            "text": "Promo", "target_ids": [google],
            "scheduled_at": datetime(NEXT_YEAR, 3, 20, 8, tzinfo=UTC),
            "options": {"google_business": OFFER}}, world.owner.user_id)
    assert caught.value.field == "options.google_business.event.end"

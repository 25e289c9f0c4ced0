"""The Google Business Profile adapter against the fake Google, over real loopback HTTP:
the LocalPost of each kind of post (checked against the v4 reference,
developers.google.com/my-business/reference/rest/v4/accounts.locations.localPosts), the
options refused before anything is sent, find and metrics. Failures and tokens:
test_google_business_errors.py."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from agency.networks import google_business
from agency.networks.base import (
    AuthExpiredError,
    Outgoing,
    OutgoingMedia,
    PermanentError,
    Published,
    RetryableError,
)
from agency.networks.google_api import credentials_from
from agency.networks.google_business import GoogleBusinessNetwork
from agency.networks.registry import adapter_for
from tests.fakes.google_business import (
    FakeGoogle,
    fake_google,  # noqa: F401 (fixture)
)

TEXT = "Nouveau : la galette des rois est arrivée !"
PHOTO_URL = "https://relais.example/m/signed-token"


@pytest.fixture
def fake(app, fake_google):  # noqa: F811
    fake_google.hang_seconds = 1.5
    app.config["NETWORK_TIMEOUT_SECONDS"] = 0.5  # restored by the fixture's monkeypatch
    fake_google.location = fake_google.add_location(
        "Boulangerie Martin", locality="Lyon", lines=("12 rue Mercière",), postal_code="69002")
    fake_google.account = fake_google.add_account("Martin SARL", fake_google.location)
    fake_google.user = fake_google.add_user(fake_google.account)
    with app.app_context():
        yield fake_google


def credentials(fake: FakeGoogle, **overrides) -> dict:
    return {**credentials_from(fake.tokens_for(fake.user)), **overrides}


def outgoing(fake: FakeGoogle, *, text=TEXT, media=(), options=None, scheduled_at=None,
             creds=None) -> Outgoing:
    return Outgoing(
        publication_id=uuid.uuid4(), account_id=uuid.uuid4(), network="google_business",
        text=text, media=tuple(media), first_comment="", scheduled_at=scheduled_at,
        idempotency_key=uuid.uuid4().hex, options=dict(options or {}),
        settings={"account": fake.account.name, "location": fake.location.name,
                  "title": "Boulangerie Martin", "maps_uri": fake.location.maps_uri},
        credentials=creds if creds is not None else credentials(fake))


def photo(url=PHOTO_URL, kind="image") -> OutgoingMedia:
    return OutgoingMedia(sha256="0" * 64, mime="image/jpeg", kind=kind, data=b"jpeg",
                         filename="galette.jpg", url=url)


def created(fake: FakeGoogle) -> list[dict]:
    return [r for r in fake.requests if r["method"] == "POST" and r["path"] != "/token"]


def token_calls(fake: FakeGoogle) -> list[dict]:
    return [r for r in fake.requests if r["path"] == "/token"]


def test_the_registry_knows_google_business_and_its_promises():
    adapter = adapter_for("google_business")
    assert isinstance(adapter, GoogleBusinessNetwork)
    assert adapter.idempotent_publish is False and adapter.authoritative_find is False


# --- request shapes -----------------------------------------------------------------------

def test_a_whats_new_post_is_a_standard_local_post_in_french(fake):
    sent = outgoing(fake)
    published = GoogleBusinessNetwork().publish(sent)
    [post] = fake.posts
    assert published == Published(post["name"], post["searchUrl"])
    assert post["name"].startswith(f"{fake.account.name}/{fake.location.name}/localPosts/")
    [request] = created(fake)
    # POST https://mybusiness.googleapis.com/v4/{parent=accounts/*/locations/*}/localPosts
    assert request["path"] == f"/v4/{fake.account.name}/{fake.location.name}/localPosts"
    assert request["headers"]["Authorization"] == f"Bearer {sent.credentials['access_token']}"
    assert request["content_type"].startswith("application/json")
    assert request["json"] == {"languageCode": "fr", "summary": TEXT, "topicType": "STANDARD"}
    assert request["args"] == {}  # no token in the URL


def test_the_language_option_is_the_posts_language(fake):
    GoogleBusinessNetwork().publish(outgoing(fake, options={"language": "en-GB"}))
    assert created(fake)[0]["json"]["languageCode"] == "en-GB"


@pytest.mark.parametrize("kind", ["BOOK", "ORDER", "SHOP", "LEARN_MORE", "SIGN_UP"])
def test_a_button_carries_its_type_and_link(fake, kind):
    GoogleBusinessNetwork().publish(outgoing(fake, options={
        "cta": {"type": kind.lower(), "url": "https://boulangerie-martin.fr/commande"}}))
    assert created(fake)[0]["json"]["callToAction"] == {
        "actionType": kind, "url": "https://boulangerie-martin.fr/commande"}


def test_a_call_button_has_no_link(fake):
    # "The URL the user will be directed to upon clicking. This field should be left
    # unset for Call CTA." (CallToAction)
    GoogleBusinessNetwork().publish(outgoing(fake, options={
        "cta": {"type": "CALL", "url": "https://left.over/from-the-form"}}))
    assert created(fake)[0]["json"]["callToAction"] == {"actionType": "CALL"}


def test_an_event_carries_its_title_and_schedule(fake):
    GoogleBusinessNetwork().publish(outgoing(fake, options={
        "topic": "event", "cta": {"type": "BOOK", "url": "https://boulangerie-martin.fr/atelier"},
        "event": {"title": "Atelier galettes", "start": "2031-01-05T14:30",
                  "end": "2031-01-05T17:00:00+01:00"}}))
    body = created(fake)[0]["json"]
    assert body["topicType"] == "EVENT"
    # LocalPostEvent {title, schedule: TimeInterval {startDate, startTime, endDate,
    # endTime}}, Date {year, month, day}, TimeOfDay {hours, minutes, seconds, nanos}.
    assert body["event"] == {"title": "Atelier galettes", "schedule": {
        "startDate": {"year": 2031, "month": 1, "day": 5},
        "startTime": {"hours": 14, "minutes": 30, "seconds": 0, "nanos": 0},
        "endDate": {"year": 2031, "month": 1, "day": 5},
        "endTime": {"hours": 17, "minutes": 0, "seconds": 0, "nanos": 0}}}
    assert body["callToAction"]["actionType"] == "BOOK"
    assert "offer" not in body


def test_an_offer_carries_its_dates_and_offer_and_no_button(fake):
    GoogleBusinessNetwork().publish(outgoing(fake, options={
        "topic": "OFFER", "cta": {"type": "ORDER", "url": "https://x.fr"},
        "event": {"title": "-20 % sur les galettes", "start": "2031-01-02",
                  "end": "2031-01-31"},
        "offer": {"coupon_code": "GALETTE20", "redeem_url": "https://x.fr/offre",
                  "terms": "Une par client."}}))
    body = created(fake)[0]["json"]
    assert body["topicType"] == "OFFER"
    assert body["offer"] == {"couponCode": "GALETTE20", "redeemOnlineUrl": "https://x.fr/offre",
                             "termsConditions": "Une par client."}
    # A date alone is the whole day.
    assert body["event"]["schedule"]["startTime"] == {"hours": 0, "minutes": 0, "seconds": 0,
                                                      "nanos": 0}
    assert body["event"]["schedule"]["endTime"]["hours"] == 23
    # "callToAction … Ignored for topic type OFFER": not sent.
    assert "callToAction" not in body


def test_googles_own_offer_field_names_are_read_too(fake):
    GoogleBusinessNetwork().publish(outgoing(fake, options={
        "topic": "OFFER", "event": {"title": "Offre", "start": "2031-01-02", "end": "2031-01-03"},
        "offer": {"couponCode": "A1", "termsConditions": "Sur place."}}))
    assert created(fake)[0]["json"]["offer"] == {"couponCode": "A1",
                                                 "termsConditions": "Sur place."}


def test_one_photo_is_sent_as_a_source_url_for_google_to_fetch(fake):
    GoogleBusinessNetwork().publish(outgoing(fake, media=[photo()]))
    assert created(fake)[0]["json"]["media"] == [{"mediaFormat": "PHOTO",
                                                 "sourceUrl": PHOTO_URL}]


def test_a_photo_without_public_url_is_refused_with_the_fix(fake):
    with pytest.raises(PermanentError) as caught:
        GoogleBusinessNetwork().publish(outgoing(fake, media=[photo(url="")]))
    assert "PUBLIC_URL" in caught.value.reason
    assert fake.requests == []


@pytest.mark.parametrize(("options", "media", "words"), [
    ({"topic": "ALERT"}, (), "news, an event or an offer"),
    ({"cta": {"type": "BUY", "url": "https://x.fr"}}, (), "Book, Order"),
    ({"cta": {"type": "BOOK"}}, (), "button's link"),
    ({"cta": {"type": "BOOK", "url": "ftp://x.fr"}}, (), "button's link"),
    ({"cta": "BOOK"}, (), "damaged"),
    ({"topic": "EVENT"}, (), "needs a title, a start and an end"),
    ({"topic": "OFFER", "event": {"title": "x", "start": "2031-01-02"}}, (),
     "needs a title, a start and an end"),
    ({"topic": "EVENT", "event": {"title": "x", "start": "2031-01-05T18:00",
                                  "end": "2031-01-05T09:00"}}, (), "ends before it starts"),
    ({"topic": "EVENT", "event": {"title": "x", "start": "demain", "end": "2031-01-05"}}, (),
     "start date"),
    ({"topic": "EVENT", "event": {"title": "x", "start": "2020-01-01", "end": "2020-01-02"}}, (),
     "already over"),
    ({"topic": "OFFER", "event": {"title": "x", "start": "2031-01-02", "end": "2031-01-03"},
      "offer": {"redeem_url": "www.x.fr"}}, (), "offer's link"),
    ({"language": "français"}, (), "language code"),
    ({}, (photo(), photo()), "one photo"),
    ({}, (photo(kind="video"),), "no video"),
])
def test_bad_options_are_refused_before_anything_is_sent(fake, options, media, words):
    with pytest.raises(PermanentError) as caught:
        GoogleBusinessNetwork().publish(outgoing(fake, options=options, media=media))
    assert words in caught.value.reason
    assert fake.requests == []


def test_an_empty_post_is_refused(fake):
    with pytest.raises(PermanentError):
        GoogleBusinessNetwork().publish(outgoing(fake, text="  "))
    assert fake.requests == []


def test_a_location_without_its_ids_needs_reconnecting(fake):
    sent = outgoing(fake)
    with pytest.raises(AuthExpiredError):
        GoogleBusinessNetwork().publish(Outgoing(**{**sent.__dict__, "settings": {}}))
    assert fake.requests == []


def test_a_post_google_rejects_is_refused_plainly(fake):
    fake.new_post_state = "REJECTED"
    with pytest.raises(PermanentError) as caught:
        GoogleBusinessNetwork().publish(outgoing(fake))
    assert "content policies" in caught.value.reason


# --- find and metrics ---------------------------------------------------------------------

def test_find_matches_the_exact_summary_and_topic_only(fake):
    sent = outgoing(fake, scheduled_at=datetime.now(UTC))
    adapter = GoogleBusinessNetwork()
    adapter.publish(outgoing(fake, text=TEXT + " (autre)"))
    adapter.publish(outgoing(fake, options={"topic": "EVENT", "event": {
        "title": "x", "start": "2031-01-02", "end": "2031-01-03"}}))
    assert adapter.find(sent) is None
    adapter.publish(sent)
    assert adapter.find(sent).external_id == fake.posts[-1]["name"]
    listing = [r for r in fake.requests if r["method"] == "GET"][-1]
    assert listing["path"] == f"/v4/{fake.account.name}/{fake.location.name}/localPosts"
    assert listing["args"]["pageSize"] == ["100"]


def test_find_ignores_posts_before_the_scheduled_time(fake):
    GoogleBusinessNetwork().publish(outgoing(fake))
    later = outgoing(fake, scheduled_at=datetime.now(UTC) + timedelta(hours=1))
    assert GoogleBusinessNetwork().find(later) is None


def test_find_follows_the_pages(fake, monkeypatch):
    monkeypatch.setattr(google_business, "FIND_PAGE_SIZE", 2)
    sent = outgoing(fake, scheduled_at=datetime.now(UTC))
    adapter = GoogleBusinessNetwork()
    adapter.publish(sent)
    for n in range(3):  # newer posts push it to the second page
        adapter.publish(outgoing(fake, text=f"Autre {n}"))
    assert adapter.find(sent).external_id == fake.posts[0]["name"]
    tokens = [r["args"].get("pageToken") for r in fake.requests if r["method"] == "GET"]
    assert tokens == [None, ["2"]]


def test_find_when_google_cannot_list_is_asked_again_later(fake):
    fake.fail_next(400, "FAILED_PRECONDITION", message="Location is not verified.")
    with pytest.raises(RetryableError):
        GoogleBusinessNetwork().find(outgoing(fake, scheduled_at=datetime.now(UTC)))


def test_metrics_are_none_since_google_removed_post_insights(fake):
    published = GoogleBusinessNetwork().publish(outgoing(fake))
    before = len(fake.requests)
    assert GoogleBusinessNetwork().fetch_metrics(outgoing(fake), published.external_id) == {}
    assert len(fake.requests) == before  # nobody asked

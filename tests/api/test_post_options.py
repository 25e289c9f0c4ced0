"""Per-network options through the API: accepted and returned in their stored form,
refused with the service's message on the field (422, nothing written), bound to the
content hash, said in words by the revision diff, and documented."""

from __future__ import annotations

import pytest

from agency.content.models import Post, Revision

from .conftest import assert_problem
from .test_posts import account, count, draft, future

THREAD = {"x": {"thread": ["Second post", "Third post"]}}


@pytest.fixture
def x(db, world):
    return account(db, world, world.client_id, "x", "Boulangerie on X")


@pytest.fixture
def google(db, world):
    return account(db, world, world.client_id, "google_business", "Boulangerie on Maps")


def _offer(days_from: float = 1, days_to: float = 10) -> dict:
    return {"topic": "OFFER", "event": {"title": "-10 % on bread",
                                        "start": future(days_from, offset_hours=1),
                                        "end": future(days_to, offset_hours=-5)},
            "offer": {"coupon_code": "PAIN10", "redeem_url": "https://example.com/o"}}


def test_options_are_stored_and_returned(client, db, world, owner, x, google):
    post = draft(client, owner, world.client_id, x, target_ids=[str(x), str(google)],
                 scheduled_at=future(2), options={**THREAD, "google_business": _offer()})
    google_options = post["options"]["google_business"]
    # Google gets the client's language; the times are put in the client's zone (Paris).
    assert google_options["language"] == "fr"
    assert google_options["event"]["end"].endswith(("+01:00", "+02:00"))
    assert post["options"]["x"] == THREAD["x"]
    revisions = client.get(f"/api/v1/posts/{post['id']}/revisions", headers=owner).get_json()
    assert revisions[0]["content"]["options"] == post["options"]
    assert client.get(f"/api/v1/posts/{post['id']}", headers=owner).get_json() == post


def test_a_post_without_options_has_none(client, world, owner, x):
    post = draft(client, owner, world.client_id, x)
    assert post["options"] == {}
    revisions = client.get(f"/api/v1/posts/{post['id']}/revisions", headers=owner).get_json()
    assert "options" not in revisions[0]["content"]


def test_changing_the_options_makes_a_revision_and_the_diff_says_it(client, world, owner, x):
    post = draft(client, owner, world.client_id, x, options=THREAD)
    changed = client.patch(f"/api/v1/posts/{post['id']}", headers=owner,
                           json={"options": {"x": {"thread": ["Second post"]}}})
    assert changed.status_code == 200, changed.get_data(as_text=True)
    edited = changed.get_json()
    assert edited["revision_number"] == 2 and edited["content_hash"] != post["content_hash"]
    # Other fields sent alone keep the options.
    kept = client.patch(f"/api/v1/posts/{post['id']}", headers=owner, json={"text": "New"})
    assert kept.get_json()["options"] == {"x": {"thread": ["Second post"]}}
    diff = client.get(f"/api/v1/posts/{post['id']}/revisions/diff?from=1&to=2",
                      headers=owner).get_json()
    [change] = diff["changes"]
    assert change["field"] == "options"
    assert "-[X] Thread of 3 posts" in change["lines"]
    assert "+[X] Thread of 2 posts" in change["lines"]
    assert "-[X] Post 3: Third post" in change["lines"]


@pytest.mark.parametrize(("options", "field", "words"), [
    ({"x": {"thread": ["a" * 281]}}, "options.x.thread", "Post 2 of the thread is too long"),
    ({"x": {"thread": "one"}}, "options.x.thread", "list of texts"),
    ({"x": {"threads": []}}, "options.x.threads", "Unknown option"),
    ({"facebook": {"place_id": "1"}}, "options.facebook", "does not target"),
    ({"google_business": {"cta": {"type": "BOOK", "url": "http://example.com"}}},
     "options.google_business.cta.url", "https://"),
    ({"google_business": {"topic": "EVENT", "event": {
        "title": "Fête", "start": "2031-01-01T10:00:00", "end": "2031-01-01T12:00:00+01:00"}}},
     "options.google_business.event.start", "UTC offset"),
    ({"x": "thread"}, "options.x", "object"),
])
def test_bad_options_answer_422_on_their_field(client, db, world, owner, x, google, options,
                                               field, words):
    before = count(db, world, Post), count(db, world, Revision)
    body = assert_problem(client.post(f"/api/v1/clients/{world.client_id}/posts",
                                      headers=owner, json={
                                          "text": "Bread", "options": options,
                                          "target_ids": [str(x), str(google)]}), 422)
    assert list(body["errors"]) == [field]
    assert words in body["errors"][field][0]
    assert (count(db, world, Post), count(db, world, Revision)) == before


def test_a_refused_change_of_options_leaves_the_post_as_it_was(client, world, owner, x):
    post = draft(client, owner, world.client_id, x, options=THREAD)
    body = assert_problem(client.patch(f"/api/v1/posts/{post['id']}", headers=owner, json={
        "options": {"x": {"thread": ["🥖" * 141]}}}), 422)
    assert list(body["errors"]) == ["options.x.thread"]
    assert client.get(f"/api/v1/posts/{post['id']}", headers=owner).get_json() == post


def test_options_that_are_not_an_object_are_refused_by_the_schema(client, world, owner, x):
    body = assert_problem(client.post(f"/api/v1/clients/{world.client_id}/posts",
                                      headers=owner, json={
                                          "text": "Bread", "options": ["x"],
                                          "target_ids": [str(x)]}), 422)
    assert "options" in body["errors"]


def test_the_openapi_document_describes_the_options(client):
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    for name in ("Post", "PostCreate", "PostUpdate"):
        options = schemas[name]["properties"]["options"]
        assert set(options["properties"]) == {"google_business", "instagram", "facebook", "x"}
        assert options["additionalProperties"] is False
    google = schemas["PostCreate"]["properties"]["options"]["properties"]["google_business"]
    assert google["properties"]["topic"]["enum"] == ["STANDARD", "EVENT", "OFFER"]
    assert google["properties"]["cta"]["properties"]["type"]["enum"] == [
        "BOOK", "ORDER", "SHOP", "LEARN_MORE", "SIGN_UP", "CALL"]
    thread = schemas["PostCreate"]["properties"]["options"]["properties"]["x"]["properties"]
    assert thread["thread"]["maxItems"] == 25

"""The Graph client's own promises against the fake Graph API: appsecret_proof on every
call made with a token ("Securing Graph API Requests": HMAC-SHA256 of the access token
keyed with the app secret, hex) and Facebook's refusals of a missing or wrong one; paging
through ``paging.next`` ("Paginated Results"); find through a paged feed; metrics."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from agency.networks.base import PermanentError
from agency.networks.facebook import AppSecretRefused, FacebookGraph, FacebookNetwork
from agency.networks.facebook_graph import appsecret_proof, next_query
from tests.fakes.facebook import APP_SECRET, FakeFacebook, fake_facebook  # noqa: F401 (fixture)
from tests.networks.test_facebook_adapter import TEXT, outgoing, with_page


@pytest.fixture
def fake(app, fake_facebook):  # noqa: F811
    with app.app_context():
        yield with_page(app, fake_facebook)


def documented_proof(token: str, secret: str) -> str:
    # The documented recipe, written out independently of the code under test:
    # hash_hmac('sha256', $access_token, $app_secret).
    return hmac.new(secret.encode("utf-8"), token.encode("utf-8"), hashlib.sha256).hexdigest()


def graph_requests(fake: FakeFacebook) -> list[dict]:
    return [r for r in fake.requests if r["path"] != "/oauth/access_token"]


# --- appsecret_proof ----------------------------------------------------------------------

def test_the_proof_is_the_documented_hmac():
    assert appsecret_proof("EAAtoken", "s3cret") == documented_proof("EAAtoken", "s3cret")
    assert len(appsecret_proof("EAAtoken", "s3cret")) == 64  # hex of SHA-256


def test_every_call_with_a_token_carries_its_proof(fake):
    adapter = FacebookNetwork()
    published = adapter.publish(outgoing(fake, first_comment="Merci",
                                         scheduled_at=datetime.now(UTC)))
    adapter.find(outgoing(fake, scheduled_at=datetime.now(UTC) - timedelta(minutes=1)))
    adapter.fetch_metrics(outgoing(fake), published.external_id)
    calls = graph_requests(fake)
    assert {(r["method"], r["path"].split("/")[-1]) for r in calls} >= {
        ("POST", "feed"), ("POST", "comments"), ("GET", "feed"),
        ("GET", published.external_id)}
    expected = documented_proof(fake.page.token, APP_SECRET)
    assert all(r["args"]["appsecret_proof"] == [expected] for r in calls)
    assert all(r["args"]["access_token"] == [fake.page.token] for r in calls)


def test_no_app_secret_no_proof(fake, app):
    app.config["FACEBOOK_APP_SECRET"] = ""  # restored by the fixture's monkeypatch
    fake.require_proof = False
    FacebookNetwork().publish(outgoing(fake))
    [request] = graph_requests(fake)
    assert "appsecret_proof" not in request["args"]


def test_an_app_that_requires_the_proof_refuses_without_it(fake, app):
    app.config["FACEBOOK_APP_SECRET"] = ""
    with pytest.raises(AppSecretRefused) as caught:
        FacebookNetwork().publish(outgoing(fake))
    assert "require an appsecret_proof" in caught.value.reason
    assert "FACEBOOK_APP_SECRET" in caught.value.reason
    assert fake.page.token not in caught.value.reason + caught.value.detail
    assert fake.posts == []


def test_a_wrong_app_secret_is_refused_for_the_administrator_to_fix(fake, app):
    app.config["FACEBOOK_APP_SECRET"] = "not-the-secret"
    with pytest.raises(PermanentError) as caught:
        FacebookNetwork().publish(outgoing(fake))
    assert isinstance(caught.value, AppSecretRefused)
    assert "Invalid appsecret_proof" in caught.value.reason
    assert fake.posts == []


def test_the_fake_checks_the_proof_like_graph(fake):
    base = f"{fake.url}/v21.0/{fake.page.id}/feed"
    missing = httpx.get(base, params={"access_token": fake.page.token}).json()["error"]
    assert (missing["code"], missing["type"]) == (100, "GraphMethodException")
    wrong = httpx.get(base, params={"access_token": fake.page.token,
                                    "appsecret_proof": "0" * 64}).json()["error"]
    assert "Invalid appsecret_proof" in wrong["message"]
    right = httpx.get(base, params={"access_token": fake.page.token,
                                    "appsecret_proof": fake.proof(fake.page.token)})
    assert right.status_code == 200 and "data" in right.json()


# --- paging -------------------------------------------------------------------------------

def test_next_query_keeps_the_cursor_and_drops_our_own_secrets():
    body = {"data": [], "paging": {"cursors": {"after": "QVFI"}, "next": (
        "https://graph.facebook.com/v21.0/me/accounts?access_token=EAAx&limit=100"
        "&appsecret_proof=abc&after=QVFI&fields=id%2Cname")}}
    assert next_query(body) == {"limit": "100", "after": "QVFI", "fields": "id,name"}
    assert next_query({"data": [], "paging": {"cursors": {"after": "x"}}}) is None
    assert next_query({"data": []}) is None


def test_pages_follow_next_until_there_is_none(fake):
    fake.feed_page_size = 2
    for n in range(5):
        FacebookNetwork().publish(outgoing(fake, text=f"Post {n}"))
    fake.requests.clear()
    with FacebookGraph(fake.page.token) as graph:
        pages = list(graph.pages(f"/{fake.page.id}/feed", max_pages=10,
                                 params={"limit": 100, "fields": "id,message"}))
    assert [[p["message"] for p in page] for page in pages] == [
        ["Post 4", "Post 3"], ["Post 2", "Post 1"], ["Post 0"]]
    reads = graph_requests(fake)
    assert [r["args"].get("after") is None for r in reads] == [True, False, False]
    # Each page is asked of our own Graph URL, with its own token and proof.
    assert all(r["args"]["appsecret_proof"] == [fake.proof(fake.page.token)] for r in reads)


def test_pages_stop_at_their_bound(fake):
    fake.feed_page_size = 1
    for n in range(4):
        FacebookNetwork().publish(outgoing(fake, text=f"Post {n}"))
    with FacebookGraph(fake.page.token) as graph:
        pages = list(graph.pages(f"/{fake.page.id}/feed", max_pages=2, params={}))
    assert len(pages) == 2


# --- find and metrics ---------------------------------------------------------------------

def test_find_matches_the_exact_message_only(fake):
    sent = outgoing(fake, scheduled_at=datetime.now(UTC))
    FacebookNetwork().publish(outgoing(fake, text=TEXT + " (autre)"))
    assert FacebookNetwork().find(sent) is None
    FacebookNetwork().publish(sent)
    assert FacebookNetwork().find(sent).external_id == fake.posts[-1]["id"]
    [query] = [r["args"] for r in fake.requests if r["method"] == "GET"][-1:]
    assert query["fields"] == ["id,message,created_time,permalink_url"]
    assert query["limit"] == ["100"]  # the feed's documented maximum
    assert int(query["since"][0]) <= int(sent.scheduled_at.timestamp()) - 300


def test_find_reads_past_the_first_page(fake):
    fake.feed_page_size = 3
    sent = outgoing(fake, scheduled_at=datetime.now(UTC))
    FacebookNetwork().publish(sent)
    for n in range(7):  # newer posts push it to the third page
        FacebookNetwork().publish(outgoing(fake, text=f"Plus récent {n}"))
    fake.requests.clear()
    found = FacebookNetwork().find(sent)
    assert found is not None and found.external_id == fake.posts[0]["id"]
    assert len([r for r in fake.requests if r["method"] == "GET"]) == 3


def test_find_stops_at_its_bound(fake, monkeypatch):
    from agency.networks import facebook

    monkeypatch.setattr(facebook, "FIND_MAX_PAGES", 2)
    fake.feed_page_size = 2
    sent = outgoing(fake, scheduled_at=datetime.now(UTC))
    FacebookNetwork().publish(sent)
    for n in range(6):
        FacebookNetwork().publish(outgoing(fake, text=f"Plus récent {n}"))
    fake.requests.clear()
    assert FacebookNetwork().find(sent) is None
    assert len([r for r in fake.requests if r["method"] == "GET"]) == 2


def test_find_ignores_posts_before_the_scheduled_time(fake):
    FacebookNetwork().publish(outgoing(fake))
    later = outgoing(fake, scheduled_at=datetime.now(UTC) + timedelta(hours=1))
    assert FacebookNetwork().find(later) is None


def test_metrics_read_the_summaries(fake):
    published = FacebookNetwork().publish(outgoing(fake, first_comment="Merci"))
    fake.posts[0]["reactions"], fake.posts[0]["shares"] = 7, 2
    assert FacebookNetwork().fetch_metrics(outgoing(fake), published.external_id) == {
        "reactions": 7, "comments": 1, "shares": 2}


def test_the_fake_refuses_unknown_tokens_like_graph(fake):
    answer = httpx.get(f"{fake.url}/v21.0/{fake.page.id}/feed",
                       params={"access_token": "nope"})
    assert answer.json()["error"]["code"] == 190

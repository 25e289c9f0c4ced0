"""A client-area session is refused everywhere staff work, and staff sessions never
reach a client area: the guard answers 403, and without it the staff views' own
checks (require(), current_membership()) still refuse, since the session carries no
membership."""

from __future__ import annotations

import pytest

from agency.clientarea import guard
from agency.clients.models import Contact
from agency.content.models import Post
from tests.factories import login

from .conftest import send_posts, sign_in


def _staff_requests(world, post_id, contact_id):
    client_id = world.client.id  # the contact's own client: still not theirs to manage
    return [
        ("GET", "/clients"),
        ("GET", f"/clients/{client_id}"),
        ("GET", f"/clients/{client_id}/posts"),
        ("GET", f"/clients/{client_id}/posts/new"),
        ("GET", f"/posts/{post_id}"),
        ("POST", f"/posts/{post_id}/comments"),
        ("POST", f"/posts/{post_id}/submit"),
        ("GET", f"/clients/{client_id}/calendar"),
        ("GET", "/calendar"),
        ("GET", f"/clients/{client_id}/media"),
        ("GET", "/team"),
        ("POST", "/team/invitations"),
        ("GET", "/audit"),
        ("GET", "/settings"),
        ("POST", "/settings/tokens"),
        ("POST", f"/clients/{client_id}/contacts/new"),
        ("POST", f"/clients/{client_id}/contacts/{contact_id}/sign-in/revoke"),
        ("POST", f"/clients/{client_id}/contacts/{contact_id}/sign-in/invite"),
        ("GET", f"/clients/{client_id}/approval-settings"),
    ]


def _api_requests(world, post_id):
    return [("GET", "/api/v1/clients"), ("GET", f"/api/v1/clients/{world.client.id}"),
            ("GET", f"/api/v1/posts/{post_id}"), ("GET", "/api/v1/me")]


@pytest.fixture
def signed_in(app, db, client, world, sophie):
    sent = send_posts(app, db, world)
    sign_in(client, sophie.email)
    return sent


def test_staff_pages_answer_403_to_a_contact(app, db, client, world, sophie, signed_in, read):
    post_id = signed_in.post_ids[0]
    before = read.one(Post, post_id).status
    for method, url in _staff_requests(world, post_id, sophie.contact_id):
        response = client.open(url, method=method, data={"body": "x", "name": "y"})
        assert response.status_code == 403, f"{method} {url} -> {response.status_code}"
    assert read.one(Post, post_id).status == before
    assert read.one(Contact, sophie.contact_id).user_id == sophie.user_id


def test_the_api_does_not_take_the_cookie(app, db, client, world, sophie, signed_in):
    for method, url in _api_requests(world, signed_in.post_ids[0]):
        response = client.open(url, method=method)
        # The API never reads cookies: without a bearer token it is 401, as for anyone.
        assert response.status_code == 401, f"{method} {url}"


def test_without_the_guard_staff_checks_still_refuse(app, db, client, world, sophie,
                                                      signed_in, read, monkeypatch):
    # Every blueprint "allowed": only the staff views' own checks stand in the way.
    monkeypatch.setattr(guard, "OWN_BLUEPRINTS",
                        guard.OWN_BLUEPRINTS | set(app.blueprints))
    post_id = signed_in.post_ids[0]
    for method, url in _staff_requests(world, post_id, sophie.contact_id):
        response = client.open(url, method=method, data={"body": "x", "name": "y"})
        # require() finds no membership (403), current_membership() refuses (401).
        assert response.status_code in (401, 403, 404), f"{method} {url}"
    assert client.get("/client-area").status_code == 200  # still signed in to it
    assert read.one(Contact, sophie.contact_id).user_id == sophie.user_id


def test_staff_sessions_do_not_reach_a_client_area(app, db, client, world, signed_in):
    login(client, world.owner)  # may see the client, but is not its contact
    post_id = signed_in.post_ids[0]
    assert client.get("/client-area").status_code == 404
    assert client.get("/client-area/decisions").status_code == 404
    response = client.post(f"/client-area/posts/{post_id}/decide",
                           data={"decision": "approve", "content_hash": "a" * 64})
    assert response.status_code == 404
    assert client.post("/client-area/approve-all").status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(app, db, client, world):
    response = client.get("/client-area")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_public_pages_stay_open_to_a_contact(app, db, client, world, sophie, signed_in):
    assert client.get("/healthz").status_code == 200
    assert client.get(signed_in.path).status_code == 200  # their portal link still works
    response = client.post("/language", data={"lang": "en", "next": "/client-area"})
    assert response.status_code == 302
    assert client.post("/logout").status_code == 302
    assert client.get("/client-area").status_code == 302  # signed out

"""Approvals through the API: internal review bound to a content hash, approval requests
that e-mail each approving contact their link; and who may reach a post at all."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from agency.approvals.models import ApprovalItem, ApprovalRequest, Decision
from agency.approvals.services import access_for_token
from agency.clients.models import Client, Contact
from agency.clients.services import create_contact
from agency.content.models import Comment, Post
from tenants.context import tenant_scope

from .conftest import assert_problem, bearer, build, token_for
from .test_posts import account, count, draft, future, set_policy


def _submitted(http, headers, client_id, account_id, **fields) -> dict:
    post = draft(http, headers, client_id, account_id, scheduled_at=future(), **fields)
    response = http.post(f"/api/v1/posts/{post['id']}/submit", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _decisions(db, world) -> list[tuple[str, int, str]]:
    with tenant_scope(world.agency_id):
        return [(d.kind.value, d.revision_number, d.comment) for d in db.session.scalars(
            select(Decision).order_by(Decision.created_at, Decision.id))]


# --- internal review --------------------------------------------------------------------

def test_a_manager_approves_internally_and_a_member_may_not(client, db, world, owner):
    set_policy(db, world, world.client_id, "internal_then_client")
    post = _submitted(client, owner, world.client_id, account(db, world, world.client_id))
    assert post["status"] == "in_review"
    url = f"/api/v1/posts/{post['id']}/review"
    review = {"approve": True, "content_hash": post["content_hash"]}

    member = bearer(token_for(db, world, world.member_id))
    assert_problem(client.post(url, json=review, headers=member), 403)
    # 403 is judged before the body: a member learns nothing from sending a bad one.
    assert_problem(client.post(url, json={"approve": "?"}, headers=member), 403)
    assert _decisions(db, world) == []

    manager = bearer(token_for(db, world, world.manager_id))
    approved = client.post(url, json=review, headers=manager)
    assert approved.status_code == 200, approved.get_data(as_text=True)
    assert approved.get_json()["status"] == "awaiting_client"
    assert _decisions(db, world) == [("internal_approved", 1, "")]
    # Already reviewed: the decision no longer applies.
    body = assert_problem(client.post(url, json=review, headers=manager), 409)
    assert body["detail"]


def test_asking_for_changes_needs_a_comment(client, db, world, owner):
    set_policy(db, world, world.client_id, "internal_then_client")
    post = _submitted(client, owner, world.client_id, account(db, world, world.client_id))
    url = f"/api/v1/posts/{post['id']}/review"
    body = assert_problem(client.post(url, json={
        "approve": False, "content_hash": post["content_hash"], "comment": "  "}, headers=owner),
        422)
    assert list(body["errors"]) == ["comment"]
    changed = client.post(url, json={"approve": False, "content_hash": post["content_hash"],
                                     "comment": "Say the price."}, headers=owner)
    assert changed.get_json()["status"] == "changes_requested"
    assert _decisions(db, world) == [("internal_changes", 1, "Say the price.")]
    # Sent back for changes, it can be submitted again.
    again = client.post(f"/api/v1/posts/{post['id']}/submit", headers=owner)
    assert again.get_json()["status"] == "in_review"


def test_a_stale_content_hash_is_a_409_and_changes_nothing(client, db, world, owner):
    set_policy(db, world, world.client_id, "internal_then_client")
    post = _submitted(client, owner, world.client_id, account(db, world, world.client_id))
    seen = post["content_hash"]
    url = f"/api/v1/posts/{post['id']}"
    # Someone edits and resubmits while the reviewer reads the old text.
    client.patch(url, json={"text": "Different bread."}, headers=owner)
    resubmitted = client.post(url + "/submit", headers=owner).get_json()
    assert resubmitted["status"] == "in_review" and resubmitted["content_hash"] != seen

    body = assert_problem(client.post(url + "/review", json={
        "approve": True, "content_hash": seen}, headers=owner), 409)
    assert "changed" in body["detail"]
    assert client.get(url, headers=owner).get_json()["status"] == "in_review"
    assert _decisions(db, world) == []
    ok = client.post(url + "/review", json={"approve": True,
                                            "content_hash": resubmitted["content_hash"]},
                     headers=owner)
    assert ok.get_json()["status"] == "awaiting_client"
    assert _decisions(db, world) == [("internal_approved", 2, "")]


def test_review_of_a_draft_is_a_409(client, db, world, owner):
    post = draft(client, owner, world.client_id, account(db, world, world.client_id))
    assert_problem(client.post(f"/api/v1/posts/{post['id']}/review", headers=owner,
                               json={"approve": True, "content_hash": post["content_hash"]}),
                   409)


def test_bad_review_bodies_are_422(client, db, world, owner):
    set_policy(db, world, world.client_id, "internal_then_client")
    post = _submitted(client, owner, world.client_id, account(db, world, world.client_id))
    url = f"/api/v1/posts/{post['id']}/review"
    for payload, field in [({"content_hash": post["content_hash"]}, "approve"),
                           ({"approve": True}, "content_hash"),
                           ({"approve": True, "content_hash": "abc"}, "content_hash"),
                           ({"approve": True, "content_hash": post["content_hash"],
                             "status": "approved"}, "status")]:
        body = assert_problem(client.post(url, json=payload, headers=owner), 422)
        assert field in body["errors"], payload
    assert client.get(f"/api/v1/posts/{post['id']}", headers=owner).get_json()["status"] \
        == "in_review"


# --- approval requests ------------------------------------------------------------------

def _add_contacts(db, world) -> None:
    with tenant_scope(world.agency_id):
        client = db.session.scalars(select(Client).where(Client.id == world.client_id)).one()
        create_contact(client, {"name": "Antoine", "email": "antoine@example.test",
                                "approves_posts": True})
        create_contact(client, {"name": "Comptable", "email": "compta@example.test"})
        db.session.commit()


def test_an_approval_request_returns_the_links_and_mails_each_approver(app, client, db,
                                                                         world, owner, mail):
    _add_contacts(db, world)
    sandbox = account(db, world, world.client_id)
    first = _submitted(client, owner, world.client_id, sandbox, text="First")
    second = _submitted(client, owner, world.client_id, sandbox, text="Second")
    draft(client, owner, world.client_id, sandbox, text="Not submitted")
    assert mail == []

    response = client.post(f"/api/v1/clients/{world.client_id}/approval-requests",
                           headers=owner)
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["client_id"] == str(world.client_id)
    assert body["expires_at"] > body["created_at"]
    assert {p["id"] for p in body["posts"]} == {first["id"], second["id"]}
    assert [link["contact_name"] for link in body["links"]] == ["Antoine", "Sophie"]
    assert all(link["url"].startswith("http://relais.test/a/") for link in body["links"])
    assert sorted(m.to for m in mail) == ["antoine@example.test", "sophie@agence-alpha.test"]
    for link in body["links"]:
        (sent,) = [m for m in mail if link["url"] in m.text]
        assert "2 publications" in sent.subject  # the client speaks French
    # Each link opens this request for its own contact.
    token = body["links"][1]["url"].rsplit("/", 1)[1]
    with app.test_request_context():
        access = access_for_token(token)
        assert (str(access.request.id), access.contact.id) == (body["id"], world.contact_id)
    with tenant_scope(world.agency_id):
        items = db.session.scalars(select(ApprovalItem)).all()
    assert {(str(i.post_id), i.content_hash) for i in items} == {
        (first["id"], first["content_hash"]), (second["id"], second["content_hash"])}


def test_an_approval_request_for_chosen_posts(client, db, world, owner, mail):
    sandbox = account(db, world, world.client_id)
    first = _submitted(client, owner, world.client_id, sandbox, text="First")
    _submitted(client, owner, world.client_id, sandbox, text="Second")
    response = client.post(f"/api/v1/clients/{world.client_id}/approval-requests",
                           json={"post_ids": [first["id"], first["id"]]}, headers=owner)
    assert response.status_code == 201
    assert [p["id"] for p in response.get_json()["posts"]] == [first["id"]]
    assert len(mail) == 1 and "Une publication à valider" in mail[0].subject


def test_approval_requests_refuse_what_cannot_be_sent(client, db, world, owner, mail):
    sandbox = account(db, world, world.client_id)
    base = f"/api/v1/clients/{world.client_id}/approval-requests"
    body = assert_problem(client.post(base, json={}, headers=owner), 422)  # nothing pending
    assert body["errors"]
    pending = _submitted(client, owner, world.client_id, sandbox)
    unsent = draft(client, owner, world.client_id, sandbox)
    theirs = draft(client, owner, world.other_client_id,
                   account(db, world, world.other_client_id))
    for payload in ({"post_ids": [pending["id"], unsent["id"]]},
                    {"post_ids": [pending["id"], theirs["id"]]},
                    {"post_ids": ["not-a-uuid"]},
                    {"posts": [pending["id"]]}):
        assert_problem(client.post(base, json=payload, headers=owner), 422)
    body = assert_problem(client.post(base, json={"post_ids": [theirs["id"]]}, headers=owner),
                          422)
    assert "post_ids" in body["errors"]

    # No contact approves posts: nobody to send it to.
    with tenant_scope(world.agency_id):
        db.session.scalars(select(Contact)).one().approves_posts = False
        db.session.commit()
    assert_problem(client.post(base, json={}, headers=owner), 422)
    assert count(db, world, ApprovalRequest) == 0
    assert mail == []


def test_approval_requests_are_404_outside_what_one_may_see(client, db, world, owner, mail):
    theirs = account(db, world, world.other_client_id)
    _submitted(client, owner, world.other_client_id, theirs)
    member = bearer(token_for(db, world, world.member_id))
    assert_problem(client.post(f"/api/v1/clients/{world.other_client_id}/approval-requests",
                               json={}, headers=member), 404)
    beta = build(db, "Agence Beta")
    assert_problem(client.post(f"/api/v1/clients/{world.other_client_id}/approval-requests",
                               json={}, headers=bearer(beta.token)), 404)
    assert count(db, world, ApprovalRequest) == 0
    assert mail == []


def test_a_member_may_send_an_assigned_clients_posts(client, db, world, mail):
    member = bearer(token_for(db, world, world.member_id))
    _submitted(client, member, world.client_id, account(db, world, world.client_id))
    response = client.post(f"/api/v1/clients/{world.client_id}/approval-requests",
                           json={}, headers=member)
    assert response.status_code == 201
    assert len(mail) == 1


# --- who may reach a post ---------------------------------------------------------------

def _every_post_route(post_id) -> list[tuple[str, str, dict | None]]:
    url = f"/api/v1/posts/{post_id}"
    return [
        ("GET", url, None), ("PATCH", url, {"text": "Taken"}), ("DELETE", url, None),
        ("POST", url + "/submit", None),
        ("POST", url + "/review", {"approve": True, "content_hash": "0" * 64}),
        ("GET", url + "/revisions", None), ("GET", url + "/revisions/diff?from=1&to=1", None),
        ("GET", url + "/comments", None), ("POST", url + "/comments", {"body": "Hello"}),
    ]


def test_another_agency_gets_404_on_every_post_route(client, db, world, owner):
    sandbox = account(db, world, world.client_id)
    post = draft(client, owner, world.client_id, sandbox, scheduled_at=future())
    beta = build(db, "Agence Beta")
    for method, url, payload in _every_post_route(post["id"]):
        response = client.open(url, method=method, json=payload, headers=bearer(beta.token))
        assert_problem(response, 404)
    for method, url, payload in [
        ("GET", f"/api/v1/clients/{world.client_id}/posts", None),
        ("POST", f"/api/v1/clients/{world.client_id}/posts",
         {"text": "x", "target_ids": [str(sandbox)]}),
        ("GET", f"/api/v1/clients/{world.client_id}/accounts", None),
        ("POST", f"/api/v1/clients/{world.client_id}/accounts",
         {"network": "sandbox", "display_name": "x"}),
        ("POST", f"/api/v1/clients/{world.client_id}/approval-requests", {}),
    ]:
        response = client.open(url, method=method, json=payload, headers=bearer(beta.token))
        assert_problem(response, 404)
    assert client.get(f"/api/v1/posts/{post['id']}", headers=owner).get_json() == post
    assert (count(db, world, Post), count(db, world, Comment)) == (1, 0)


def test_an_unassigned_member_gets_404_on_every_post_route(client, db, world, owner):
    theirs = account(db, world, world.other_client_id)
    post = draft(client, owner, world.other_client_id, theirs, scheduled_at=future())
    member = bearer(token_for(db, world, world.member_id))
    for method, url, payload in _every_post_route(post["id"]):
        assert_problem(client.open(url, method=method, json=payload, headers=member), 404)
    assert client.get(f"/api/v1/posts/{post['id']}", headers=owner).get_json() == post
    assert (count(db, world, Post), count(db, world, Comment)) == (1, 0)


def test_an_unknown_post_is_404(client, world, owner):
    for method, url, payload in _every_post_route(uuid.uuid4()):
        assert_problem(client.open(url, method=method, json=payload, headers=owner), 404)
    assert_problem(client.get("/api/v1/posts/not-a-uuid", headers=owner), 404)


def test_post_routes_need_a_token(client, world):
    for method, url, payload in _every_post_route(uuid.uuid4()):
        assert_problem(client.open(url, method=method, json=payload), 401)

"""Posts through the API: drafts, their checks, lists, submission, revisions, comments,
and social accounts. Who may reach a post: test_approvals."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from agency.clients.models import Client
from agency.content.models import Comment, Post, Revision
from agency.networks.models import SocialAccount
from agency.networks.services import add_account
from tenants.context import tenant_scope

from .conftest import assert_problem, bearer, build, token_for

# --- helpers (also used by test_approvals) ------------------------------------------------

def future(days: float = 3, offset_hours: int = 0) -> str:
    moment = datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)
    return moment.astimezone(timezone(timedelta(hours=offset_hours))).isoformat()


def account(db, world, client_id: uuid.UUID, network: str = "sandbox",
            name: str = "Sandbox") -> uuid.UUID:
    """A connected account of ``client_id``. Only sandbox accounts can be added by hand;
    another network's account is written directly, as its sign-in would."""
    with tenant_scope(world.agency_id):
        client = db.session.scalars(select(Client).where(Client.id == client_id)).one()
        if network == "sandbox":
            row = add_account(client, network, name)
        else:
            row = SocialAccount(client_id=client.id, network=network, display_name=name)
            db.session.add(row)
            db.session.flush()
        db.session.commit()
        return row.id


def draft(http, headers, client_id, account_id, **fields) -> dict:
    payload = {"text": "Fresh bread at 7.", "target_ids": [str(account_id)], **fields}
    response = http.post(f"/api/v1/clients/{client_id}/posts", json=payload, headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def set_policy(db, world, client_id: uuid.UUID, policy: str) -> None:
    with tenant_scope(world.agency_id):
        db.session.scalars(select(Client).where(Client.id == client_id)).one() \
            .approval_policy = policy
        db.session.commit()


def count(db, world, model) -> int:
    with tenant_scope(world.agency_id):
        return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def sandbox(db, world):
    return account(db, world, world.client_id)


# --- create, read, update, delete ---------------------------------------------------------

def test_draft_crud(client, db, world, owner, sandbox):
    created = client.post(f"/api/v1/clients/{world.client_id}/posts", headers=owner, json={
        "text": "  Croissants are back!  ", "labels": ["Promo", "promo ", "Weekend"],
        "target_ids": [str(sandbox)], "scheduled_at": future(3, offset_hours=2),
    })
    assert created.status_code == 201, created.get_data(as_text=True)
    post = created.get_json()
    assert created.headers["Location"].endswith(f"/api/v1/posts/{post['id']}")
    assert post["status"] == "draft" and post["revision_number"] == 1
    assert post["text"] == "Croissants are back!"
    assert post["labels"] == ["Promo", "Weekend"]
    assert post["target_ids"] == [str(sandbox)]
    assert post["targets"] == [{"account_id": str(sandbox), "network": "sandbox",
                                "display_name": "Sandbox", "status": "connected"}]
    assert post["scheduled_at"].endswith("+00:00")  # given at +02:00, answered in UTC
    assert len(post["content_hash"]) == 64
    assert post["client_id"] == str(world.client_id)
    assert post["author_user_id"] == str(world.owner_user_id)
    url = f"/api/v1/posts/{post['id']}"
    assert client.get(url, headers=owner).get_json() == post

    changed = client.patch(url, json={"text": "Croissants and brioches!"}, headers=owner)
    assert changed.status_code == 200
    after = changed.get_json()
    assert after["text"] == "Croissants and brioches!"
    assert after["revision_number"] == 2 and after["content_hash"] != post["content_hash"]
    assert after["labels"] == post["labels"] and after["scheduled_at"] == post["scheduled_at"]
    assert client.get(url, headers=owner).get_json() == after

    # Labels are not published: no new revision. Sending the same text is no change either.
    relabelled = client.patch(url, json={"labels": ["Bakery"], "text": after["text"]},
                              headers=owner).get_json()
    assert relabelled["labels"] == ["Bakery"]
    assert (relabelled["revision_number"], relabelled["content_hash"]) == (2, after["content_hash"])
    unscheduled = client.patch(url, json={"scheduled_at": None}, headers=owner).get_json()
    assert unscheduled["scheduled_at"] is None and unscheduled["revision_number"] == 3

    deleted = client.delete(url, headers=owner)
    assert deleted.status_code == 204 and deleted.get_data() == b""
    assert_problem(client.get(url, headers=owner), 404)
    assert_problem(client.delete(url, headers=owner), 404)
    assert count(db, world, Post) == 0 and count(db, world, Revision) == 0


def test_a_member_writes_posts_for_an_assigned_client(client, db, world, sandbox):
    member = bearer(token_for(db, world, world.member_id))
    post = draft(client, member, world.client_id, sandbox)
    assert client.patch(f"/api/v1/posts/{post['id']}", json={"text": "Edited"},
                        headers=member).status_code == 200


def test_each_targeted_network_checks_its_own_text(client, db, world, owner, sandbox):
    x = account(db, world, world.client_id, "x", "Boulangerie on X")
    long_text = "Pain " * 70  # 350 characters: fine for the sandbox, too long for X
    base = f"/api/v1/clients/{world.client_id}/posts"
    body = assert_problem(client.post(base, headers=owner, json={
        "text": long_text, "target_ids": [str(sandbox), str(x)]}), 422)
    assert list(body["errors"]) == ["text"]
    assert "X" in body["errors"]["text"][0]
    # A shorter variant for X is the way out; the sandbox keeps the long text.
    post = draft(client, owner, world.client_id, sandbox, text=long_text,
                 target_ids=[str(sandbox), str(x)], variants={"x": "Pain frais."})
    assert post["variants"] == {"x": "Pain frais."}
    body = assert_problem(client.patch(f"/api/v1/posts/{post['id']}", headers=owner,
                                       json={"variants": {"x": long_text}}), 422)
    assert list(body["errors"]) == ["variants.x"]
    assert client.get(f"/api/v1/posts/{post['id']}", headers=owner).get_json() == post


@pytest.mark.parametrize(("change", "field"), [
    ({"variants": {"sandbox": "x" * 5001}}, "variants.sandbox"),
    ({"variants": {"myspace": "Hello"}}, "variants.myspace"),
    ({"variants": {"x": "Not targeted"}}, "variants"),
    ({"scheduled_at": "2030-05-01T09:00:00"}, "scheduled_at"),  # naive: whose 9 o'clock?
    ({"scheduled_at": "2001-05-01T09:00:00+02:00"}, "scheduled_at"),
    ({"scheduled_at": "tomorrow"}, "scheduled_at"),
    ({"target_ids": []}, "target_ids"),
    ({"target_ids": ["not-a-uuid"]}, "target_ids"),
    ({"target_ids": [str(uuid.uuid4())]}, "target_ids"),
    ({"text": "   "}, "text"),
    ({"text": "x" * 5001}, "text"),
    ({"first_comment": "y" * 5001}, "first_comment"),
    ({"labels": [f"l{i}" for i in range(11)]}, "labels"),
    ({"labels": ["x" * 41]}, "labels"),
    ({"status": "approved"}, "status"),
    ({"revision_number": 9}, "revision_number"),
])
def test_bad_fields_are_refused_and_nothing_is_written(client, db, world, owner, sandbox,
                                                       change, field):
    before = (count(db, world, Post), count(db, world, Revision))
    body = assert_problem(client.post(
        f"/api/v1/clients/{world.client_id}/posts", headers=owner,
        json={"text": "Bread", "target_ids": [str(sandbox)], **change}), 422)
    assert any(key == field or key.startswith(field + ".") for key in body["errors"]), body
    assert (count(db, world, Post), count(db, world, Revision)) == before

    post = draft(client, owner, world.client_id, sandbox)
    url = f"/api/v1/posts/{post['id']}"
    body = assert_problem(client.patch(url, json={"labels": ["changed"], **change},
                                       headers=owner), 422)
    assert any(key == field or key.startswith(field + ".") for key in body["errors"]), body
    assert client.get(url, headers=owner).get_json() == post
    assert count(db, world, Revision) == before[1] + 1


def test_a_target_account_of_another_client_is_refused(client, db, world, owner, sandbox):
    theirs = account(db, world, world.other_client_id)
    body = assert_problem(client.post(
        f"/api/v1/clients/{world.client_id}/posts", headers=owner,
        json={"text": "Bread", "target_ids": [str(sandbox), str(theirs)]}), 422)
    assert "target_ids" in body["errors"]
    beta = build(db, "Agence Beta")
    foreign = account(db, beta, beta.client_id)
    body = assert_problem(client.post(
        f"/api/v1/clients/{world.client_id}/posts", headers=owner,
        json={"text": "Bread", "target_ids": [str(foreign)]}), 422)
    assert "target_ids" in body["errors"]
    post = draft(client, owner, world.client_id, sandbox)
    body = assert_problem(client.patch(f"/api/v1/posts/{post['id']}", headers=owner,
                                       json={"target_ids": [str(theirs)]}), 422)
    assert "target_ids" in body["errors"]
    assert count(db, world, Post) == 1


def test_malformed_and_non_json_bodies(client, db, world, owner, sandbox):
    base = f"/api/v1/clients/{world.client_id}/posts"
    assert_problem(client.post(base, data='{"text": ', content_type="application/json",
                               headers=owner), 400)
    assert_problem(client.post(base, data="text=Bread", headers=owner,
                               content_type="application/x-www-form-urlencoded"), 415)
    assert count(db, world, Post) == 0


# --- lists ------------------------------------------------------------------------------

def test_list_filters_and_pagination(client, db, world, owner, sandbox):
    base = f"/api/v1/clients/{world.client_id}/posts"
    soon = draft(client, owner, world.client_id, sandbox, text="Soon",
                 scheduled_at=future(1), labels=["Promo"])
    later = draft(client, owner, world.client_id, sandbox, text="Later",
                  scheduled_at=future(10), labels=["promo", "Event"])
    never = draft(client, owner, world.client_id, sandbox, text="Unscheduled")
    middle = draft(client, owner, world.client_id, sandbox, text="Middle",
                   scheduled_at=future(5))
    assert client.post(f"/api/v1/posts/{middle['id']}/submit",
                       headers=owner).status_code == 200
    draft(client, owner, world.other_client_id, account(db, world, world.other_client_id))

    def ids(query=""):
        response = client.get(f"{base}?{query}", headers=owner)
        assert response.status_code == 200, response.get_data(as_text=True)
        return [p["id"] for p in response.get_json()["items"]]

    assert ids() == [soon["id"], middle["id"], later["id"], never["id"]]
    assert ids("status=awaiting_client") == [middle["id"]]
    assert ids("status=draft") == [soon["id"], later["id"], never["id"]]
    assert ids("label=PROMO") == [soon["id"], later["id"]]
    assert ids("label=event") == [later["id"]]
    assert ids("label=nothing") == []
    window = f"from={future(2)}&to={future(7)}".replace("+", "%2B")
    assert ids(window) == [middle["id"]]
    assert ids(f"from={future(2)}".replace("+", "%2B")) == [middle["id"], later["id"]]
    assert ids(f"to={future(7)}&status=draft".replace("+", "%2B")) == [soon["id"]]

    first = client.get(f"{base}?per_page=3&label=promo", headers=owner)
    assert first.get_json()["total"] == 2
    paged = client.get(f"{base}?per_page=3", headers=owner)
    body = paged.get_json()
    assert (body["page"], body["per_page"], body["total"]) == (1, 3, 4)
    assert 'rel="next"' in paged.headers["Link"] and "page=2" in paged.headers["Link"]
    second = client.get(f"{base}?per_page=3&page=2", headers=owner)
    assert [p["id"] for p in second.get_json()["items"]] == [never["id"]]
    assert 'rel="prev"' in second.headers["Link"] and 'rel="next"' not in second.headers["Link"]
    filtered = client.get(f"{base}?per_page=1&status=draft", headers=owner)
    assert "status=draft" in filtered.headers["Link"]


@pytest.mark.parametrize("query", ["status=published", "per_page=101", "page=0",
                                   "from=2030-01-01T00:00:00", "to=soon",
                                   "from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z",
                                   "label=" + "x" * 41])
def test_bad_list_queries_are_refused(client, world, owner, query):
    body = assert_problem(client.get(f"/api/v1/clients/{world.client_id}/posts?{query}",
                                     headers=owner), 422)
    assert set(body["errors"]) <= {"status", "per_page", "page", "from", "to", "label"}
    assert body["errors"]


# --- submission -------------------------------------------------------------------------

@pytest.mark.parametrize(("policy", "status"), [
    ("client", "awaiting_client"), ("internal_then_client", "in_review"), ("none", "approved"),
])
def test_submit_follows_the_clients_policy(client, db, world, owner, sandbox, policy, status):
    set_policy(db, world, world.client_id, policy)
    post = draft(client, owner, world.client_id, sandbox, scheduled_at=future())
    submitted = client.post(f"/api/v1/posts/{post['id']}/submit", headers=owner)
    assert submitted.status_code == 200, submitted.get_data(as_text=True)
    assert submitted.get_json()["status"] == status
    assert submitted.get_json()["content_hash"] == post["content_hash"]
    body = assert_problem(client.post(f"/api/v1/posts/{post['id']}/submit", headers=owner), 409)
    assert "already" in body["detail"]
    assert client.get(f"/api/v1/posts/{post['id']}", headers=owner).get_json()["status"] \
        == status


def test_submit_needs_a_schedule_and_connected_accounts(client, db, world, owner, sandbox):
    post = draft(client, owner, world.client_id, sandbox)
    url = f"/api/v1/posts/{post['id']}"
    body = assert_problem(client.post(url + "/submit", headers=owner), 422)
    assert "scheduled_at" in body["errors"]
    client.patch(url, json={"scheduled_at": future()}, headers=owner)
    with tenant_scope(world.agency_id):
        db.session.scalars(select(SocialAccount)).one().status = "expired"
        db.session.commit()
    assert_problem(client.post(url + "/submit", headers=owner), 422)
    assert client.get(url, headers=owner).get_json()["status"] == "draft"


def test_only_drafts_can_be_deleted(client, db, world, owner, sandbox):
    post = draft(client, owner, world.client_id, sandbox, scheduled_at=future())
    url = f"/api/v1/posts/{post['id']}"
    client.post(url + "/submit", headers=owner)
    body = assert_problem(client.delete(url, headers=owner), 409)
    assert "draft" in body["detail"]
    assert client.get(url, headers=owner).status_code == 200
    # An edit sends it back to draft, which can then go.
    assert client.patch(url, json={"text": "Changed"}, headers=owner).get_json()["status"] \
        == "draft"
    assert client.delete(url, headers=owner).status_code == 204


# --- revisions --------------------------------------------------------------------------

def test_revisions_and_their_diff(client, db, world, owner, sandbox):
    post = draft(client, owner, world.client_id, sandbox, text="One\nTwo")
    url = f"/api/v1/posts/{post['id']}"
    client.patch(url, json={"text": "One\nThree"}, headers=owner)
    member = bearer(token_for(db, world, world.member_id))
    last = client.patch(url, json={"scheduled_at": future()}, headers=member).get_json()

    revisions = client.get(url + "/revisions", headers=owner).get_json()
    assert [r["number"] for r in revisions] == [1, 2, 3]
    assert revisions[0]["content_hash"] == post["content_hash"]
    assert revisions[-1]["content_hash"] == last["content_hash"]
    assert revisions[0]["content"]["text"] == "One\nTwo"
    assert revisions[0]["content"]["targets"] == [str(sandbox)]
    assert revisions[0]["author_user_id"] == str(world.owner_user_id)
    assert revisions[2]["author_user_id"] != str(world.owner_user_id)
    assert all(r["created_at"] for r in revisions)

    diff = client.get(url + "/revisions/diff?from=1&to=2", headers=owner).get_json()
    assert diff["from"] == 1 and diff["to"] == 2
    assert [c["field"] for c in diff["changes"]] == ["text"]
    assert "-Two" in diff["changes"][0]["lines"] and "+Three" in diff["changes"][0]["lines"]
    both = client.get(url + "/revisions/diff?from=1&to=3", headers=owner).get_json()
    assert [c["field"] for c in both["changes"]] == ["text", "scheduled_at"]
    assert both["changes"][1]["before"] is None
    same = client.get(url + "/revisions/diff?from=2&to=2", headers=owner).get_json()
    assert same["changes"] == []

    body = assert_problem(client.get(url + "/revisions/diff?from=1&to=9", headers=owner), 422)
    assert list(body["errors"]) == ["to"]
    body = assert_problem(client.get(url + "/revisions/diff?to=2", headers=owner), 422)
    assert list(body["errors"]) == ["from"]
    assert_problem(client.get(url + "/revisions/diff?from=x&to=2", headers=owner), 422)


# --- comments ---------------------------------------------------------------------------

def test_comments(client, db, world, owner, sandbox):
    post = draft(client, owner, world.client_id, sandbox)
    url = f"/api/v1/posts/{post['id']}/comments"
    assert client.get(url, headers=owner).get_json() == []
    first = client.post(url, json={"body": "  Check the price?  "}, headers=owner)
    assert first.status_code == 201
    assert first.get_json()["visibility"] == "internal"
    assert first.get_json()["body"] == "Check the price?"
    assert first.get_json()["author_user_id"] == str(world.owner_user_id)
    assert first.get_json()["author_label"]
    member = bearer(token_for(db, world, world.member_id))
    second = client.post(url, json={"body": "For Sophie", "visibility": "client"},
                         headers=member).get_json()
    listed = client.get(url, headers=owner).get_json()
    assert [c["id"] for c in listed] == [first.get_json()["id"], second["id"]]
    assert listed[1]["visibility"] == "client"


@pytest.mark.parametrize(("payload", "field"), [
    ({"body": "Hi", "visibility": "public"}, "visibility"),
    ({"body": "   "}, "body"),
    ({}, "body"),
    ({"body": "x" * 5001}, "body"),
    ({"body": "Hi", "author_label": "Someone else"}, "author_label"),
])
def test_bad_comments_are_refused(client, db, world, owner, sandbox, payload, field):
    post = draft(client, owner, world.client_id, sandbox)
    body = assert_problem(client.post(f"/api/v1/posts/{post['id']}/comments", json=payload,
                                      headers=owner), 422)
    assert field in body["errors"]
    assert count(db, world, Comment) == 0


# --- accounts ---------------------------------------------------------------------------

def test_accounts(client, db, world, owner):
    base = f"/api/v1/clients/{world.client_id}/accounts"
    assert client.get(base, headers=owner).get_json() == []
    created = client.post(base, json={"network": "sandbox", "display_name": " Test page ",
                                      "handle": "@test"}, headers=owner)
    assert created.status_code == 201
    body = created.get_json()
    assert (body["network"], body["display_name"], body["status"]) == \
        ("sandbox", "Test page", "connected")
    assert client.get(base, headers=owner).get_json() == [body]
    for payload, field in [({"network": "x", "display_name": "X"}, "network"),
                           ({"network": "myspace", "display_name": "X"}, "network"),
                           ({"network": "sandbox", "display_name": ""}, "display_name"),
                           ({"network": "sandbox"}, "display_name"),
                           ({"network": "sandbox", "display_name": "A", "token": "t"}, "token")]:
        problem = assert_problem(client.post(base, json=payload, headers=owner), 422)
        assert field in problem["errors"], payload
    assert count(db, world, SocialAccount) == 1
    member = bearer(token_for(db, world, world.member_id))
    assert client.post(base, json={"network": "sandbox", "display_name": "Mine"},
                       headers=member).status_code == 201
    other = f"/api/v1/clients/{world.other_client_id}/accounts"
    assert_problem(client.get(other, headers=member), 404)
    assert_problem(client.post(other, json={"network": "sandbox", "display_name": "No"},
                               headers=member), 404)

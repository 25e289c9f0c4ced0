"""Decisions from the client area go through the portal's approval services: bound to
the revision shown, once, told to the agency, audited as the signed-in person."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from agency.approvals.models import Decision, DecisionKind
from agency.audit.models import AuditEvent
from agency.clients.services import create_contact
from agency.content.models import Comment, CommentVisibility, Post, PostStatus
from agency.content.services import update_post
from tenants.context import tenant_scope
from tests.factories import make_world

from .conftest import send_posts, sign_in


def _hash(read, post_id) -> str:
    return read.one(Post, post_id).content_hash


def _decide(client, post_id, content_hash, decision="approve", comment=None):
    data = {"decision": decision, "content_hash": content_hash}
    if comment is not None:
        data["comment"] = comment
    return client.post(f"/client-area/posts/{post_id}/decide", data=data)


@pytest.fixture
def sent(app, db, client, world, sophie):
    sent = send_posts(app, db, world)
    sign_in(client, sophie.email)
    return sent


def test_approving_records_the_decision_on_the_content_shown(app, db, client, world, sophie,
                                                             sent, read, mail):
    post_id = sent.post_ids[0]
    shown = _hash(read, post_id)
    response = _decide(client, post_id, shown)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/client-area#post-{post_id}")
    assert read.one(Post, post_id).status == PostStatus.APPROVED
    [decision] = read.all(Decision)
    assert (decision.kind, decision.content_hash, decision.revision_number,
            decision.contact_id, decision.request_id) == (
        DecisionKind.CLIENT_APPROVED, shown, 1, sophie.contact_id, sent.request_id)
    [event] = read.all(AuditEvent, AuditEvent.action == "approval.decided")
    assert event.actor_user_id == sophie.user_id  # the signed-in person, audited
    assert len(mail) == 1 and "Sophie approved a post" in mail[0].subject  # to the agency
    html = client.get("/client-area").get_data(as_text=True)
    assert "Approved. Thank you!" in html
    assert "2 posts are waiting for your decision." in html


def test_requesting_changes_needs_a_comment(app, db, client, world, sent, read):
    post_id = sent.post_ids[0]
    empty = _decide(client, post_id, _hash(read, post_id), "changes", "  ")
    assert empty.status_code == 422
    assert "Tell the agency what to change." in empty.get_data(as_text=True)
    assert read.one(Post, post_id).status == PostStatus.AWAITING_CLIENT
    response = _decide(client, post_id, _hash(read, post_id), "changes", "Moins de sucre")
    assert response.status_code == 303
    assert read.one(Post, post_id).status == PostStatus.CHANGES_REQUESTED
    [comment] = read.all(Comment)
    assert (comment.body, comment.visibility) == ("Moins de sucre", CommentVisibility.CLIENT)
    assert read.all(Decision)[0].kind == DecisionKind.CLIENT_CHANGES


def test_a_replay_is_refused_with_409(app, db, client, world, sent, read):
    post_id = sent.post_ids[0]
    shown = _hash(read, post_id)
    assert _decide(client, post_id, shown).status_code == 303
    again = _decide(client, post_id, shown)
    assert again.status_code == 409
    assert "no longer waiting for this decision" in again.get_data(as_text=True)
    assert _decide(client, post_id, shown, "changes", "Non").status_code == 409
    assert len(read.all(Decision)) == 1


def test_a_changed_post_needs_a_new_decision(app, db, client, world, sent, read):
    post_id = sent.post_ids[0]
    shown = _hash(read, post_id)
    stale = _decide(client, post_id, "f" * 64)
    assert stale.status_code == 409
    with app.test_request_context(), tenant_scope(world.agency_id):
        post = db.session.scalars(select(Post).where(Post.id == post_id)).one()
        update_post(post, world.client, {"text": "Croissants, nouvelle version"},
                    world.owner.user_id)
        db.session.commit()
    response = _decide(client, post_id, shown)  # the page still open with the old version
    assert response.status_code == 409
    assert read.one(Post, post_id).status == PostStatus.DRAFT
    assert read.all(Decision) == []
    # Sent again, the new revision waits for a decision of its own.
    from agency.approvals.services import send_for_approval
    from agency.content.services import submit_post

    with app.test_request_context(), tenant_scope(world.agency_id):
        post = db.session.scalars(select(Post).where(Post.id == post_id)).one()
        submit_post(post, world.client)
        send_for_approval(world.client, [post], world.owner.user_id)
        db.session.commit()
    assert "nouvelle version" in client.get("/client-area").get_data(as_text=True)
    assert _decide(client, post_id, _hash(read, post_id)).status_code == 303
    [decision] = read.all(Decision)
    assert decision.revision_number == 2


def test_approve_all_approves_what_was_shown(app, db, client, world, sent, read, mail):
    shown = [f"{p}:{_hash(read, p)}" for p in sent.post_ids]
    with app.test_request_context(), tenant_scope(world.agency_id):
        post = db.session.scalars(select(Post).where(Post.id == sent.post_ids[2])).one()
        update_post(post, world.client, {"text": "Fermé lundi et mardi"}, world.owner.user_id)
        db.session.commit()
    response = client.post("/client-area/approve-all", data={"shown": shown})
    assert response.status_code == 303
    statuses = [read.one(Post, p).status for p in sent.post_ids]
    assert statuses == [PostStatus.APPROVED, PostStatus.APPROVED, PostStatus.DRAFT]
    assert len(read.all(Decision)) == 2
    assert len(mail) == 1  # one message to the agency for the batch
    html = client.get("/client-area").get_data(as_text=True)
    assert "2 posts approved. Thank you!" in html
    assert "1 post changed or was already decided" in html


def test_approve_all_across_two_requests(app, db, client, world, sent, read):
    later = send_posts(app, db, world, texts=("Plus tard",))
    ids = [*sent.post_ids, *later.post_ids]
    response = client.post("/client-area/approve-all",
                           data={"shown": [f"{p}:{_hash(read, p)}" for p in ids]})
    assert response.status_code == 303
    assert {read.one(Post, p).status for p in ids} == {PostStatus.APPROVED}
    assert {d.request_id for d in read.all(Decision)} == {sent.request_id, later.request_id}


def test_approve_all_ignores_posts_that_are_not_theirs(app, db, client, world, sent, read):
    with tenant_scope(world.agency_id):
        create_contact(world.other_client, {"name": "Léa", "email": "lea@alpha.test",
                                            "approves_posts": True})
    theirs = send_posts(app, db, world, texts=("Garage",), client=world.other_client)
    other_id = theirs.post_ids[0]
    response = client.post("/client-area/approve-all",
                           data={"shown": [f"{other_id}:{_hash(read, other_id)}"]})
    assert response.status_code == 303
    assert read.one(Post, other_id).status == PostStatus.AWAITING_CLIENT
    assert read.all(Decision) == []


def test_another_clients_or_agencys_post_is_404(app, db, client, world, sent, read):
    with tenant_scope(world.agency_id):
        create_contact(world.other_client, {"name": "Léa", "email": "lea@alpha.test",
                                            "approves_posts": True})
    theirs = send_posts(app, db, world, texts=("Garage",), client=world.other_client)
    beta = make_world("Agence Beta")
    elsewhere = send_posts(app, db, beta, texts=("Ailleurs",))
    other_id = theirs.post_ids[0]
    assert _decide(client, other_id, _hash(read, other_id)).status_code == 404
    beta_hash = read.__class__(db, beta.agency_id).one(Post, elsewhere.post_ids[0]).content_hash
    assert _decide(client, elsewhere.post_ids[0], beta_hash).status_code == 404
    assert read.one(Post, other_id).status == PostStatus.AWAITING_CLIENT


def test_a_contact_who_does_not_approve_cannot_decide(app, db, client, world, sent, read):
    from agency.clients.services import update_contact

    with tenant_scope(world.agency_id):
        update_contact(world.contact, {"approves_posts": False})
        db.session.flush()
    post_id = sent.post_ids[0]
    assert _decide(client, post_id, _hash(read, post_id)).status_code == 404
    assert read.all(Decision) == []


def test_forged_hidden_fields_are_400(app, db, client, world, sent):
    post_id = sent.post_ids[0]
    assert _decide(client, post_id, "not-a-hash").status_code == 400
    assert _decide(client, post_id, "a" * 64, decision="maybe").status_code == 400
    bad = client.post("/client-area/approve-all", data={"shown": ["nope:abc"]})
    assert bad.status_code == 400


def test_decisions_need_the_csrf_token(app, db, client, world, sent, read):
    post_id = sent.post_ids[0]
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = _decide(client, post_id, _hash(read, post_id))
        all_response = client.post("/client-area/approve-all",
                                   data={"shown": [f"{post_id}:{_hash(read, post_id)}"]})
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 400 and all_response.status_code == 400
    assert read.one(Post, post_id).status == PostStatus.AWAITING_CLIENT

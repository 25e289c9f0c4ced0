"""Decisions taken from the portal: bound to the content shown, once, and told to the agency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from agency.approvals.models import ApprovalRequest, Decision, DecisionKind
from agency.audit.models import AuditEvent
from agency.auth.models import User
from agency.clients.models import Client
from agency.clients.services import set_assigned_staff
from agency.content.models import Comment, CommentVisibility, Post, PostStatus
from agency.content.services import submit_post, update_post
from tenants.context import tenant_scope
from tests.approvals.conftest import send_posts
from tests.factories import make_world


def _hash(read, post_id) -> str:
    return read.one(Post, post_id).content_hash


def _approve(client, sent, read, post_id, content_hash=None):
    return client.post(sent.decide_url(post_id), data={
        "decision": "approve", "content_hash": content_hash or _hash(read, post_id)})


def _email(read, membership) -> str:
    return read.one(User, membership.user_id).email


def _edit(app, db, world, post_id, **values) -> None:
    with app.test_request_context(), tenant_scope(world.agency_id):
        post = db.session.get(Post, post_id)
        update_post(post, world.client, values, world.owner.user_id)
        db.session.commit()  # a refused decision rolls its own request back, not this


def test_approving_a_post_records_the_decision_and_comes_back(app, db, client, world, sent,
                                                              read):
    post_id = sent.post_ids[0]
    shown = _hash(read, post_id)
    response = _approve(client, sent, read, post_id)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"{sent.path}#post-{post_id}")
    assert read.one(Post, post_id).status == PostStatus.APPROVED
    decision = read.all(Decision)[0]
    assert (decision.kind, decision.content_hash, decision.contact_id, decision.request_id) == (
        DecisionKind.CLIENT_APPROVED, shown, world.contact.id, sent.request_id)
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Approved. Thank you!" in html
    assert "Approved by Sophie." in html
    assert "2 posts are waiting for your decision." in html


def test_a_replayed_decision_is_refused_with_409(app, db, client, world, sent, read):
    post_id = sent.post_ids[0]
    shown = _hash(read, post_id)
    assert _approve(client, sent, read, post_id, shown).status_code == 303
    again = _approve(client, sent, read, post_id, shown)
    assert again.status_code == 409
    assert "no longer waiting for this decision" in again.get_data(as_text=True)
    assert len(read.all(Decision)) == 1
    changes = client.post(sent.decide_url(post_id), data={
        "decision": "changes", "comment": "Finalement non", "content_hash": shown})
    assert changes.status_code == 409
    assert read.one(Post, post_id).status == PostStatus.APPROVED


def test_a_decision_on_a_stale_hash_is_refused_with_409(app, db, client, world, sent, read):
    post_id = sent.post_ids[0]
    response = _approve(client, sent, read, post_id, "f" * 64)
    assert response.status_code == 409
    assert "changed after you opened the page" in response.get_data(as_text=True)
    assert read.one(Post, post_id).status == PostStatus.AWAITING_CLIENT
    assert read.all(Decision) == []


def test_a_post_edited_after_sending_cannot_be_approved_from_this_link(app, db, client, world,
                                                                       sent, read):
    post_id = sent.post_ids[0]
    agency_id, client_id = world.agency_id, world.client.id  # a refused request rolls back,
    old = _hash(read, post_id)                                # expiring what the test holds
    _edit(app, db, world, post_id, text="Croissants au beurre")
    assert _approve(client, sent, read, post_id, old).status_code == 409
    # Even once resubmitted, the new content was never sent with this link.
    with tenant_scope(agency_id):
        submit_post(db.session.get(Post, post_id), db.session.get(Client, client_id))
        db.session.commit()
    response = _approve(client, sent, read, post_id, _hash(read, post_id))
    assert response.status_code == 409
    assert "changed after this link was sent" in response.get_data(as_text=True)
    assert read.one(Post, post_id).status == PostStatus.AWAITING_CLIENT
    assert read.all(Decision) == []


def test_a_post_not_in_this_request_answers_404(app, db, client, world, sent, read):
    other = send_posts(app, db, world, texts=("Autre envoi",))
    other_post = other.post_ids[0]
    response = _approve(client, sent, read, other_post)
    assert response.status_code == 404
    assert read.one(Post, other_post).status == PostStatus.AWAITING_CLIENT


def test_another_agencys_post_cannot_be_reached_by_swapping_its_id(app, db, client, world,
                                                                    sent, read):
    beta = make_world("Agence Beta")
    theirs = send_posts(app, db, beta, texts=("Le post de Beta",))
    beta_post = theirs.post_ids[0]
    with tenant_scope(beta.agency.id):
        beta_hash = db.session.get(Post, beta_post).content_hash
    response = client.post(sent.decide_url(beta_post),
                           data={"decision": "approve", "content_hash": beta_hash})
    assert response.status_code == 404
    all_at_once = client.post(sent.approve_all_url, data={"shown": [f"{beta_post}:{beta_hash}"]})
    assert all_at_once.status_code == 303
    with tenant_scope(beta.agency.id):
        db.session.expire_all()
        assert db.session.get(Post, beta_post).status == PostStatus.AWAITING_CLIENT
        assert db.session.query(Decision).count() == 0
    assert read.all(Decision) == []


def test_requesting_changes_needs_a_comment(app, db, client, world, sent, read):
    post_id = sent.post_ids[1]
    response = client.post(sent.decide_url(post_id), data={
        "decision": "changes", "comment": "   ", "content_hash": _hash(read, post_id)})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Tell the agency what to change." in html
    assert f'id="comment-{post_id}-error"' in html
    assert '<details class="portal-changes" open>' in html
    assert read.one(Post, post_id).status == PostStatus.AWAITING_CLIENT
    assert read.all(Decision) == [] and read.all(Comment) == []


def test_requested_changes_leave_a_comment_the_client_can_see(app, db, client, world, sent,
                                                               read):
    post_id = sent.post_ids[1]
    response = client.post(sent.decide_url(post_id), data={
        "decision": "changes", "comment": "Mettre le prix : 1,20 €",
        "content_hash": _hash(read, post_id)})
    assert response.status_code == 303
    assert read.one(Post, post_id).status == PostStatus.CHANGES_REQUESTED
    decision = read.all(Decision)[0]
    assert decision.kind == DecisionKind.CLIENT_CHANGES
    assert decision.comment == "Mettre le prix : 1,20 €"
    comment = read.all(Comment)[0]
    assert (comment.post_id, comment.visibility, comment.author_contact_id, comment.body) == (
        post_id, CommentVisibility.CLIENT, world.contact.id, "Mettre le prix : 1,20 €")
    html = client.get(sent.path).get_data(as_text=True)
    assert "Changes requested by Sophie." in html and "Mettre le prix : 1,20 €" in html


def test_a_comment_too_long_is_refused_with_422(app, db, client, world, sent, read):
    post_id = sent.post_ids[1]
    response = client.post(sent.decide_url(post_id), data={
        "decision": "changes", "comment": "x" * 5001, "content_hash": _hash(read, post_id)})
    assert response.status_code == 422
    assert read.all(Decision) == []


def test_a_forged_form_answers_400(app, db, client, world, sent, read):
    post_id = sent.post_ids[0]
    for data in ({"decision": "publish", "content_hash": _hash(read, post_id)},
                 {"decision": "approve", "content_hash": "not-a-hash"},
                 {"decision": "approve"}):
        assert client.post(sent.decide_url(post_id), data=data).status_code == 400, data
    assert client.post(sent.approve_all_url, data={"shown": "nope:abc"}).status_code == 400
    assert read.all(Decision) == []


def test_a_decision_needs_the_csrf_token(app, db, client, world, sent, read):
    post_id = sent.post_ids[0]
    with tenant_scope(world.agency_id):
        world.client.language = "fr"
        db.session.flush()
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = _approve(client, sent, read, post_id)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    # In the client's language (French here), with the way back to the posts.
    assert "Votre formulaire a expiré" in html and f'href="{sent.path}"' in html
    assert read.one(Post, post_id).status == PostStatus.AWAITING_CLIENT


def test_a_decision_on_an_expired_link_answers_410(app, db, client, world, sent, read):
    post_id = sent.post_ids[0]
    shown = _hash(read, post_id)
    with tenant_scope(world.agency_id):
        db.session.execute(update(ApprovalRequest).values(
            expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        db.session.flush()
    assert _approve(client, sent, read, post_id, shown).status_code == 410
    assert client.post(sent.approve_all_url,
                       data={"shown": f"{post_id}:{shown}"}).status_code == 410
    assert read.all(Decision) == []


def test_a_tampered_link_cannot_decide(app, db, client, world, sent, read):
    post_id = sent.post_ids[0]
    tampered = sent.path[:-2] + ("xy" if not sent.path.endswith("xy") else "zz")
    response = client.post(f"{tampered}/posts/{post_id}",
                           data={"decision": "approve", "content_hash": _hash(read, post_id)})
    assert response.status_code == 400
    assert read.all(Decision) == []


def test_approve_all_approves_only_unchanged_posts_still_waiting(app, db, client, world, sent,
                                                                  read):
    first, second, third = sent.post_ids
    shown = {p: _hash(read, p) for p in sent.post_ids}
    html = client.get(sent.path).get_data(as_text=True)
    assert "Approve all 3 posts" in html
    for post_id in sent.post_ids:
        assert f'name="shown" value="{post_id}:{shown[post_id]}"' in html
    # Meanwhile: the agency edits the first, and the client asks changes on the second.
    _edit(app, db, world, first, text="Croissants au beurre")
    client.post(sent.decide_url(second), data={"decision": "changes", "comment": "Non",
                                               "content_hash": shown[second]})
    response = client.post(sent.approve_all_url,
                           data={"shown": [f"{p}:{h}" for p, h in shown.items()]})
    assert response.status_code == 303
    statuses = {p: read.one(Post, p).status for p in sent.post_ids}
    assert statuses == {first: PostStatus.DRAFT, second: PostStatus.CHANGES_REQUESTED,
                        third: PostStatus.APPROVED}
    approvals = [d for d in read.all(Decision) if d.kind == DecisionKind.CLIENT_APPROVED]
    assert [d.post_id for d in approvals] == [third]
    page = client.get(sent.path).get_data(as_text=True)
    assert "1 post approved. Thank you!" in page
    assert "2 posts changed or were already decided" in page
    assert "Approve all" not in page


def test_approve_all_skips_a_post_resubmitted_with_new_content(app, db, client, world, sent,
                                                              read):
    first = sent.post_ids[0]
    _edit(app, db, world, first, text="Croissants au beurre")
    with tenant_scope(world.agency_id):
        submit_post(db.session.get(Post, first), world.client)
        db.session.flush()
    html = client.get(sent.path).get_data(as_text=True)
    assert f'value="{first}:' not in html  # not offered...
    client.post(sent.approve_all_url, data={"shown": f"{first}:{_hash(read, first)}"})
    assert read.one(Post, first).status == PostStatus.AWAITING_CLIENT  # ...nor taken


def test_decisions_are_audited(app, db, client, world, sent, read):
    _approve(client, sent, read, sent.post_ids[0])
    events = [e for e in read.all(AuditEvent) if e.action == "approval.decided"]
    assert [e.target_id for e in events] == [str(sent.post_ids[0])]


# --- telling the agency -----------------------------------------------------------------

def test_the_assigned_staff_hear_of_a_decision(app, db, client, world, sent, read, mail):
    post_id = sent.post_ids[1]
    client.post(sent.decide_url(post_id), data={
        "decision": "changes", "comment": "Mettre le prix", "content_hash": _hash(read, post_id)})
    assert [m.to for m in mail] == [_email(read, world.member)]  # assigned to this client
    message = mail[0]
    assert message.subject == "Sophie asked for changes on a post for Agence Alpha Boulangerie"
    assert "Pain de campagne" in message.text and "Mettre le prix" in message.text
    assert f"/clients/{world.client.id}/posts" in message.text
    assert "Wednesday 12 June 2030, 10:30" in message.text  # the client's time zone


def test_the_owners_hear_when_nobody_is_assigned(app, db, client, world, read, mail):
    with tenant_scope(world.agency_id):
        set_assigned_staff(world.client, [])
        db.session.flush()
    sent = send_posts(app, db, world, texts=("Un", "Deux"))
    client.post(sent.approve_all_url,
                data={"shown": [f"{p}:{_hash(read, p)}" for p in sent.post_ids]})
    assert [m.to for m in mail] == [_email(read, world.owner)]
    assert mail[0].subject == "Sophie approved 2 posts for Agence Alpha Boulangerie"


def test_the_mail_speaks_the_recipients_language(app, db, client, world, sent, read, mail):
    with tenant_scope(world.agency_id):
        db.session.execute(update(User).where(User.id == world.member.user_id)
                           .values(locale="fr"))
        db.session.commit()
    _approve(client, sent, read, sent.post_ids[0])
    assert mail[0].text.startswith("Bonjour ")  # a sentence already in the catalogue


def test_a_refused_decision_sends_no_mail(app, db, client, world, sent, read, mail):
    _approve(client, sent, read, sent.post_ids[0], "0" * 64)
    client.post(sent.decide_url(sent.post_ids[1]), data={
        "decision": "changes", "comment": "", "content_hash": _hash(read, sent.post_ids[1])})
    assert mail == []

"""The post page: previews, revisions and their diff, submitting per policy, internal
review, deleting drafts, comments and mentions."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from agency.approvals.models import DecisionKind
from agency.clients.models import Client
from agency.content import services
from agency.content.models import CommentVisibility, Post, PostStatus
from agency.extensions import db
from tenants.context import tenant_scope
from tenants.models import Agency
from tenants.roles import Role
from tests.content.helpers import make_post, page, shows
from tests.factories import add_member, login


def _edit(world, post_id, **values):
    with tenant_scope(world.agency_id):
        post = db.session.scalars(select(Post).where(Post.id == post_id)).one()
        client = db.session.scalars(select(Client).where(Client.id == post.client_id)).one()
        services.update_post(post, client, values, world.owner.user_id)
        db.session.flush()


def test_the_page_shows_the_diff_between_two_revisions(client, world):
    post_id = make_post(world, text="Croissants\nà 1 €")
    _edit(world, post_id, text="Croissants\nà 1,20 €", target_ids=[world.sandbox_id,
                                                                    world.x_id])
    login(client, world.member)
    html = page(client.get(f"/posts/{post_id}"))
    assert "Changes from version 1" in html  # a link from each version to the previous one
    response = client.get(f"/posts/{post_id}?from=1&to=2")
    assert response.status_code == 200
    html = page(response)
    assert '<span class="del">-à 1 €</span>' in html
    assert '<span class="add">+à 1,20 €</span>' in html
    assert "Accounts" in html and "+Boulangerie X (x)" in html  # targets, by name
    assert "Scheduled time" not in html  # only what changed is listed
    missing = client.get(f"/posts/{post_id}?from=1&to=9")
    assert "One of these versions does not exist." in page(missing)


@pytest.mark.parametrize(("policy", "expected"), [
    ("none", PostStatus.APPROVED),
    ("client", PostStatus.AWAITING_CLIENT),
    ("internal_then_client", PostStatus.IN_REVIEW),
])
def test_submit_follows_the_clients_policy(client, world, read, policy, expected):
    post_id = make_post(world, policy=policy)
    login(client, world.member)
    response = client.post(f"/posts/{post_id}/submit")
    assert response.status_code == 303
    assert read.post(post_id).status == expected
    assert len(read.audit("post.submitted")) == 1


def test_submit_without_a_schedule_is_refused(client, world, read):
    post_id = make_post(world)
    _edit(world, post_id, scheduled_at=None)
    login(client, world.member)
    response = client.post(f"/posts/{post_id}/submit")
    assert response.status_code == 422
    assert "Choose when it should go out." in page(response)
    assert read.post(post_id).status == PostStatus.DRAFT


def test_submitting_twice_is_refused(client, world, read):
    post_id = make_post(world, policy="client", submit=True)
    login(client, world.member)
    response = client.post(f"/posts/{post_id}/submit")
    assert response.status_code == 422
    assert read.post(post_id).status == PostStatus.AWAITING_CLIENT


def _in_review(world):
    return make_post(world, policy="internal_then_client", submit=True)


def test_a_manager_approves_in_internal_review(client, world, read):
    post_id = _in_review(world)
    login(client, world.manager)
    html = page(client.get(f"/posts/{post_id}"))
    assert "Internal review" in html
    post = read.post(post_id)
    assert f'value="{post.content_hash}"' in html
    response = client.post(f"/posts/{post_id}/review", data={
        "decision": "approve", "content_hash": post.content_hash})
    assert response.status_code == 303
    assert read.post(post_id).status == PostStatus.AWAITING_CLIENT
    [decision] = read.decisions(post_id)
    assert (decision.kind, decision.revision_number, decision.user_id) == (
        DecisionKind.INTERNAL_APPROVED, 1, world.manager.user_id)
    html = page(client.get(f"/posts/{post_id}"))
    assert "Approved in internal review" in html and world.manager.name in html


def test_asking_for_changes_needs_a_comment(client, world, read):
    post_id = _in_review(world)
    login(client, world.manager)
    content_hash = read.post(post_id).content_hash
    response = client.post(f"/posts/{post_id}/review",
                           data={"decision": "changes", "content_hash": content_hash})
    assert response.status_code == 422
    assert "Say what should change." in page(response)
    assert read.decisions(post_id) == []
    response = client.post(f"/posts/{post_id}/review", data={
        "decision": "changes", "content_hash": content_hash, "comment": "Plus court"})
    assert response.status_code == 303
    assert read.post(post_id).status == PostStatus.CHANGES_REQUESTED


def test_a_member_may_not_review(client, world, read):
    post_id = _in_review(world)
    login(client, world.member)
    assert "Internal review" not in page(client.get(f"/posts/{post_id}"))
    response = client.post(f"/posts/{post_id}/review", data={
        "decision": "approve", "content_hash": read.post(post_id).content_hash})
    assert response.status_code == 403
    assert read.post(post_id).status == PostStatus.IN_REVIEW


def test_a_review_of_content_that_changed_is_a_conflict(client, world, read):
    post_id = _in_review(world)
    shown = read.post(post_id).content_hash
    _edit(world, post_id, text="Changé pendant la relecture")
    with tenant_scope(world.agency_id):  # submitted again: in review, with a new hash
        post = db.session.scalars(select(Post).where(Post.id == post_id)).one()
        client_row = db.session.scalars(select(Client).where(Client.id == post.client_id)).one()
        services.submit_post(post, client_row)
        db.session.flush()
    login(client, world.manager)
    before = read.state()
    response = client.post(f"/posts/{post_id}/review",
                           data={"decision": "approve", "content_hash": shown})
    assert response.status_code == 409
    assert "The post changed while you were reviewing it" in page(response)
    assert shows(response, "Changé pendant la relecture")  # the current content is shown
    assert read.state() == before
    assert read.post(post_id).status == PostStatus.IN_REVIEW


def test_a_review_of_a_post_not_in_review_is_a_conflict(client, world, read):
    post_id = make_post(world, policy="client", submit=True)
    login(client, world.manager)
    response = client.post(f"/posts/{post_id}/review", data={
        "decision": "approve", "content_hash": read.post(post_id).content_hash})
    assert response.status_code == 409
    assert read.decisions(post_id) == []


def test_only_drafts_can_be_deleted(client, world, read):
    draft = make_post(world)
    waiting = make_post(world, policy="client", submit=True)
    login(client, world.member)
    response = client.post(f"/posts/{waiting}/delete")
    assert response.status_code == 422
    assert "Only a draft can be deleted." in page(response)
    assert read.post(waiting).status == PostStatus.AWAITING_CLIENT
    response = client.post(f"/posts/{draft}/delete")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/clients/{world.client_id}/posts")
    assert [p.id for p in read.posts(world.client_id)] == [waiting]
    assert client.get(f"/posts/{draft}").status_code == 404


def test_internal_and_client_comments(client, world, read, mail):
    post_id = make_post(world)
    login(client, world.member)
    response = client.post(f"/posts/{post_id}/comments",
                           data={"body": "Photo à revoir", "visibility": "internal"})
    assert response.status_code == 303
    client.post(f"/posts/{post_id}/comments",
                data={"body": "Voici la version finale", "visibility": "client"})
    internal, visible = read.comments(post_id)
    assert (internal.visibility, internal.author_user_id) == (
        CommentVisibility.INTERNAL, world.member.user_id)
    assert visible.visibility == CommentVisibility.CLIENT
    html = page(client.get(f"/posts/{post_id}"))
    assert "Agency only" in html and "Visible to the client" in html
    assert mail == []
    empty = client.post(f"/posts/{post_id}/comments", data={"body": "  ",
                                                            "visibility": "internal"})
    assert empty.status_code == 422
    assert len(read.comments(post_id)) == 2


def test_a_mention_mails_the_staff_member_after_the_commit(client, world, read, mail):
    post_id = make_post(world)
    login(client, world.member)
    body = (f"@{world.manager.email} peux-tu valider ? "
            "et @inconnu@example.test aussi")  # not in the agency: no mail
    response = client.post(f"/posts/{post_id}/comments",
                           data={"body": body, "visibility": "internal"})
    assert response.status_code == 303
    assert [m.to for m in mail] == [world.manager.email]
    assert world.member.name in mail[0].subject
    assert f"/posts/{post_id}#comments" in mail[0].text
    assert "peux-tu valider" in mail[0].text


def test_a_mention_of_staff_who_cannot_see_the_client_sends_nothing(client, world, mail, db):
    with tenant_scope(world.agency_id):
        agency = db.session.scalars(select(Agency)).one()
    add_member(agency, Role.MEMBER, email="newcomer@alpha.test")  # not assigned
    post_id = make_post(world)
    login(client, world.manager)
    response = client.post(f"/posts/{post_id}/comments", data={
        "body": "@newcomer@alpha.test regarde", "visibility": "internal"})
    assert response.status_code == 303
    assert mail == []


def test_a_refused_comment_sends_no_mail(client, world, mail):
    post_id = make_post(world)
    login(client, world.member)
    response = client.post(f"/posts/{post_id}/comments", data={
        "body": f"@{world.manager.email} " + "x" * 5000, "visibility": "internal"})
    assert response.status_code == 422
    assert mail == []


def test_the_post_pages_have_no_inline_script_or_style(client, world):
    import re

    post_id = _in_review(world)
    login(client, world.manager)
    for url in (f"/clients/{world.client_id}/posts", f"/clients/{world.client_id}/posts/new",
                f"/posts/{post_id}", f"/posts/{post_id}/edit",
                f"/clients/{world.client_id}/approvals/new",
                f"/clients/{world.client_id}/approval-settings"):
        response = client.get(url)
        assert response.status_code == 200, url
        html = page(response)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), url
        assert "<style" not in html and " style=" not in html and " on" + "click" not in html

"""What a contact sees: the posts waiting for their decision (as the portal shows them),
and their past decisions; client-visible comments only, their own client only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from agency.approvals.models import ApprovalRequest
from agency.clients.services import create_contact, update_contact
from agency.content.models import CommentVisibility, Post
from agency.content.services import add_comment, update_post
from tenants.context import tenant_scope

from .conftest import link_contact, send_posts, sign_in

TEXTS = ("Croissants tout chauds", "Pain de campagne", "Fermé lundi")


def _page(client, url="/client-area") -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_waiting_posts_are_shown_like_the_portal(app, db, client, world, sophie):
    sent = send_posts(app, db, world)
    sign_in(client, sophie.email)
    html = _page(client)
    assert "3 posts are waiting for your decision." in html
    for text, post_id in zip(TEXTS, sent.post_ids, strict=True):
        assert text in html and f'id="post-{post_id}"' in html
    assert html.count('class="portal-post state-awaiting"') == 3
    assert "Boulangerie Alpha" in html and "@boulangerie" in html  # the per-network preview
    assert "Tuesday 11 June 2030, 10:30" in html  # in the client's time zone
    assert "Approve all 3 posts" in html
    assert "Signed in as sophie@agence-alpha.test." in html


def test_only_client_visible_comments_are_shown(app, db, client, world, sophie):
    sent = send_posts(app, db, world)
    with app.test_request_context(), tenant_scope(world.agency_id):
        post = db.session.scalars(select(Post).where(Post.id == sent.post_ids[0])).one()
        add_comment(post, "Secret interne: marge 40%", CommentVisibility.INTERNAL,
                    user_id=world.owner.user_id)
        add_comment(post, "Photo prise ce matin", CommentVisibility.CLIENT,
                    user_id=world.owner.user_id, author_label="Owner")
        db.session.commit()
    sign_in(client, sophie.email)
    for url in ("/client-area", "/client-area/decisions"):
        assert "Secret interne" not in _page(client, url)
    assert "Photo prise ce matin" in _page(client)


def test_the_page_speaks_the_clients_language(app, db, client, world, sophie):
    send_posts(app, db, world)
    with tenant_scope(world.agency_id):
        world.client.language = "fr"
        db.session.flush()
    sign_in(client, sophie.email)
    html = _page(client)
    assert '<html lang="fr">' in html
    assert "mardi 11 juin 2030, 10:30" in html


def test_posts_of_another_client_or_agency_are_not_shown(app, db, client, world, sophie):
    from tests.factories import make_world

    mine = send_posts(app, db, world, texts=("Chez nous",))
    with tenant_scope(world.agency_id):
        create_contact(world.other_client, {"name": "Léa", "email": "lea@alpha.test",
                                            "approves_posts": True})
    theirs = send_posts(app, db, world, texts=("Vidange offerte",), client=world.other_client)
    beta = make_world("Agence Beta")
    elsewhere = send_posts(app, db, beta, texts=("Ailleurs",))
    sign_in(client, sophie.email)
    html = _page(client)
    assert "Chez nous" in html and str(mine.post_ids[0]) in html
    for other in (theirs, elsewhere):
        assert str(other.post_ids[0]) not in html
    assert "Vidange offerte" not in html and "Ailleurs" not in html


def test_only_open_requests_with_the_content_sent_are_waiting(app, db, client, world, sophie):
    expired = send_posts(app, db, world, texts=("Expiré",))
    with tenant_scope(world.agency_id):
        db.session.execute(update(ApprovalRequest).where(
            ApprovalRequest.id == expired.request_id).values(
            expires_at=datetime.now(UTC) - timedelta(hours=1)))
    sent = send_posts(app, db, world, texts=("Ouvert", "Modifié"))
    with app.test_request_context(), tenant_scope(world.agency_id):
        post = db.session.scalars(select(Post).where(Post.id == sent.post_ids[1])).one()
        update_post(post, world.client, {"text": "Modifié encore"}, world.owner.user_id)
        db.session.commit()
    sign_in(client, sophie.email)
    html = _page(client)
    assert "1 post is waiting for your decision." in html
    assert "Ouvert" in html and "Expiré" not in html and "Modifié" not in html
    assert "Approve all" not in html  # one post: its own button is enough


def test_a_post_sent_twice_is_shown_once(app, db, client, world, sophie):
    from agency.approvals.services import send_for_approval

    sent = send_posts(app, db, world, texts=("Deux fois",))
    with app.test_request_context(), tenant_scope(world.agency_id):
        post = db.session.scalars(select(Post).where(Post.id == sent.post_ids[0])).one()
        send_for_approval(world.client, [post], world.owner.user_id)
        db.session.commit()
    sign_in(client, sophie.email)
    assert _page(client).count(f'id="post-{sent.post_ids[0]}"') == 1


def test_a_contact_who_does_not_approve_sees_nothing_waiting(app, db, client, world, sophie):
    send_posts(app, db, world)
    with tenant_scope(world.agency_id):
        update_contact(world.contact, {"approves_posts": False})
        db.session.flush()
    sign_in(client, sophie.email)
    html = _page(client)
    assert "You do not approve posts for Agence Alpha Boulangerie" in html
    assert "portal-post" not in html


def test_past_decisions_say_what_when_which_version_and_the_comment(app, db, client, world,
                                                                     sophie, read):
    sent = send_posts(app, db, world, texts=("Premier", "Second"))
    sign_in(client, sophie.email)
    assert "You have not decided on any post yet." in _page(client, "/client-area/decisions")
    first, second = sent.post_ids
    client.post(f"/client-area/posts/{first}/decide", data={
        "decision": "approve", "content_hash": read.one(Post, first).content_hash})
    client.post(f"/client-area/posts/{second}/decide", data={
        "decision": "changes", "comment": "Plus court, svp",
        "content_hash": read.one(Post, second).content_hash})
    with app.test_request_context(), tenant_scope(world.agency_id):
        post = db.session.scalars(select(Post).where(Post.id == second)).one()
        update_post(post, world.client, {"text": "Second, plus court"}, world.owner.user_id)
        db.session.commit()
    html = _page(client, "/client-area/decisions")
    assert html.index("Second") < html.index("Premier")  # newest first
    assert "Approved" in html and "Changes requested" in html
    assert "Plus court, svp" in html
    assert html.count("version 1") == 2
    assert "the post has changed since" in html
    assert "Second, plus court" not in html  # what was decided on, not the new text
    assert "Tuesday 11 June 2030, 10:30" in html


def test_decisions_of_other_contacts_are_not_theirs(app, db, client, world, sophie, read):
    with tenant_scope(world.agency_id):
        marc = create_contact(world.client, {"name": "Marc", "email": "marc@alpha.test",
                                             "approves_posts": True})
    marc_id = marc.id
    link_contact(app, db, world.agency_id, marc_id)
    sent = send_posts(app, db, world, texts=("Pour Marc",))
    marc_browser = app.test_client()
    sign_in(marc_browser, "marc@alpha.test")
    post_id = sent.post_ids[0]
    marc_browser.post(f"/client-area/posts/{post_id}/decide", data={
        "decision": "approve", "content_hash": read.one(Post, post_id).content_hash})
    sign_in(client, sophie.email)
    assert "Pour Marc" not in _page(client, "/client-area/decisions")
    assert "Pour Marc" in _page(marc_browser, "/client-area/decisions")

"""The portal page: what the client's contact sees when opening their link."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from agency.approvals.models import ApprovalRequest, Decision
from agency.audit.models import AuditEvent
from agency.content.models import Comment, CommentVisibility, Post, PostStatus
from agency.content.services import add_comment, update_post
from tenants.context import tenant_scope
from tests.approvals.conftest import send_posts
from tests.factories import login


def _expire(db, world, request_id) -> None:
    with tenant_scope(world.agency_id):
        db.session.execute(update(ApprovalRequest).where(ApprovalRequest.id == request_id)
                           .values(expires_at=datetime.now(UTC) - timedelta(minutes=1)))
        db.session.flush()


def _set_client(db, world, **values) -> None:
    with tenant_scope(world.agency_id):
        for key, value in values.items():
            setattr(world.client, key, value)
        db.session.flush()


def test_the_page_shows_each_post_as_it_will_look_on_each_network(app, db, client, world):
    sent = send_posts(app, db, world, texts=("Croissants tout chauds",),
                      first_comment="#boulangerie #lyon")
    response = client.get(sent.path)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Agence Alpha" in html and "Agence Alpha Boulangerie" in html
    assert "1 post is waiting for your decision." in html
    for shown in ("Sandbox", "Boulangerie Alpha", "@boulangerie", "Croissants tout chauds",
                  "First comment", "#boulangerie #lyon", "Awaiting your decision",
                  "Approve", "Request changes"):
        assert shown in html, shown
    assert "Approve all" not in html  # one post: its own button is enough


def test_times_are_shown_in_the_clients_time_zone(app, db, client, world):
    _set_client(db, world, timezone="America/Montreal", language="en")
    sent = send_posts(app, db, world, texts=("Bagels",))  # 08:30 UTC
    html = client.get(sent.path).get_data(as_text=True)
    assert "Tuesday 11 June 2030, 04:30" in html
    assert "America/Montreal" in html


def test_a_network_variant_replaces_the_text_on_that_network(app, db, client, world):
    sent = send_posts(app, db, world, texts=("Texte de base",),
                      variants={"sandbox": "Texte pour le bac à sable"})
    html = client.get(sent.path).get_data(as_text=True)
    assert "Texte pour le bac à sable" in html
    assert "Texte de base" not in html


def test_the_page_is_in_the_clients_language_whatever_the_default(app, db, client, world):
    assert app.config["BABEL_DEFAULT_LOCALE"] == "en"
    _set_client(db, world, language="fr")
    sent = send_posts(app, db, world, texts=("Baguettes",))
    html = client.get(sent.path).get_data(as_text=True)
    assert '<html lang="fr">' in html
    assert "Aller au contenu" in html  # base.html, already in the French catalogue
    assert "mardi 11 juin 2030, 10:30" in html  # Paris time, French names
    # The client's language does not stick to the next page (tests share an app context).
    assert '<html lang="en">' in client.get("/login").get_data(as_text=True)


def test_an_english_client_reads_english_even_with_a_french_cookie(app, db, client, world):
    _set_client(db, world, language="en")
    sent = send_posts(app, db, world, texts=("Baguettes",))
    client.set_cookie("relais_lang", "fr", domain="relais.test")
    html = client.get(sent.path).get_data(as_text=True)
    assert '<html lang="en">' in html and "Skip to content" in html
    assert "Tuesday 11 June 2030, 10:30" in html


def test_an_expired_link_answers_410_naming_the_agency_in_the_clients_language(
        app, db, client, world, sent):
    _set_client(db, world, language="fr")
    _expire(db, world, sent.request_id)
    response = client.get(sent.path)
    html = response.get_data(as_text=True)
    assert response.status_code == 410
    assert '<html lang="fr">' in html and "Ce lien a expiré" in html
    assert "Demandez à Agence Alpha de vous en envoyer un nouveau." in html
    assert "Croissants" not in html


def test_a_tampered_or_garbled_link_answers_400(app, db, client, sent):
    token = sent.path.removeprefix("/a/")
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    for path in (f"/a/{tampered}", "/a/not-a-token", f"/a/x{token}"):
        response = client.get(path)
        assert response.status_code == 400, path
        assert "This link is not valid" in response.get_data(as_text=True)


def test_a_link_whose_contact_was_removed_no_longer_opens(app, db, client, world, sent):
    with tenant_scope(world.agency_id):
        from agency.clients.services import delete_contact

        with app.test_request_context():
            delete_contact(world.contact)
        db.session.flush()
    assert client.get(sent.path).status_code == 400


def test_opening_the_page_changes_nothing(app, db, client, world, sent, read):
    def snapshot():
        return {
            "posts": sorted((str(p.id), p.status.value, p.content_hash, p.revision_number)
                            for p in read.all(Post)),
            "decisions": read.count(Decision),
            "comments": read.count(Comment),
            "audit": read.count(AuditEvent),
            "requests": [(r.reminded_at, r.escalated_at, r.expires_at)
                         for r in read.all(ApprovalRequest)],
        }

    before = snapshot()
    for _ in range(5):
        assert client.get(sent.path).status_code == 200
    assert snapshot() == before


def test_a_post_edited_after_sending_shows_as_changed(app, db, client, world, sent):
    with app.test_request_context(), tenant_scope(world.agency_id):
        post = db.session.get(Post, sent.post_ids[0])
        update_post(post, world.client, {"text": "Croissants au beurre"}, world.owner.user_id)
        db.session.flush()
    html = client.get(sent.path).get_data(as_text=True)
    assert "Changed since this link was sent" in html
    assert "They will send it to you again." in html
    assert "Croissants tout chauds" in html  # what was sent, so the client knows which
    assert "Croissants au beurre" not in html  # the agency's work in progress stays theirs
    assert "2 posts are waiting for your decision." in html


def test_only_client_visible_comments_are_shown(app, db, client, world, sent):
    with app.test_request_context(), tenant_scope(world.agency_id):
        post = db.session.get(Post, sent.post_ids[0])
        add_comment(post, "Note interne : vérifier le prix", CommentVisibility.INTERNAL,
                    user_id=world.owner.user_id)
        add_comment(post, "Photo prise ce matin", CommentVisibility.CLIENT,
                    user_id=world.owner.user_id, author_label="Élodie")
        db.session.flush()
    html = client.get(sent.path).get_data(as_text=True)
    assert "Photo prise ce matin" in html
    assert "vérifier le prix" not in html


def test_a_signed_in_staff_member_sees_the_page_as_the_client_does(app, db, client, world,
                                                                   sent):
    login(client, world.owner)
    html = client.get(sent.path).get_data(as_text=True)
    assert "Sign out" not in html and 'aria-label="Main"' not in html
    response = client.post(sent.decide_url(sent.post_ids[0]), data={
        "decision": "approve", "content_hash": _hash(db, world, sent.post_ids[0])})
    assert response.status_code == 303
    with tenant_scope(world.agency_id):
        decision = db.session.query(Decision).one()
        assert decision.user_id is None and decision.contact_id == world.contact.id


def test_portal_responses_keep_the_link_private(app, db, client, world, sent):
    post_id = sent.post_ids[0]
    responses = {
        "page": client.get(sent.path),
        "invalid": client.get("/a/nonsense"),
        "unknown post": client.post(sent.decide_url("00000000-0000-0000-0000-000000000000"),
                                    data={"decision": "approve", "content_hash": "0" * 64}),
        "stale": client.post(sent.decide_url(post_id),
                             data={"decision": "approve", "content_hash": "0" * 64}),
        "decided": client.post(sent.decide_url(post_id), data={
            "decision": "approve", "content_hash": _hash(db, world, post_id)}),
        "mistyped": client.get(sent.path + "/posts/nope"),
    }
    assert [r.status_code for r in responses.values()] == [200, 400, 404, 409, 303, 404]
    _expire(db, world, sent.request_id)
    responses["expired"] = client.get(sent.path)
    assert responses["expired"].status_code == 410
    for name, response in responses.items():
        assert response.headers["Referrer-Policy"] == "no-referrer", name
        assert response.headers["X-Robots-Tag"] == "noindex, nofollow", name
        assert response.headers["Cache-Control"] == "no-store", name
    for name in ("page", "expired", "invalid", "stale"):
        html = responses[name].get_data(as_text=True)
        assert '<meta name="robots" content="noindex">' in html, name
    # Other pages keep the site's usual policy.
    assert client.get("/login").headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def _hash(db, world, post_id) -> str:
    with tenant_scope(world.agency_id):
        return db.session.get(Post, post_id).content_hash


def test_posts_of_another_status_are_labelled(app, db, client, world, sent):
    with tenant_scope(world.agency_id):
        db.session.execute(update(Post).where(Post.id == sent.post_ids[0])
                           .values(status=PostStatus.APPROVED))
        db.session.flush()
    html = client.get(sent.path).get_data(as_text=True)
    assert "2 posts are waiting for your decision." in html
    assert '<p class="state state-approved">Approved</p>' in html

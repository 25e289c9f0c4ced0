"""A client's owner sets up their own sign-in from the e-mailed link, signs in on a phone
and decides on the posts waiting for them; the decisions land on the posts.

The data is made through the services and committed under ``committed_agency``'s agency
(the live server runs in another thread); the contact's account is removed afterwards.
Assertions use the page's structure (classes, the posts' own texts), not its wording.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import create_engine, select

from agency.config import normalise_database_url
from agency.extensions import db as _db

pytestmark = pytest.mark.e2e

TEXTS = ("Galette des rois à commander", "Horaires du dimanche")
EMAIL = "annie@creperie.test"
PASSWORD = "une crêpe au beurre salé"


def _invite(app, agency_id) -> tuple[str, list]:
    """A client, its approving contact, two posts sent to her, and her invitation link."""
    from agency.approvals.services import send_for_approval
    from agency.clientarea.services import invite_to_sign_in
    from agency.clients.services import create_client, create_contact
    from agency.content.services import create_post, submit_post
    from agency.networks.services import add_account
    from tenants.context import tenant_scope

    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    with app.app_context(), app.test_request_context(), tenant_scope(agency_id):
        client = create_client({"name": "Crêperie Annie", "language": "fr",
                                "timezone": "Europe/Paris"})
        contact = create_contact(client, {"name": "Annie Kerouac", "email": EMAIL,
                                          "approves_posts": True})
        account = add_account(client, "sandbox", "Crêperie Annie", "@annie")
        posts = []
        for n, text in enumerate(TEXTS):
            post = create_post(client, {"text": text, "target_ids": [account.id],
                                        "scheduled_at": start + timedelta(days=n)}, None)
            submit_post(post, client)
            posts.append(post)
        send_for_approval(client, posts, None)
        token = invite_to_sign_in(contact, client)
        post_ids = [p.id for p in posts]
        _db.session.commit()
    return f"/client-area/invitation/{token}", post_ids


def _statuses(app, agency_id, post_ids) -> list[str]:
    from agency.content.models import Post
    from tenants.context import tenant_scope

    with app.app_context(), tenant_scope(agency_id):
        by_id = {p.id: p.status.value for p in _db.session.scalars(
            select(Post).where(Post.id.in_(post_ids)))}
        _db.session.remove()
    return [by_id[p] for p in post_ids]


@pytest.fixture
def contact_account(app, committed_agency):
    """Removes the account the contact makes, before the agency itself is removed."""
    yield
    from agency import models

    engine = create_engine(normalise_database_url(app.config["MIGRATION_DATABASE_URL"]))
    with engine.begin() as conn:
        conn.execute(models.User.__table__.delete().where(models.User.email == EMAIL))
    engine.dispose()


def _no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_contact_signs_in_on_a_phone_and_approves(app, browser, live_server,
                                                     committed_agency, contact_account):
    agency_id = committed_agency["agency_id"]
    link, post_ids = _invite(app, agency_id)
    app.config["WTF_CSRF_ENABLED"] = True  # real forms, real tokens
    phone = browser.new_context(base_url=live_server, viewport={"width": 390, "height": 844},
                                is_mobile=True, has_touch=True, locale="fr-FR")
    errors: list[str] = []
    try:
        page = phone.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

        # The e-mailed link: choose a password, and the client area opens.
        page.goto(link)
        expect(page.locator("html")).to_have_attribute("lang", "fr")
        page.locator("input[name=password]").fill(PASSWORD)
        page.locator("input[name=confirm]").fill(PASSWORD)
        page.locator("main form button[type=submit]").tap()
        expect(page).to_have_url(f"{live_server}/client-area")
        expect(page.locator("article.portal-post.state-awaiting")).to_have_count(2)

        # Signed out, then in again with the new password: straight to the client area.
        page.locator(".area-sign-out").tap()
        expect(page).to_have_url(f"{live_server}/login")
        page.locator("input[name=email]").fill(EMAIL)
        page.locator("input[name=password]").fill(PASSWORD)
        page.locator("main form button[type=submit]").tap()
        expect(page).to_have_url(f"{live_server}/client-area")
        expect(page.locator(".portal-agency")).to_contain_text("Agence E2E")
        expect(page.locator("h1")).to_contain_text("Crêperie Annie")
        cards = page.locator("article.portal-post")
        expect(cards).to_have_count(2)
        assert _no_horizontal_scroll(page)
        approve = cards.filter(has_text=TEXTS[0]).locator("button.portal-approve")
        box = approve.bounding_box()
        assert box and box["height"] >= 44 and box["width"] >= 300  # a thumb-sized target

        approve.tap()
        expect(page.locator(".flash-success")).to_be_visible()
        expect(page.locator("article.portal-post")).to_have_count(1)  # one left to decide
        second = page.locator("article.portal-post", has_text=TEXTS[1])
        second.locator(".portal-changes summary").tap()
        second.locator("textarea[name=comment]").fill("Ouvert aussi le lundi midi")
        second.locator(".portal-changes button[type=submit]").tap()
        expect(page.locator("article.portal-post")).to_have_count(0)
        assert _statuses(app, agency_id, post_ids) == ["approved", "changes_requested"]

        # Their decisions, with the comment.
        page.locator(".area-tabs a").nth(1).tap()
        expect(page.locator(".area-history article")).to_have_count(2)
        expect(page.locator(".area-history")).to_contain_text("Ouvert aussi le lundi midi")
        assert _no_horizontal_scroll(page)
        # A staff page is not theirs (asked with the browser's cookies, off the page).
        assert phone.request.get("/clients", max_redirects=0).status == 403
    finally:
        phone.close()
        app.config["WTF_CSRF_ENABLED"] = False
    assert errors == [], f"the browser reported errors: {errors}"

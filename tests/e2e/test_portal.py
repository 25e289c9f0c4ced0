"""The client's owner approves from a phone; the agency then sees the decisions.

The data is made through the services and committed under ``committed_agency``'s agency
(the live server runs in another thread), so that fixture's cleanup removes it.
Assertions on the portal use its structure (CSS classes, the posts' own texts), not its
wording: the portal speaks the client's language, whose catalogue is maintained apart.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from agency.extensions import db as _db

pytestmark = pytest.mark.e2e

TEXTS = ("Croissants tout chauds ce matin", "Nouveau pain aux noix", "Fermé lundi pour congés")


def _send_three_posts(app, agency_id) -> tuple[str, object, list]:
    from agency.approvals.services import send_for_approval
    from agency.clients.services import create_client, create_contact
    from agency.content.services import create_post, submit_post
    from agency.networks.services import add_account
    from tenants.context import tenant_scope

    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    with app.app_context(), app.test_request_context(), tenant_scope(agency_id):
        client = create_client({"name": "Boulangerie du Port", "language": "fr",
                                "timezone": "Europe/Paris"})
        contact = create_contact(client, {"name": "Yann Le Goff", "email": "yann@port.test",
                                          "approves_posts": True})
        account = add_account(client, "sandbox", "Boulangerie du Port", "@duport")
        posts = []
        for n, text in enumerate(TEXTS):
            post = create_post(client, {"text": text, "target_ids": [account.id],
                                        "scheduled_at": start + timedelta(days=n)}, None)
            submit_post(post, client)
            posts.append(post)
        sent = send_for_approval(client, posts, None)
        link = sent.links[contact.id]
        ids = (client.id, [p.id for p in posts])
        _db.session.commit()
    return urlsplit(link).path, *ids


def _statuses(app, agency_id, post_ids) -> list[str]:
    from agency.content.models import Post
    from tenants.context import tenant_scope

    with app.app_context(), tenant_scope(agency_id):
        by_id = {p.id: p.status.value for p in _db.session.scalars(
            select(Post).where(Post.id.in_(post_ids)))}
        _db.session.remove()
    return [by_id[p] for p in post_ids]


def _no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_the_owner_decides_on_a_phone_and_the_agency_sees_it(app, browser, live_server,
                                                              committed_agency):
    path, client_id, post_ids = _send_three_posts(app, committed_agency["agency_id"])
    app.config["WTF_CSRF_ENABLED"] = True  # real forms, real tokens
    phone = browser.new_context(base_url=live_server, viewport={"width": 390, "height": 844},
                                is_mobile=True, has_touch=True, locale="fr-FR")
    staff = browser.new_context(base_url=live_server, locale="en-GB")
    errors: list[str] = []
    try:
        page = phone.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(path)
        expect(page.locator("html")).to_have_attribute("lang", "fr")
        expect(page.locator(".portal-agency")).to_contain_text("Agence E2E")
        expect(page.locator("nav")).to_have_count(0)  # no staff navigation
        cards = page.locator("article.portal-post")
        expect(cards).to_have_count(3)
        expect(page.locator("article.state-awaiting")).to_have_count(3)
        assert _no_horizontal_scroll(page)
        approve = cards.filter(has_text=TEXTS[0]).locator("button.portal-approve")
        box = approve.bounding_box()
        assert box and box["height"] >= 44 and box["width"] >= 300  # a thumb-sized target

        for text in TEXTS[:2]:
            page.locator("article.portal-post", has_text=text).locator(
                "button.portal-approve").tap()
            expect(page.locator("article.portal-post", has_text=text)).to_have_class(
                "portal-post state-approved")
            expect(page.locator(".flash-success")).to_be_visible()

        third = page.locator("article.portal-post", has_text=TEXTS[2])
        third.locator(".portal-changes summary").tap()
        third.locator("textarea[name=comment]").fill("Préciser : fermé lundi 3 et mardi 4")
        third.locator(".portal-changes button[type=submit]").tap()
        third = page.locator("article.portal-post", has_text=TEXTS[2])
        expect(third).to_have_class("portal-post state-changes")
        expect(third.locator(".portal-comments")).to_contain_text("fermé lundi 3 et mardi 4")
        expect(page.locator("form.portal-all")).to_have_count(0)  # nothing left to approve
        assert _no_horizontal_scroll(page)
        assert _statuses(app, committed_agency["agency_id"], post_ids) == [
            "approved", "approved", "changes_requested"]

        office = staff.new_page()
        office.goto("/login")
        office.get_by_label("E-mail").fill(committed_agency["email"])
        office.get_by_label("Password").fill(committed_agency["password"])
        office.get_by_role("button", name="Sign in").click()
        expect(office.get_by_role("heading", name="Clients")).to_be_visible()
        office.goto(f"/clients/{client_id}/posts")
        for text, status in zip(TEXTS, ("approved", "approved", "changes_requested"),
                                strict=True):
            item = office.locator("li.post-item", has_text=text)
            expect(item.locator(f".status-{status}")).to_be_visible()
        # The agency's calendar shows the same three states (the posts are a few days
        # ahead, so they may straddle two months: look at this one and the next).
        today = datetime.now(UTC).date()
        found = {}
        for month in (today.replace(day=1), (today.replace(day=1) + timedelta(days=32))):
            office.goto(f"/clients/{client_id}/calendar?view=list&date={month.isoformat()}")
            for post_id in post_ids:
                chip = office.locator(f'li.cal-post[data-post-id="{post_id}"]')
                if chip.count():
                    found[post_id] = chip.first.get_attribute("class")
        for post_id, status in zip(post_ids, ("approved", "approved", "changes_requested"),
                                   strict=True):
            assert re.search(rf"\bstatus-{status}\b", found[post_id]), found
    finally:
        phone.close()
        staff.close()
        app.config["WTF_CSRF_ENABLED"] = False
    assert errors == [], f"the browser reported errors: {errors}"

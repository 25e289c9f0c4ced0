"""In a real browser: dragging a post onto another day moves it (same time of day), and a
refused move says why and leaves the post where it was. The page's own checks fail the
test on any script error or CSP violation."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from tests.calendar.helpers import NEXT_YEAR
from tests.e2e.conftest import CHROMIUM

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Chromium is not installed"),
]
PARIS = ZoneInfo("Europe/Paris")
# Chromium logs every non-2xx fetch; the refused move below is one, on purpose.
EXPECTED_REFUSAL = "status of 422"


@pytest.fixture
def page(app, browser, live_server):
    """As tests/e2e's page (CSRF on, French, any script error or CSP violation fails the
    test), except for the one refusal this test provokes."""
    app.config["WTF_CSRF_ENABLED"] = True
    context = browser.new_context(base_url=live_server, locale="fr-FR")
    context.add_cookies([{"name": "relais_lang", "value": "fr", "url": live_server}])
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield page
    context.close()
    app.config["WTF_CSRF_ENABLED"] = False
    assert [e for e in errors if EXPECTED_REFUSAL not in e] == [], errors


def _setup(app, agency_id) -> dict:
    from agency.clients.services import create_client
    from agency.content.services import create_post
    from agency.extensions import db
    from agency.networks.services import add_account
    from tenants.context import tenant_scope

    with app.app_context(), app.test_request_context(), tenant_scope(agency_id):
        client = create_client({"name": "Fromagerie Lucas"})
        account = add_account(client, "sandbox", "Fromagerie")
        post = create_post(client, {"text": "Comté 24 mois", "target_ids": [account.id],
                                    "scheduled_at": datetime(NEXT_YEAR, 3, 10, 10,
                                                             tzinfo=PARIS)}, None)
        ids = {"client": client.id, "post": post.id}
        db.session.commit()
    return ids


def _scheduled(app, agency_id, post_id) -> datetime:
    from sqlalchemy import select

    from agency.content.models import Post
    from agency.content.slots import as_utc
    from agency.extensions import db
    from tenants.context import tenant_scope

    with app.app_context(), tenant_scope(agency_id):
        moment = db.session.scalars(select(Post.scheduled_at).where(Post.id == post_id)).one()
        db.session.rollback()
    return as_utc(moment).astimezone(PARIS)


def _archive(app, agency_id, client_id) -> None:
    from agency.clients.models import Client
    from agency.extensions import db
    from tenants.context import tenant_scope
    from tenants.scoping import tenant_get

    with app.app_context(), app.test_request_context(), tenant_scope(agency_id):
        tenant_get(Client, client_id).archived_at = datetime.now(UTC)
        db.session.commit()


def test_drag_a_post_to_another_day(app, page, committed_agency):
    from playwright.sync_api import expect

    agency_id = committed_agency["agency_id"]
    ids = _setup(app, agency_id)
    page.goto("/login")
    page.get_by_label("E-mail").fill(committed_agency["email"])
    page.get_by_label("Mot de passe").fill(committed_agency["password"])
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name="Clients")).to_be_visible()

    page.goto(f"/clients/{ids['client']}/calendar?date={NEXT_YEAR}-03-10")
    chip = page.locator(f'.cal-post[data-post-id="{ids["post"]}"]')
    expect(page.locator(f'.cal-day[data-date="{NEXT_YEAR}-03-10"]')).to_contain_text("Comté")
    chip.drag_to(page.locator(f'.cal-day[data-date="{NEXT_YEAR}-03-12"]'))
    target = page.locator(f'.cal-day[data-date="{NEXT_YEAR}-03-12"] .cal-post')
    expect(target).to_contain_text("Comté")
    expect(page.locator(f'.cal-day[data-date="{NEXT_YEAR}-03-10"] .cal-post')).to_have_count(0)
    expect(page.locator("#cal-status")).not_to_be_empty()
    moved = _scheduled(app, agency_id, ids["post"])
    assert (moved.date().isoformat(), moved.hour) == (f"{NEXT_YEAR}-03-12", 10)

    # Refused by the server (the client was archived meanwhile): said, and nothing moves.
    _archive(app, agency_id, ids["client"])
    target.drag_to(page.locator(f'.cal-day[data-date="{NEXT_YEAR}-03-13"]'))
    expect(page.locator("#cal-status")).to_have_class("cal-status is-error")
    expect(page.locator("#cal-status")).to_contain_text("archivé")  # the browser reads French
    expect(page.locator(f'.cal-day[data-date="{NEXT_YEAR}-03-12"] .cal-post')).to_have_count(1)
    assert _scheduled(app, agency_id, ids["post"]).day == 12

"""Browser tests: Playwright drives the system Chromium against a live server.

The server runs the real app in a thread with its ordinary sessions, so what a test
does is committed; each test makes its own agency and removes it afterwards.
"""

from __future__ import annotations

import os
import shutil
import threading
import uuid

import pytest
from werkzeug.serving import make_server

from agency.extensions import db as _db
from tests.committed import remove_agency as _remove_agency

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


def pytest_collection_modifyitems(config, items):
    if not os.path.exists(CHROMIUM):
        skip = pytest.mark.skip(reason="Chromium is not installed (apt-get install chromium)")
        for item in items:
            if "e2e" in str(item.fspath):
                item.add_marker(skip)


@pytest.fixture(scope="session")
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(app, browser, live_server):
    app.config["WTF_CSRF_ENABLED"] = True  # the browser posts real forms, tokens included
    context = browser.new_context(base_url=live_server, locale="fr-FR")
    # The suite's default language is English (its assertions read source strings);
    # in the browser a person sees the product's own default, French.
    context.add_cookies([{"name": "relais_lang", "value": "fr", "url": live_server}])
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield page
    context.close()
    app.config["WTF_CSRF_ENABLED"] = False
    assert errors == [], f"the browser reported errors: {errors}"


@pytest.fixture
def committed_agency(app):
    """A real, committed agency (owner + API token) removed after the test."""
    from agency.auth.services import create_agency

    suffix = uuid.uuid4().hex[:8]
    email = f"owner-{suffix}@e2e.test"
    password = "un mot de passe solide"
    with app.app_context(), app.test_request_context():
        created = create_agency(f"Agence E2E {suffix}", email, "Élodie", password)
        agency_id, user_id = created.agency.id, created.user.id
        _db.session.commit()
    yield {"email": email, "password": password, "agency_id": agency_id}
    _remove_agency(app, agency_id, user_id)



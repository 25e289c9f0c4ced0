"""Links made outside a request (jobs, commands) and the tenant around them."""

import uuid

from flask import url_for

from agency.notifications.urls import external_urls
from tenants.context import current_agency_id, tenant_scope


def test_links_use_the_public_url_and_the_tenant_survives(app, monkeypatch):
    monkeypatch.setitem(app.config, "SERVER_NAME", None)
    monkeypatch.setitem(app.config, "PUBLIC_URL", "https://relais.example")
    agency_id = uuid.uuid4()
    with app.app_context(), tenant_scope(agency_id):
        with external_urls():
            link = url_for("main.home", _external=True)
        # The stand-in request's teardown forgets the tenant; the command goes on as it.
        assert current_agency_id() == agency_id
    assert link.startswith("https://relais.example/")

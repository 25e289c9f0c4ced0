"""Who reaches the client area, and what a client-area session may reach.

A client-area session (``session["contact_id"]``, loaded as ``g.contact``) carries no
membership, so every staff permission check refuses it already; this guard adds a
second wall that does not depend on each staff view being decorated correctly: such a
session gets 403 on every page that is neither the client area nor open to anyone.
"""

from __future__ import annotations

import functools

from flask import abort, current_app, g, redirect, request, session, url_for
from flask_babel import refresh
from flask_login import current_user, login_required

from agency.clients.models import Client, Contact
from agency.i18n import supported
from tenants.scoping import tenant_get

# Pages a client-area session may still open: public pages and the account steps every
# signed-in person needs. The API never reads the cookie (it answers 401 without a
# token), and the portal treats everyone as a link holder.
OPEN_TO_CONTACTS = {
    "static", "main.set_language", "main.healthz", "auth.login", "auth.logout",
    "auth.choose_agency", "auth.signup", "auth.forgot_password", "auth.reset_password",
    "auth.accept_invitation", "notifications.outbox",
    # An owner's connection link may come back from the network's sign-in here.
    "connect.callback",
}
# The owner's connection link (owner_connect) is the owner's own, like the portal.
OWN_BLUEPRINTS = {"clientarea", "portal", "api", "owner_connect"}


def confine_contact_sessions():
    """``before_app_request``: a client-area session stays in the client area."""
    if "contact_id" not in session:
        return None
    endpoint = request.endpoint
    if (endpoint is None or endpoint in OPEN_TO_CONTACTS
            or endpoint.split(".")[0] in OWN_BLUEPRINTS):
        return None
    if not current_user.is_authenticated or g.get("contact") is None:
        return None  # a stale cookie: the page's own sign-in check answers
    if endpoint == "main.home":
        return redirect(url_for("clientarea.index"))
    abort(403)


def forget_contact(_exc=None) -> None:
    """``teardown_app_request``: nothing of one request's contact carries into the next."""
    g.pop("contact", None)
    g.pop("contact_client", None)


def current_area() -> tuple[Contact, Client]:
    """The signed-in contact and their client (404 for anyone else, staff included)."""
    contact = g.get("contact")
    if contact is None:
        abort(404)
    if "contact_client" not in g:
        g.contact_client = tenant_get(Client, contact.client_id)
    return contact, g.contact_client


def speak(language: str | None) -> None:
    """Use ``language`` (the client's) for the rest of this request."""
    g.force_locale = supported(language) or current_app.config["BABEL_DEFAULT_LOCALE"]
    refresh()


def contact_required(view):
    """Signed in to a client area; a staff session, even one that could see the client,
    gets 404 here. Pages speak the client's language."""

    @functools.wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        _contact, client = current_area()
        speak(client.language)
        return view(*args, **kwargs)

    return wrapper

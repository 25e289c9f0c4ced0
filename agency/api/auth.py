"""Bearer tokens: the only way into the API. Cookies are never consulted, so a browser
session cannot be ridden into the API (and the API needs no CSRF protection)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import g, request
from flask_babel import gettext as _
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from agency.auth.services import touch_api_token
from agency.auth.sessions import principal_from_api_token
from agency.extensions import db, login_manager
from tenants.context import clear_tenant

# Recording every request's use would make each read a write; a minute is precise
# enough to tell whether a token is still in use.
TOUCH_EVERY = timedelta(minutes=1)


def _challenge(error: str | None = None) -> WWWAuthenticate:
    parameters = {"realm": "Relais API"}
    if error:
        parameters["error"] = error  # RFC 6750 §3.1
    return WWWAuthenticate("bearer", parameters)


def _bearer_token() -> str | None:
    scheme, _sep, value = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def authenticate() -> None:
    """Resolve the bearer token into the request's user, membership and tenant, or 401."""
    # Anonymous until proven otherwise; set first so nothing (not even choosing the
    # language of an error message) makes Flask-Login read the session cookie.
    g._login_user = login_manager.anonymous_user()
    raw = _bearer_token()
    if raw is None:
        raise Unauthorized(_("Send an API token: Authorization: Bearer <token>."),
                           www_authenticate=_challenge())
    principal = principal_from_api_token(raw)
    if principal is None:
        clear_tenant()
        raise Unauthorized(_("This API token is not valid or has been revoked."),
                           www_authenticate=_challenge("invalid_token"))
    user, membership, token = principal
    g.membership = membership
    g._login_user = user  # where Flask-Login keeps the request's user; no cookie written
    _record_use(token)


def _record_use(token) -> None:
    last = token.last_used_at
    if last is not None and last.tzinfo is None:  # SQLite returns naive datetimes
        last = last.replace(tzinfo=UTC)
    if last is None or datetime.now(UTC) - last >= TOUCH_EVERY:
        touch_api_token(token)
        db.session.commit()  # nothing else is pending this early in the request

"""Language and timezone choice. French is the default; a person's choice is remembered
(on their account when signed in, in a cookie otherwise)."""

from __future__ import annotations

from flask import current_app, g, has_request_context, request
from flask_login import current_user

LANG_COOKIE = "relais_lang"


def supported(locale: str | None) -> str | None:
    return locale if locale in current_app.config["LANGUAGES"] else None


def select_locale() -> str:
    forced = getattr(g, "force_locale", None)
    if forced:
        return forced
    if not has_request_context():  # commands and jobs choose with force_locale
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and current_user.is_authenticated and supported(current_user.locale):
        return current_user.locale
    return supported(request.cookies.get(LANG_COOKIE)) or current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]

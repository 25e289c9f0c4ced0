"""The front door: home, language choice, health check."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import text

from agency.extensions import db
from agency.i18n import LANG_COOKIE, supported

bp = Blueprint("main", __name__)


@bp.get("/")
def home():
    if current_user.is_authenticated:
        return redirect(url_for("clients.index"))
    return redirect(url_for("auth.login"))


def safe_next(target: str | None, default: str) -> str:
    """Only same-site relative paths: an open redirect would help phishing."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


@bp.post("/language")
def set_language():
    lang = supported(request.form.get("lang")) or current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user.is_authenticated and current_user.locale != lang:
        current_user.locale = lang
        db.session.commit()
    response = redirect(safe_next(request.form.get("next"), url_for("main.home")))
    response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="Lax",
                        secure=current_app.config["SESSION_COOKIE_SECURE"], httponly=True)
    return response


@bp.get("/healthz")
def healthz():
    """Liveness and readiness: the database answers."""
    db.session.execute(text("SELECT 1"))
    return {"status": "ok"}

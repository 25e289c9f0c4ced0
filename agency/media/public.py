"""Signed public addresses for media that a network fetches itself.

Instagram and Google Business Profile take a photo by URL (their servers download it),
not by upload. Such an address names the stored file and is signed (itsdangerous, its
own salt) and short-lived: whoever holds it may read that one file until it expires,
nothing else. It needs ``PUBLIC_URL`` (the address the internet reaches Relais at):
without it there is no address a network could fetch, and ``public_media_url`` answers
an empty string, which the adapters turn into a clear refusal.

The route reads the storage key from the signature, never from the database: the
signed key is the whole authority, so no tenant needs to be set to serve it.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from .routes import _send
from .storage import InvalidKey, _check

SALT = "public-media"
# Long enough for a retry hours later to reuse the same container request, short enough
# that a leaked link soon stops working.
MAX_AGE = 24 * 60 * 60

bp = Blueprint("public_media", __name__)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def public_media_url(storage_key: str, mime: str, sha256: str) -> str:
    """An address anyone may fetch the file at for ``MAX_AGE``; "" without PUBLIC_URL."""
    base = current_app.config.get("PUBLIC_URL") or ""
    if not base:
        return ""
    token = _serializer().dumps({"k": storage_key, "m": mime, "s": sha256})
    return f"{base}/m/{token}"


@bp.get("/m/<token>")
def fetch(token: str):
    try:
        payload = _serializer().loads(token, max_age=MAX_AGE)
    except SignatureExpired:
        abort(410)
    except BadSignature:
        abort(404)
    if not isinstance(payload, dict):
        abort(404)
    key, mime, sha = (str(payload.get(k) or "") for k in ("k", "m", "s"))
    try:
        _check(key)
    except InvalidKey:
        abort(404)
    response = _send(key, mime, f"{sha[:16] or 'media'}{_ext(key)}", sha)
    # A network's fetcher may cache it; nobody else has the address.
    response.cache_control.private = False
    response.cache_control.public = True
    return response


def _ext(key: str) -> str:
    return key[key.rfind("."):] if "." in key else ""

"""Signed, expiring links (itsdangerous), each kind with its own salt so a token made
for one purpose is never accepted for another."""

from __future__ import annotations

from enum import Enum

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer


class LinkError(Enum):
    EXPIRED = "expired"
    INVALID = "invalid"


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def make_link_token(salt: str, payload: dict) -> str:
    return _serializer(salt).dumps(payload)


def read_link_token(salt: str, token: str, max_age: int) -> dict | LinkError:
    """The payload, or why the token cannot be used (expired vs. tampered)."""
    try:
        return _serializer(salt).loads(token, max_age=max_age)
    except SignatureExpired:
        return LinkError.EXPIRED
    except BadSignature:
        return LinkError.INVALID

"""The networks' secrets (access tokens, app passwords, sessions) encrypted at rest.

Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) under ``TOKEN_ENCRYPTION_KEY``.
Several comma-separated keys rotate: the first encrypts, all decrypt. A key may be a Fernet
key or any long passphrase (stretched with SHA-256). Without a key, outside production, the
key is derived from ``SECRET_KEY``, which is fine for development only (config.py refuses
production without one).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app


class CredentialsUnreadable(RuntimeError):
    """Stored credentials no key can decrypt (a key was rotated out too early)."""


def _fernet_key(raw: str) -> bytes:
    try:
        if len(base64.urlsafe_b64decode(raw.encode())) == 32:
            return raw.encode()
    except ValueError:
        pass
    return base64.urlsafe_b64encode(hashlib.sha256(raw.encode()).digest())


def _fernet() -> MultiFernet:
    configured = current_app.config.get("TOKEN_ENCRYPTION_KEY") or ""
    keys = [k.strip() for k in configured.split(",") if k.strip()]
    if not keys:
        keys = ["relais-dev-token-key:" + current_app.config["SECRET_KEY"]]
    return MultiFernet([Fernet(_fernet_key(k)) for k in keys])


def seal(credentials: dict[str, Any]) -> str:
    """Encrypt a dict of secrets into an opaque string for the database."""
    if not credentials:
        return ""
    return _fernet().encrypt(json.dumps(credentials, sort_keys=True).encode()).decode()


def unseal(sealed: str) -> dict[str, Any]:
    """The secrets back; ``CredentialsUnreadable`` if no configured key opens them."""
    if not sealed:
        return {}
    try:
        return json.loads(_fernet().decrypt(sealed.encode()))
    except InvalidToken:
        raise CredentialsUnreadable("no TOKEN_ENCRYPTION_KEY opens these credentials") from None

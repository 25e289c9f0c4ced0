"""Renewing an X account's access, ahead of time (token_health) or while publishing.

X access tokens last two hours; with ``offline.access`` a refresh token comes with them,
and X **rotates** it at every refresh: the old one stops working the moment a new one is
issued (oauth-2-0/authorization-code, "Refresh tokens"). Two renewals of one account at
once would therefore lose the account: the loser presents a dead token, and the winner's
new one may never be stored. Hence:

- ``refresh_credentials`` is the one renewal call (``POST /2/oauth2/token``,
  ``grant_type=refresh_token``): the complete new credentials, or ``AuthExpiredError``
  when X refuses the refresh token.
- ``token_health.check_account`` renews ahead of expiry under the account's Redis lock
  (``token_health.lock_name``). ``renew_while_publishing`` takes **the same lock** before
  renewing from inside a publish, and does not wait for it: held means another worker is
  renewing (its new token is about to be stored), so this attempt is retried shortly and
  will start from the stored credentials.
- Once renewed while publishing, the new refresh token exists only in this worker's
  memory until the engine stores ``credentials_after_use()`` after ``publish`` returns.
  The lock is therefore **not released**: it is left to run out after the publication's
  lease (by when the engine has stored them, or the attempt is no longer the
  publication's), so token_health cannot meanwhile renew the stale stored token, which X
  would refuse — and token_health would then expire an account that works.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid

from flask import current_app
from flask_babel import gettext as _

from agency.redis_conn import get_redis

from .base import AuthExpiredError, NetworkError, RetryableError
from .token_health import lock_name
from .x_api import XApi, credentials_from

log = logging.getLogger(__name__)

LOCK_BUSY_RETRY_SECONDS = 30.0


def refresh_credentials(credentials: dict) -> dict:
    """The complete new credentials for ``credentials`` (new access and refresh tokens,
    ``expires_at``, ``refreshable``). ``AuthExpiredError`` when there is no refresh token
    or X refuses it; ``RetryableError``/``OutcomeUnknown`` when X cannot answer now."""
    refresh = str(credentials.get("refresh_token") or "")
    if not refresh:
        raise AuthExpiredError(_("This X account's access cannot be renewed without a person. "
                                 "Reconnect the X account."), detail="no refresh_token")
    with XApi() as api:
        # client_id also in the form, as X's example request has it (Basic carries it too).
        answer = api.token_call({"grant_type": "refresh_token", "refresh_token": refresh,
                                 "client_id": current_app.config["X_CLIENT_ID"]})
    return credentials_from(answer, previous_refresh=refresh)


def fingerprint(token: str) -> str:
    """A short one-way mark of a (refused, hence dead) refresh token, to recognise it on
    the next attempt without keeping it anywhere in clear."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def _hold_seconds() -> float:
    config = current_app.config
    # Past the end of the lease of the attempt that renewed: the engine settles (and
    # stores the credentials) within the lease, or the attempt is not the publication's.
    return float(config["PUBLISH_LEASE_SECONDS"]) + 4 * float(config["NETWORK_TIMEOUT_SECONDS"])


def renew_while_publishing(account_id: uuid.UUID, credentials: dict) -> dict:
    """Renew from inside a publish, under token_health's per-account lock (left held on
    success, see the module's docstring). ``RetryableError`` when another worker holds
    the lock; otherwise as ``refresh_credentials``."""
    lock = get_redis().lock(lock_name(account_id), timeout=_hold_seconds())
    if not lock.acquire(blocking=False):
        raise RetryableError(_("X's access for this account is being renewed right now. "
                               "Relais will try again in a moment."),
                             retry_after=LOCK_BUSY_RETRY_SECONDS,
                             detail=f"account {account_id}: refresh lock held")
    try:
        renewed = refresh_credentials(credentials)
    except NetworkError:
        lock.release()  # nothing new to protect: the next renewal may go ahead
        raise
    log.info("account %s: X access renewed while publishing (lock kept %.0f s)",
             account_id, _hold_seconds())
    return renewed


def expiring(credentials: dict, margin: float = 60.0) -> bool:
    """Whether the access token is expired or about to (``expires_at`` epoch seconds)."""
    try:
        return float(credentials.get("expires_at")) <= time.time() + margin
    except (TypeError, ValueError):
        return False

"""Token health: renew the networks' tokens before they expire, and warn the agency in
time about the ones only a person can renew.

Per account (``check_account``, run by one thin job per account, see jobs.py):

- credentials carrying ``expires_at`` and ``refreshable`` (the convention of
  ``networks.base.Network``) are renewed once they expire within
  ``TOKEN_REFRESH_AHEAD_SECONDS``. A Redis lock per account (non-blocking) makes sure two
  workers never refresh the same token at once: a network that rotates refresh tokens
  would otherwise revoke the one the other worker just received. The winner reloads the
  account under the lock, so a refresh done meanwhile is seen and not repeated.
- a refusal of the refresh (``AuthExpiredError``) expires the account the way the engine
  does: its waiting publications are held (not failed) and resume when it is
  reconnected; the client's staff are told once.
- credentials that cannot be refreshed get the client's staff warned once
  ``TOKEN_EXPIRY_WARNING_DAYS`` before they expire, once per expiry (recorded in the
  account's settings as ``expiry_warned_at`` / ``expiry_warned_for``).

The cross-agency scan (``accounts_to_check``) returns ids only: on PostgreSQL through the
SECURITY DEFINER function of migration 0008, on SQLite as a system-scoped query.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from flask import current_app, render_template, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from redis.exceptions import LockError
from sqlalchemy import select, text

from agency.audit.services import record
from agency.clients.models import Client
from agency.extensions import db
from agency.i18n import supported
from agency.notifications.mail import send_mail
from agency.redis_conn import get_redis
from tenants.context import tenant_scope
from tenants.scoping import system_scope

from . import owner_link, registry
from .base import AuthExpiredError, NetworkError
from .credentials import CredentialsUnreadable, seal, unseal
from .models import AccountStatus, SocialAccount

log = logging.getLogger(__name__)

DAY = 24 * 3600


class Outcome:
    """What ``check_account`` did, as the job's result (for logs and tests)."""

    SKIPPED = "skipped"  # gone, not connected, no credentials, archived client
    UNREADABLE = "unreadable"  # no configured key opens the credentials
    NO_EXPIRY = "no_expiry"
    NOT_DUE = "not_due"
    LOCKED = "locked"  # another worker is on this account right now
    REFRESHED = "refreshed"
    RETRY_LATER = "retry_later"  # the network could not answer: the next check retries
    EXPIRED = "expired"  # the refresh was refused: account expired, publications held
    WARNED = "warned"
    ALREADY_WARNED = "already_warned"


# --- the cross-agency scan: the one system path of this module ----------------------------

def accounts_to_check() -> list[tuple[uuid.UUID, uuid.UUID]]:
    """``(agency_id, account_id)`` of every connected account with credentials, in any
    agency. Ids only: whether a token is due is judged per account, inside its agency
    (the credentials are sealed, the database cannot read their expiry)."""
    if db.session.get_bind().dialect.name == "postgresql":
        rows = db.session.execute(
            text("SELECT agency_id, account_id FROM relais_accounts_to_check()"))
        return [(uuid.UUID(str(a)), uuid.UUID(str(b))) for a, b in rows]
    return _accounts_without_rls()


def _accounts_without_rls() -> list[tuple[uuid.UUID, uuid.UUID]]:
    # Kept in step with relais_accounts_to_check (migration 0008).
    stmt = (select(SocialAccount.agency_id, SocialAccount.id)
            .where(SocialAccount.status == AccountStatus.CONNECTED,
                   SocialAccount.credentials != "")
            .order_by(SocialAccount.agency_id, SocialAccount.id)
            .execution_options(**system_scope("token health: connected accounts of every "
                                              "agency (ids only)")))
    return [(row[0], row[1]) for row in db.session.execute(stmt)]


# --- one account, inside its agency --------------------------------------------------------

def lock_name(account_id: uuid.UUID) -> str:
    return f"{current_app.config['REDIS_KEY_PREFIX']}token-refresh:{account_id}"


def _lock_timeout() -> float:
    # Outlives one refresh call (the adapter's timeout, a retry inside it) with room to
    # spare; a worker that dies holding it frees the account when it runs out.
    return max(60.0, 4 * float(current_app.config["NETWORK_TIMEOUT_SECONDS"]))


def expires_at(credentials: dict) -> float | None:
    """When ``credentials`` stop working (epoch seconds), or None if they do not say."""
    value = credentials.get("expires_at")
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def check_account(agency_id: uuid.UUID, account_id: uuid.UUID,
                  now: datetime | None = None) -> str:
    """Refresh, expire or warn about one account's token as due at ``now``, as its agency;
    commits what it changed. Returns an ``Outcome`` value.

    Safe to run twice or in two workers at once: everything that writes happens under the
    account's Redis lock, after reloading the account; a held lock means "skip" (the other
    worker does the work). No transaction stays open while the network is called."""
    now = _utc(now or datetime.now(UTC))
    try:
        with tenant_scope(agency_id):
            outcome = _check(account_id, now)
            db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return outcome


def _load(account_id: uuid.UUID, *, lock: bool = False) -> SocialAccount | None:
    stmt = (select(SocialAccount).where(SocialAccount.id == account_id)
            .execution_options(populate_existing=True))
    if lock:
        stmt = stmt.with_for_update()
    return db.session.scalars(stmt).one_or_none()


def _due(account: SocialAccount | None, now: datetime) -> tuple[str, dict | None]:
    """What is due for ``account`` at ``now``: ("refresh" | "warn", credentials) or an
    ``Outcome`` with None when nothing is."""
    if account is None or account.status != AccountStatus.CONNECTED or not account.credentials:
        return Outcome.SKIPPED, None
    client = db.session.scalars(select(Client).where(Client.id == account.client_id)).one()
    if client.is_archived:
        return Outcome.SKIPPED, None
    try:
        credentials = unseal(account.credentials)
    except CredentialsUnreadable:
        log.error("account %s: no TOKEN_ENCRYPTION_KEY opens its credentials", account.id)
        return Outcome.UNREADABLE, None
    expiry = expires_at(credentials)
    if expiry is None:
        return Outcome.NO_EXPIRY, None
    remaining = expiry - now.timestamp()
    if credentials.get("refreshable") is True:
        if remaining <= current_app.config["TOKEN_REFRESH_AHEAD_SECONDS"]:
            return "refresh", credentials
        return Outcome.NOT_DUE, None
    if remaining <= current_app.config["TOKEN_EXPIRY_WARNING_DAYS"] * DAY:
        return "warn", credentials
    return Outcome.NOT_DUE, None


def _check(account_id: uuid.UUID, now: datetime) -> str:
    what, _credentials = _due(_load(account_id), now)
    if what not in ("refresh", "warn"):
        return what
    db.session.rollback()  # no transaction waits on the lock or on the network
    lock = get_redis().lock(lock_name(account_id), timeout=_lock_timeout())
    if not lock.acquire(blocking=False):
        return Outcome.LOCKED
    try:
        # Reloaded under the lock: the worker that held it may have refreshed already.
        account = _load(account_id)
        what, credentials = _due(account, now)
        if what == "refresh":
            return _refresh(account, credentials, now)
        if what == "warn":
            return _warn(account_id, credentials, now)
        return what
    finally:
        try:
            lock.release()
        except LockError:  # it ran out meanwhile: said loudly, the work is done anyway
            log.warning("account %s: the refresh lock expired before release", account_id)


def _refresh(account: SocialAccount, credentials: dict, now: datetime) -> str:
    account_id, sealed_before, network = account.id, account.credentials, account.network
    db.session.rollback()  # the network is called outside any transaction
    try:
        renewed = registry.adapter_for(network).refresh(credentials)
    except AuthExpiredError as error:
        return _expire(account_id, sealed_before, error.reason)
    except NetworkError as error:
        log.warning("account %s: refresh failed, retried at the next check: %s %s",
                    account_id, error.reason, error.detail)
        return Outcome.RETRY_LATER
    if renewed is None:
        # The adapter has nothing to refresh after all: a person must reconnect in time.
        return _warn(account_id, credentials, now)
    account = _load(account_id, lock=True)
    if account is None or account.credentials != sealed_before:
        # Reconnected (or removed) by a person meanwhile: what they stored wins.
        log.info("account %s: credentials changed during refresh; keeping them", account_id)
        return Outcome.SKIPPED
    account.credentials = seal(renewed)
    db.session.flush()
    record("account.token_refreshed", account, actor_label="Relais",
           details={"client": str(account.client_id), "network": network,
                    "expires_at": expires_at(renewed)})
    return Outcome.REFRESHED


def _expire(account_id: uuid.UUID, sealed_before: str, reason: str) -> str:
    from agency.publishing import notify
    from agency.publishing.services import hold_account

    account = _load(account_id, lock=True)
    if (account is None or account.status != AccountStatus.CONNECTED
            or account.credentials != sealed_before):
        return Outcome.SKIPPED  # already expired, or reconnected meanwhile
    reason = reason or _("The network refused to renew the connection.")
    held = hold_account(account, reason)
    record("account.expired", account, actor_label="Relais",
           details={"client": str(account.client_id), "network": account.network,
                    "held": held, "reason": reason[:500]})
    notify.account_expired(account)
    owner_link.send_reconnect_links(account, "expired")  # the owner may renew it themselves
    return Outcome.EXPIRED


def _locale(user) -> str:
    return supported(user.locale) or current_app.config["BABEL_DEFAULT_LOCALE"]


def _warn(account_id: uuid.UUID, credentials: dict, now: datetime) -> str:
    from agency.approvals.services import client_time, decision_recipients

    account = _load(account_id, lock=True)
    expiry = expires_at(credentials)
    settings = dict(account.settings or {}) if account is not None else {}
    if account is None or settings.get("expiry_warned_for") == expiry:
        return Outcome.ALREADY_WARNED
    account.settings = {**settings, "expiry_warned_at": now.isoformat(),
                        "expiry_warned_for": expiry}  # a new dict, so the JSON column sees it
    db.session.flush()
    client = db.session.scalars(select(Client).where(Client.id == account.client_id)).one()
    expiry_at = datetime.fromtimestamp(expiry, UTC)
    link = url_for("clients.show", client_id=client.id, _external=True)
    recipients = decision_recipients(client)
    for user in recipients:
        with force_locale(_locale(user)):
            send_mail(user.email,
                      _("Reconnect %(account)s for %(client)s before its access expires",
                        account=account.display_name, client=client.name),
                      render_template("mail/account_expiring.txt", user=user, client=client,
                                      account=account, expires_at=expiry_at,
                                      when=client_time, link=link))
    owners = owner_link.send_reconnect_links(account, "expiring")  # the owner may renew it
    record("account.expiry_warned", account, actor_label="Relais",
           details={"client": str(account.client_id), "network": account.network,
                    "expires_at": expiry, "recipients": len(recipients), "owners": owners})
    return Outcome.WARNED

"""Social account writes: the sandbox added by hand, and the plan's room for one more
account (the networks' own connect flows add theirs and call ``check_room`` first)."""

from __future__ import annotations

from flask_babel import gettext as _

from agency.audit.services import record
from agency.auth.services import ServiceError
from agency.clients.models import Client
from agency.extensions import db

from .models import AccountStatus, SocialAccount


def check_room(client: Client) -> None:
    """``ServiceError`` when the client's plan has no room for another account."""
    from sqlalchemy import func, select

    from billing.limits import check_accounts

    connected = db.session.scalar(select(func.count()).select_from(SocialAccount).where(
        SocialAccount.client_id == client.id))
    check_accounts(client, connected or 0)

ADDABLE_BY_HAND = ("sandbox",)


def add_account(client: Client, network: str, display_name: str, handle: str = "") -> SocialAccount:
    """Add an account to a client workspace (sandbox only until OAuth connections exist)."""
    if network not in ADDABLE_BY_HAND:
        raise ServiceError(_("This network is connected through its own sign-in, "
                             "which is not available yet."), field="network")
    display_name = display_name.strip()
    if not display_name or len(display_name) > 120:
        raise ServiceError(_("Give the account a name (120 characters at most)."),
                           field="display_name")
    check_room(client)
    account = SocialAccount(client_id=client.id, network=network, display_name=display_name,
                            handle=handle.strip()[:120], status=AccountStatus.CONNECTED)
    db.session.add(account)
    db.session.flush()
    record("account.added", account, details={"network": network, "client": str(client.id)})
    return account


LATENCY_MAX_MS = 10_000


def set_sandbox_settings(account: SocialAccount, latency_ms, fail_rate, fail_mode) -> None:
    """Set what a sandbox account simulates: a delay before each answer (0–10000 ms), the
    share of attempts that fail (0–1) and how they fail (``sandbox.FAIL_MODES``). Values
    may come as text from a form ("0,1" is read as 0.1). All are checked before any is
    set; the account's other settings are kept; the change is audited."""
    from .sandbox import FAIL_MODES

    if account.network != "sandbox":
        raise ServiceError(_("Only a sandbox account can simulate delays and failures."))
    try:
        latency = int(str(latency_ms if latency_ms is not None else "").strip() or 0)
    except ValueError:
        latency = -1
    if not 0 <= latency <= LATENCY_MAX_MS:
        raise ServiceError(_("Write the delay as a whole number of milliseconds, from 0 to "
                             "%(max)d.", max=LATENCY_MAX_MS), field="latency_ms")
    try:
        rate = float(str(fail_rate if fail_rate is not None else "").strip()
                     .replace(",", ".") or 0)
    except ValueError:
        rate = -1.0
    if not 0 <= rate <= 1:  # also refuses NaN and infinities
        raise ServiceError(_("Write the share of failures as a number from 0 to 1 (0.1 is "
                             "one attempt in ten)."), field="fail_rate")
    mode = str(fail_mode or "").strip() or FAIL_MODES[0]
    if mode not in FAIL_MODES:
        raise ServiceError(_("Choose how the failures happen."), field="fail_mode")
    settings = dict(account.settings or {})
    before = {key: settings.get(key) for key in ("latency_ms", "fail_rate", "fail_mode")}
    after = {"latency_ms": latency, "fail_rate": rate, "fail_mode": mode}
    account.settings = {**settings, **after}  # a new dict, so the JSON column sees it
    db.session.flush()
    record("account.sandbox_settings_changed", account,
           details={"client": str(account.client_id), "before": before, "after": after})

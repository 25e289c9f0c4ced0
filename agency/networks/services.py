"""Social account writes. Real OAuth connections arrive with the network adapters; for now
accounts are added by hand (the built-in sandbox network publishes inside Relais)."""

from __future__ import annotations

from flask_babel import gettext as _

from agency.audit.services import record
from agency.auth.services import ServiceError
from agency.clients.models import Client
from agency.extensions import db

from .models import AccountStatus, SocialAccount

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
    account = SocialAccount(client_id=client.id, network=network, display_name=display_name,
                            handle=handle.strip()[:120], status=AccountStatus.CONNECTED)
    db.session.add(account)
    db.session.flush()
    record("account.added", account, details={"network": network, "client": str(client.id)})
    return account

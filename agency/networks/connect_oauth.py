"""Saving the pages a person picked after an OAuth sign-in (see oauth.py): one
``SocialAccount`` per page, or the existing one reconnected."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from agency.audit.services import record
from agency.auth.services import ServiceError
from agency.clients.models import Client
from agency.extensions import db
from agency.publishing.services import account_reconnected

from .credentials import seal
from .models import AccountStatus, SocialAccount
from .oauth import Choice
from .services import check_room


def add_choices(client: Client, network: str, chosen: list[Choice], *, via: str = "oauth",
                by: str = "") -> list[SocialAccount]:
    """Add each chosen page to the client (flushes, never commits). A page the client
    already has on this network (same external id) is reconnected in place: new
    credentials, status connected, and its held publications resume. Audited per page,
    with ``via`` (the staff's sign-in, or "owner_link") and ``by`` (who, when that is no
    signed-in person: the contact the owner link was sent to)."""
    if client.is_archived:
        raise ServiceError(_("This client is archived. Restore it before making changes."))
    if not chosen:
        raise ServiceError(_("Choose at least one page to add."), field="pages")
    # Facebook's first accounts may predate ``external_id``: their page id says the same.
    existing = {str((a.settings or {}).get("external_id")
                    or (a.settings or {}).get("page_id") or ""): a
                for a in db.session.scalars(select(SocialAccount).where(
                    SocialAccount.client_id == client.id, SocialAccount.network == network))}
    saved = []
    for choice in chosen:
        settings = {**choice.settings, "external_id": choice.external_id,
                    "connected_via": "oauth"}
        account = existing.get(choice.external_id)
        if account is None:
            check_room(client)
            account = SocialAccount(client_id=client.id, network=network,
                                    display_name=choice.display_name[:120],
                                    handle=choice.handle[:120], settings=settings,
                                    credentials=seal(choice.credentials),
                                    status=AccountStatus.CONNECTED)
            db.session.add(account)
            db.session.flush()
            record("account.connected", account, details={
                "network": network, "client": str(client.id), "external_id": choice.external_id,
                "via": via, **({"by": by} if by else {})})
        else:
            was = account.status.value
            account.display_name = choice.display_name[:120]
            account.handle = choice.handle[:120]
            account.settings = settings  # a new dict: JSON columns only see reassignment
            account.credentials = seal(choice.credentials)
            account.status, account.status_reason = AccountStatus.CONNECTED, ""
            db.session.flush()
            record("account.reconnected", account, details={
                "network": network, "client": str(client.id), "external_id": choice.external_id,
                "via": via, **({"by": by} if by else {}), "was": was})
            account_reconnected(account)
        saved.append(account)
    return saved

"""Owner-led connection: a signed, expiring link that lets the person who owns a client's
accounts (the SME's owner) connect or reconnect them, signing in on each network
themselves, with no Relais account. The agency never sees their password.

The link is the principal, as the approval portal's is. Signed with its own salt
(itsdangerous), valid ``LINK_MAX_AGE`` (7 days), it names the agency (the tenant), the
client, the contact it was sent to, the networks offered (or "any": every network this
Relais can connect), an id (``jti``, for the audit log) and, for a reconnect link, the one
account. Nothing is stored: a link works until it expires, and archiving the client or
removing the contact voids it at once.

The sign-in itself reuses the OAuth flow (oauth.py ``make_owner_state``: a state bound to
the link instead of a person) and Bluesky's app-password service; the pages are
routes_owner.py. This module makes and reads links, mails them, and tells the agency.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app, render_template, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from agency.audit.services import record
from agency.auth.services import ServiceError
from agency.clients.models import Client, Contact
from agency.extensions import db
from agency.i18n import supported
from agency.notifications.mail import send_mail
from tenants.context import set_tenant

from . import oauth
from .credentials import CredentialsUnreadable, unseal
from .models import AccountStatus, SocialAccount

SALT = "relais.owner-connect-link"
LINK_MAX_AGE = 7 * 24 * 3600
ANY = "any"
BLUESKY = "bluesky"  # connected with a handle and an app password (connect_bluesky.py)


class Action:
    SENT = "owner_link.sent"
    USED = "owner_link.used"


# --- which networks an owner can connect from a link --------------------------------------

def connectable() -> list[str]:
    """Every network a link may offer, in the order the page lists them: the OAuth
    networks (configured or not: the page says which cannot be used), then Bluesky."""
    return [*oauth.providers(), BLUESKY]


def available(network: str) -> bool:
    """Whether an owner can connect ``network`` from a link on this Relais right now."""
    if network == BLUESKY:
        return True
    provider = oauth.provider_for(network)
    return provider is not None and provider.configured()


def network_label(network: str) -> str:
    from agency.content.forms import network_name

    provider = oauth.provider_for(network)
    return provider.display_name if provider is not None else network_name(network)


# --- the link -----------------------------------------------------------------------------

@dataclass(frozen=True)
class OwnerLink:
    agency_id: uuid.UUID
    client_id: uuid.UUID
    contact_id: uuid.UUID
    networks: tuple[str, ...]  # empty: any
    jti: str
    account_id: uuid.UUID | None
    issued_at: datetime

    @property
    def expires_at(self) -> datetime:
        return self.issued_at + timedelta(seconds=LINK_MAX_AGE)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def make_token(*, agency_id, client_id, contact_id, networks: list[str] | str,
               account_id=None) -> tuple[str, str]:
    """A new link's token and its id (``jti``)."""
    jti = uuid.uuid4().hex
    payload = {"a": str(agency_id), "c": str(client_id), "p": str(contact_id),
               "n": ANY if networks == ANY else list(networks), "j": jti}
    if account_id is not None:
        payload["r"] = str(account_id)
    return _serializer().dumps(payload), jti


def parse(token: str) -> OwnerLink | None:
    """The link a genuine token names, expired or not; ``None`` if tampered."""
    try:
        data, issued = _serializer().loads(token or "", return_timestamp=True)
        networks = data["n"]
        return OwnerLink(
            uuid.UUID(data["a"]), uuid.UUID(data["c"]), uuid.UUID(data["p"]),
            () if networks == ANY else tuple(str(n) for n in networks), str(data["j"]),
            uuid.UUID(data["r"]) if data.get("r") else None, issued)
    except (BadSignature, KeyError, ValueError, TypeError, AttributeError):
        return None


class Refused(Exception):
    """Why a link cannot be used: ``kind`` says which page to show, ``status`` its code."""

    STATUS = {"invalid": 400, "not_found": 404, "expired": 410, "archived": 410, "gone": 410}

    def __init__(self, kind: str, *, agency_name: str = "", language: str | None = None):
        super().__init__(kind)
        self.kind, self.status = kind, self.STATUS[kind]
        self.agency_name, self.language = agency_name, language


@dataclass
class OwnerAccess:
    link: OwnerLink
    agency_name: str
    client: Client
    contact: Contact
    account: SocialAccount | None  # a reconnect link's one account

    @property
    def networks(self) -> list[str]:
        if self.account is not None:
            return [self.account.network]
        offered = set(self.link.networks)
        return [n for n in connectable() if not offered or n in offered]

    def offers(self, network: str) -> bool:
        return network in self.networks

    @property
    def binding(self) -> str:
        """What the sealed choices are bound to in place of a person (oauth.py)."""
        return f"owner-link:{self.link.jti}"


def resolve(token: str, *, now: datetime | None = None) -> OwnerAccess:
    """The access a link gives; its agency becomes the tenant for the rest of the request
    (as the portal's links do). ``Refused``: tampered (400), not this agency's client or
    account (404), expired, archived client or removed contact (410)."""
    from tenants.models import Agency

    link = parse(token)
    if link is None:
        raise Refused("invalid")
    set_tenant(link.agency_id)
    agency = db.session.scalars(select(Agency).where(Agency.id == link.agency_id)).one_or_none()
    if agency is None:
        raise Refused("invalid")
    client = db.session.scalars(select(Client).where(Client.id == link.client_id)).one_or_none()
    if client is None:
        raise Refused("not_found")
    refused = {"agency_name": agency.name, "language": client.language}
    if (now or datetime.now(UTC)) >= link.expires_at:
        raise Refused("expired", **refused)
    if client.is_archived:
        raise Refused("archived", **refused)
    contact = db.session.scalars(select(Contact).where(
        Contact.id == link.contact_id, Contact.client_id == client.id)).one_or_none()
    if contact is None:
        raise Refused("gone", **refused)
    account = None
    if link.account_id is not None:
        account = db.session.scalars(select(SocialAccount).where(
            SocialAccount.id == link.account_id,
            SocialAccount.client_id == client.id)).one_or_none()
        if account is None:
            raise Refused("not_found", **refused)
    return OwnerAccess(link, agency.name, client, contact, account)


@dataclass
class Entry:
    """One network on the owner's page."""

    key: str
    name: str
    needs: str
    oauth: bool
    available: bool


def entries(access: OwnerAccess) -> list[Entry]:
    """The networks ``access`` offers, as the owner's page lists them."""
    found = []
    for key in access.networks:
        provider = oauth.provider_for(key)
        needs = (str(provider.needs) if provider else
                 _("a Bluesky account you can sign in to, to create an app password"))
        found.append(Entry(key, network_label(key), needs, provider is not None,
                             available(key)))
    return found


# --- sending ------------------------------------------------------------------------------

def _language(client: Client) -> str:
    return supported(client.language) or "fr"  # the client's language, French by default


def _expiry(account: SocialAccount) -> float | None:
    from .token_health import expires_at

    try:
        return expires_at(unseal(account.credentials)) if account.credentials else None
    except CredentialsUnreadable:
        return None


def send_link(client: Client, contact: Contact | None, networks: list[str] | str, *,
              account: SocialAccount | None = None, sender: str = "",
              actor_label: str | None = None) -> str:
    """E-mail ``contact`` a link to connect ``networks`` (or ``ANY``) of ``client``, or to
    reconnect ``account``; after the commit, in the client's language. ``sender`` is the
    person named as sending it (empty: the agency). Audited; returns the link. Refusals
    are ``ServiceError``s on the field at fault. Flushes, never commits."""
    from agency.approvals.services import client_time
    from tenants.context import current_agency

    if client.is_archived:
        raise ServiceError(_("This client is archived. Restore it before making changes."))
    if contact is None or contact.client_id != client.id:
        raise ServiceError(_("Choose who receives the link."), field="contact")
    if not contact.email:
        raise ServiceError(_("%(name)s has no e-mail address: add one to the contact first.",
                             name=contact.name), field="contact")
    if account is not None:
        networks = [account.network]
    elif networks != ANY:
        networks = [n for n in connectable() if n in set(networks) and available(n)]
    if account is not None and not available(account.network):
        raise ServiceError(_("The owner cannot reconnect this account from a link."))
    if networks != ANY and not networks:
        raise ServiceError(_("Choose at least one network."), field="networks")
    token, jti = make_token(agency_id=client.agency_id, client_id=client.id,
                            contact_id=contact.id, networks=networks,
                            account_id=account.id if account else None)
    link = url_for("owner_connect.page", token=token, _external=True)
    agency_name = current_agency.name
    offered = connectable() if networks == ANY else networks
    expired = account is not None and account.status != AccountStatus.CONNECTED
    expiry = _expiry(account) if account is not None and not expired else None
    with force_locale(_language(client)):
        subject = (_("Reconnect %(account)s for %(client)s", account=account.display_name,
                     client=client.name) if account is not None else
                   _("%(agency)s asks you to connect the accounts of %(client)s",
                     agency=agency_name, client=client.name))
        send_mail(contact.email, subject, render_template(
            "mail/owner_link.txt", contact=contact, client=client, agency_name=agency_name,
            sender=sender, account=account, expired=expired, when=client_time, link=link,
            expiry=datetime.fromtimestamp(expiry, UTC) if expiry else None,
            networks=", ".join(network_label(n) for n in offered if available(n)),
            expires_at=datetime.now(UTC) + timedelta(seconds=LINK_MAX_AGE)))
    record(Action.SENT, client, actor_label=actor_label, details={
        "client": str(client.id), "contact": str(contact.id), "jti": jti,
        "networks": networks, "account": str(account.id) if account else None})
    return link


def send_reconnect_links(account: SocialAccount, kind: str) -> int:
    """Token health's part (``kind`` "expiring" at the 14-day warning, "expired" when a
    refresh is refused): send each approving contact of the client a reconnect link for
    ``account``, once per expiry (``owner_link_sent_for`` in the account's settings, as
    the warning's ``expiry_warned_for``). Nothing for a network an owner cannot connect
    from a link. Returns how many were sent."""
    from agency.approvals.services import approvers

    if not available(account.network):
        return 0
    client = db.session.scalars(select(Client).where(Client.id == account.client_id)).one()
    if client.is_archived:
        return 0
    mark = f"{kind}:{_expiry(account)}"
    settings = dict(account.settings or {})
    if settings.get("owner_link_sent_for") == mark:
        return 0
    account.settings = {**settings, "owner_link_sent_for": mark}  # a new dict: JSON column
    db.session.flush()
    contacts = approvers(client)  # those who approve posts, with an e-mail
    for contact in contacts:
        send_link(client, contact, [account.network], account=account, actor_label="Relais")
    return len(contacts)


# --- once the owner connected -------------------------------------------------------------

def connected(access: OwnerAccess, network: str, accounts: list[SocialAccount],
              reconnected: set[uuid.UUID]) -> None:
    """Audit the link's use and tell the client's staff (those told of account problems)
    what the owner connected, each in their own language, after the commit."""
    from agency.approvals.services import decision_recipients

    client, contact = access.client, access.contact
    record(Action.USED, client, actor_label=f"{contact.name} <{contact.email}>"[:254],
           details={"client": str(client.id), "contact": str(contact.id),
                    "jti": access.link.jti, "network": network, "via": "owner_link",
                    "accounts": [str(a.id) for a in accounts],
                    "reconnected": sorted(str(a) for a in reconnected)})
    link = url_for("clients.show", client_id=client.id, _anchor="accounts", _external=True)
    names = ", ".join(a.display_name for a in accounts)
    for user in decision_recipients(client):
        with force_locale(supported(user.locale) or current_app.config["BABEL_DEFAULT_LOCALE"]):
            send_mail(user.email, _("%(who)s connected %(network)s for %(client)s",
                                    who=contact.name, network=network_label(network),
                                    client=client.name),
                      render_template("mail/owner_connected.txt", user=user, contact=contact,
                                      client=client, network=network_label(network),
                                      names=names, reconnected=bool(reconnected), link=link))


def reconnect_offered(account: SocialAccount, now: datetime | None = None) -> bool:
    """Whether the accounts list offers "send the owner a reconnect link" for ``account``:
    expired, or warned about an expiry still to come, on a network a link can connect."""
    if not available(account.network):
        return False
    if account.status != AccountStatus.CONNECTED:
        return True
    warned = (account.settings or {}).get("expiry_warned_for")
    return isinstance(warned, int | float) and warned > (now or datetime.now(UTC)).timestamp()

"""Client workspace writes. Each adds to the session, flushes and records an audit entry;
the caller commits once."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from functools import cache
from zoneinfo import available_timezones

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, select

from agency.audit.services import Action, record
from agency.auth.services import ServiceError
from agency.extensions import db
from billing.hooks import client_changed as billing_client_changed
from billing.hooks import client_created as billing_client_created
from tenants.models import Membership

from .models import Client, ClientAssignment, Contact

LANGUAGES = ("fr", "en")
CLIENT_FIELDS = ("name", "timezone", "language", "brand_tone", "brand_words_use",
                 "brand_words_avoid", "brand_hashtags", "address_line", "postal_code", "city",
                 "country")
ADDRESS_LINE_MAX, POSTAL_CODE_MAX, CITY_MAX = 200, 16, 120  # the columns' sizes
# France's codes are five digits; elsewhere only the characters postal codes use anywhere
# (letters, digits, spaces and hyphens: "SW1A 1AA", "H2X 1Y4", "1000").
_FR_POSTAL_CODE = re.compile(r"[0-9]{5}")
_POSTAL_CODE = re.compile(r"[A-Z0-9](?:[A-Z0-9 -]*[A-Z0-9])?")
CONTACT_FIELDS = ("name", "email", "phone", "approves_posts", "receives_reports")


def valid_timezone(name: str) -> bool:
    return name in _timezones()


_TZ_CACHE: frozenset[str] | None = None


def _timezones() -> frozenset[str]:
    global _TZ_CACHE
    if _TZ_CACHE is None:
        _TZ_CACHE = frozenset(available_timezones())
    return _TZ_CACHE


# Groupings and placeholders among CLDR's two-letter territories.
_NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "ZZ", "QO", "XA", "XB"})


@cache
def countries() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes (as CLDR knows them, through Babel)."""
    from babel import Locale

    return frozenset(code for code in Locale("en").territories
                     if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES)


def _tidy_address(values: dict, country: str, stored_code: str = "") -> None:
    """Spaces tidied, the country upper-cased, the postal code (the one given, else the
    one stored) checked for that country."""
    for key in ("address_line", "postal_code", "city"):
        if key in values:
            values[key] = " ".join((values[key] or "").split())
    if "country" in values:
        values["country"] = (values["country"] or "").strip().upper()
        if values["country"] not in countries():
            raise ServiceError(_("Choose a country from the list."), field="country")
    limits = {"address_line": ADDRESS_LINE_MAX, "postal_code": POSTAL_CODE_MAX,
              "city": CITY_MAX}
    for key, limit in limits.items():
        if len(values.get(key) or "") > limit:
            raise ServiceError(_("At most %(max)d characters.", max=limit), field=key)
    if "postal_code" in values:
        values["postal_code"] = values["postal_code"].upper()
    code = values.get("postal_code", stored_code)
    if code:
        pattern = _FR_POSTAL_CODE if country == "FR" else _POSTAL_CODE
        if not pattern.fullmatch(code):
            raise ServiceError(_("A French postal code has five digits, for example 69001.")
                               if country == "FR" else _("Enter a valid postal code."),
                               field="postal_code")


def _validate_client(values: dict) -> None:
    if "name" in values and not (values["name"] or "").strip():
        raise ServiceError(_("A client needs a name."), field="name")
    if "timezone" in values and not valid_timezone(values["timezone"]):
        raise ServiceError(_("Unknown time zone."), field="timezone")
    if "language" in values and values["language"] not in LANGUAGES:
        raise ServiceError(_("Choose French or English."), field="language")


def new_client_values(values: dict) -> dict:
    """The values a new client would be created with, checked (raises ``ServiceError``);
    writes nothing, so a page can ask for a confirmation first."""
    values = {k: v for k, v in values.items() if k in CLIENT_FIELDS and v is not None}
    values.setdefault("timezone", "Europe/Paris")
    values.setdefault("language", "fr")
    values.setdefault("country", "FR")
    _validate_client(values)
    _tidy_address(values, values["country"].strip().upper())
    values["name"] = values["name"].strip()
    return values


def create_client(values: dict, *, plan: str | None = None) -> Client:
    """Create a client workspace (defaults: Europe/Paris, French; billing's default
    plan unless ``plan`` names another)."""
    client = Client(**new_client_values(values))
    db.session.add(client)
    db.session.flush()
    record(Action.CLIENT_CREATED, client, details={"name": client.name})
    billing_client_created(client, plan)  # billing: the subscription counts active clients
    return client


def update_client(client: Client, values: dict) -> Client:
    """Apply the given fields; an unchanged field is not recorded as a change."""
    values = {k: v for k, v in values.items() if k in CLIENT_FIELDS and v is not None}
    _validate_client(values)
    _tidy_address(values, (values.get("country") or client.country or "FR").strip().upper(),
                  client.postal_code or "")
    changed = {}
    for key, value in values.items():
        if key == "name":
            value = value.strip()
        if getattr(client, key) != value:
            changed[key] = value
            setattr(client, key, value)
    if changed:
        db.session.flush()
        record(Action.CLIENT_UPDATED, client, details={"fields": sorted(changed)})
    return client


def archive_client(client: Client) -> None:
    """Idempotent. Archiving keeps everything; it only takes the client out of daily view."""
    if client.archived_at is None:
        client.archived_at = datetime.now(UTC)
        record(Action.CLIENT_ARCHIVED, client, details={"name": client.name})
        billing_client_changed(client)  # billing: the subscription counts active clients


def restore_client(client: Client) -> None:
    """Idempotent."""
    if client.archived_at is not None:
        client.archived_at = None
        record(Action.CLIENT_RESTORED, client, details={"name": client.name})
        billing_client_changed(client)  # billing: the subscription counts active clients


def set_assigned_staff(client: Client, membership_ids: list[uuid.UUID]) -> None:
    """Make exactly these memberships the client's assigned staff."""
    wanted = set(membership_ids)
    known = set(db.session.scalars(select(Membership.id).where(Membership.id.in_(wanted))))
    if known != wanted:
        raise ServiceError(_("Unknown team member."), field="staff")
    current = set(db.session.scalars(
        select(ClientAssignment.membership_id).where(ClientAssignment.client_id == client.id)
    ))
    removed, added = current - wanted, wanted - current
    if removed:
        db.session.execute(delete(ClientAssignment).where(
            ClientAssignment.client_id == client.id,
            ClientAssignment.membership_id.in_(removed),
        ))
    for membership_id in added:
        db.session.add(ClientAssignment(client_id=client.id, membership_id=membership_id))
    if removed or added:
        db.session.flush()
        record(Action.CLIENT_STAFF_CHANGED, client,
               details={"added": sorted(map(str, added)), "removed": sorted(map(str, removed))})


def assigned_membership_ids(client: Client) -> set[uuid.UUID]:
    return set(db.session.scalars(
        select(ClientAssignment.membership_id).where(ClientAssignment.client_id == client.id)
    ))


def _validate_contact(values: dict) -> dict:
    from email_validator import EmailNotValidError, validate_email

    out = {k: v for k, v in values.items() if k in CONTACT_FIELDS and v is not None}
    if "name" in out:
        out["name"] = out["name"].strip()
        if not out["name"]:
            raise ServiceError(_("A contact needs a name."), field="name")
    if out.get("email"):
        try:
            out["email"] = validate_email(
                out["email"].strip(), check_deliverability=False,
                # .test and .localhost addresses (demo, tests) are fine outside production
                test_environment=not current_app.config["PRODUCTION"],
            ).normalized.lower()
        except EmailNotValidError:
            raise ServiceError(_("Enter a valid e-mail address."), field="email") from None
    if out.get("phone"):
        phone = out["phone"].strip()
        digits = [c for c in phone if c.isdigit()]
        if not 6 <= len(digits) <= 15 or any(c not in "0123456789+ ().-" for c in phone):
            raise ServiceError(_("Enter a valid phone number."), field="phone")
        out["phone"] = phone
    return out


def _needs_email(approves: bool, receives_reports: bool, email: str) -> None:
    if approves and not email:
        raise ServiceError(_("A contact who approves posts needs an e-mail address."),
                           field="email")
    if receives_reports and not email:
        raise ServiceError(_("A contact who receives the monthly report needs an e-mail "
                             "address."), field="email")


def create_contact(client: Client, values: dict) -> Contact:
    out = _validate_contact(values)
    _needs_email(out.get("approves_posts", False), out.get("receives_reports", False),
                 out.get("email", ""))
    contact = Contact(client_id=client.id, **out)
    db.session.add(contact)
    db.session.flush()
    record(Action.CONTACT_CREATED, contact, details={"client": str(client.id)})
    return contact


def update_contact(contact: Contact, values: dict) -> Contact:
    out = _validate_contact(values)
    _needs_email(out.get("approves_posts", contact.approves_posts),
                 out.get("receives_reports", contact.receives_reports),
                 out.get("email", contact.email))
    changed = [k for k, v in out.items() if getattr(contact, k) != v]
    for key in changed:
        setattr(contact, key, out[key])
    if changed:
        db.session.flush()
        record(Action.CONTACT_UPDATED, contact, details={"fields": sorted(changed)})
    return contact


def delete_contact(contact: Contact) -> None:
    record(Action.CONTACT_DELETED, contact, details={"name": contact.name})
    db.session.delete(contact)


def known_timezones() -> frozenset[str]:
    """Every timezone name the services accept (computed once per process)."""
    return _timezones()

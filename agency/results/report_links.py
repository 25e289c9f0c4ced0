"""The monthly report's signed link: anyone holding it reads one client's report for one
month, without signing in.

Signed with its own salt (itsdangerous, as ``networks/owner_link.py``), valid
``LINK_MAX_AGE`` (90 days), it names the agency (the tenant), the client and the month.
Nothing is stored: a link works until it expires; archiving the client voids it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from agency.clients.models import Client
from agency.content.slots import client_zone
from agency.extensions import db
from tenants.context import set_tenant

from . import periods
from .periods import Period

SALT = "relais.monthly-report-link"
LINK_MAX_AGE = 90 * 24 * 3600
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class ReportLink:
    agency_id: uuid.UUID
    client_id: uuid.UUID
    month: str  # "2026-10"
    issued_at: datetime

    @property
    def expires_at(self) -> datetime:
        return self.issued_at + timedelta(seconds=LINK_MAX_AGE)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def make_token(client: Client, period: Period) -> str:
    """A link's token for ``client``'s report of the month ``period``."""
    return _serializer().dumps({"a": str(client.agency_id), "c": str(client.id),
                                "m": period.first.strftime("%Y-%m")})


def parse(token: str) -> ReportLink | None:
    """The link a genuine token names, expired or not; ``None`` if tampered."""
    try:
        data, issued = _serializer().loads(token or "", return_timestamp=True)
        month = str(data["m"])
        if not _MONTH.match(month) or not 1 <= int(month[5:]) <= 12:
            return None
        return ReportLink(uuid.UUID(data["a"]), uuid.UUID(data["c"]), month, issued)
    except (BadSignature, KeyError, ValueError, TypeError, AttributeError):
        return None


class Refused(Exception):
    """Why a link cannot be used: ``kind`` says which page to show, ``status`` its code."""

    STATUS = {"invalid": 404, "not_found": 404, "expired": 410, "archived": 410}

    def __init__(self, kind: str, *, agency_name: str = "", language: str | None = None):
        super().__init__(kind)
        self.kind, self.status = kind, self.STATUS[kind]
        self.agency_name, self.language = agency_name, language


@dataclass
class ReportAccess:
    link: ReportLink
    client: Client
    period: Period


def resolve(token: str, *, now: datetime | None = None) -> ReportAccess:
    """What a link gives; its agency becomes the tenant for the rest of the request.
    ``Refused``: tampered or not this agency's client (404), expired or archived (410)."""
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
    year, number = int(link.month[:4]), int(link.month[5:])
    return ReportAccess(link, client, periods.month(year, number, client_zone(client)))

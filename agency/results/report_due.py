"""Which clients, across agencies, have a monthly report to send now (ids only).

A client is due from 08:00 on the 1st of its own month until the 7th, when it is
active, at least one of its contacts opted in (``receives_reports``, with an e-mail
address), and the month just ended has no ``monthly_reports`` row yet. What is sent is
decided inside the client's agency by the job (report_send.send_monthly).

On PostgreSQL this is the SECURITY DEFINER function ``relais_reports_due`` of migration
0015; on SQLite the same question under ``system_scope``, judged in Python (SQLite has no
time zones). Keep the two in step: the tests run both.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select, text

from agency.clients.models import Client, Contact
from agency.extensions import db
from tenants.scoping import system_scope

from .models import MonthlyReport

FIRST_HOUR = 8  # not before 08:00 on the 1st, the client's time
LAST_DAY = 7  # not after the 7th: a report arriving mid-month surprises more than helps
FALLBACK_ZONE = "Europe/Paris"


def previous_month(local_day: date) -> date:
    return (local_day.replace(day=1) - timedelta(days=1)).replace(day=1)


def in_window(local: datetime) -> bool:
    return local.day <= LAST_DAY and (local.day > 1 or local.hour >= FIRST_HOUR)


def clients_due(now: datetime) -> list[tuple[uuid.UUID, uuid.UUID, date]]:
    """``(agency_id, client_id, month)`` of every client, in any agency, with the report
    of ``month`` (its first day) to send at ``now``; ordered by agency, then client."""
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    if db.session.get_bind().dialect.name == "postgresql":
        rows = db.session.execute(
            text("SELECT agency_id, client_id, month FROM relais_reports_due(:now)"),
            {"now": now})
        return [(uuid.UUID(str(a)), uuid.UUID(str(c)), m) for a, c, m in rows]
    return _clients_without_rls(now)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(FALLBACK_ZONE)


def _clients_without_rls(now: datetime) -> list[tuple[uuid.UUID, uuid.UUID, date]]:
    # Kept in step with relais_reports_due (migration 0015).
    reason = system_scope("results: clients with a monthly report to send (ids only)")
    opted_in = set(db.session.scalars(
        select(Contact.client_id).where(Contact.receives_reports.is_(True),
                                        Contact.email != "")
        .execution_options(**reason)))
    sent = {(client_id, month) for client_id, month in db.session.execute(
        select(MonthlyReport.client_id, MonthlyReport.month).execution_options(**reason))}
    due = []
    for agency_id, client_id, timezone in db.session.execute(
            select(Client.agency_id, Client.id, Client.timezone)
            .where(Client.archived_at.is_(None)).execution_options(**reason)):
        local = now.astimezone(_zone(timezone))
        month = previous_month(local.date())
        if (client_id in opted_in and in_window(local)
                and (client_id, month) not in sent):
            due.append((agency_id, client_id, month))
    return sorted(due, key=lambda row: (str(row[0]), str(row[1])))

"""RQ entry points for results. Thin: they take ids and call collect.

- ``run_collection``: the periodic scan (agency/periodic.py, hourly): every agency's
  connected accounts with figures to read (lookup.py), one ``collect_job`` each.
- ``collect_job``: one account's run (``collect.collect_account``), in its agency. One
  job per account keeps a network that fails, hangs or rate-limits from holding up
  another's accounts.
- ``run_monthly_reports``: the periodic scan (hourly) for clients whose report of the
  month just ended is due (report_due.py), one ``monthly_report_job`` each.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from agency.extensions import db
from agency.periodic import enqueue_each

from . import collect, lookup, report_due

# The periodic job's interval, and the buckets of the per-account job ids: a scan
# repeated within the hour (or a backlog of scans) adds no second run of an account.
BUCKET_SECONDS = 3600


def collect_job_id(account_id, now: datetime) -> str:
    return f"metrics-{account_id}-{int(now.timestamp() // BUCKET_SECONDS)}"


def run_collection(now: datetime | None = None, queue=None) -> int:
    """Scan every agency for accounts with figures due; enqueue one run each. Returns
    how many were enqueued."""
    now = now or datetime.now(UTC)
    accounts = lookup.accounts_due(now)
    db.session.commit()  # the scan's transaction ends before anything is enqueued
    return enqueue_each(collect_job, accounts,
                        lambda account_id: collect_job_id(account_id, now),
                        ttl=BUCKET_SECONDS, queue=queue)


def collect_job(agency_id: str, account_id: str) -> str:
    """Read one account's due figures (see ``collect.collect_account``)."""
    return collect.collect_account(uuid.UUID(agency_id), uuid.UUID(account_id))


def report_job_id(item: str) -> str:
    client_id, month = item.split("/")
    return f"report-{client_id}-{month}"


def run_monthly_reports(now: datetime | None = None, queue=None) -> int:
    """Scan every agency for clients with a monthly report to send; enqueue one job
    each (its id names the client and the month: a scan repeated adds nothing)."""
    now = now or datetime.now(UTC)
    due = report_due.clients_due(now)
    db.session.commit()
    items = [(agency_id, f"{client_id}/{month:%Y-%m}") for agency_id, client_id, month in due]
    return enqueue_each(monthly_report_job, items, report_job_id, ttl=BUCKET_SECONDS,
                        queue=queue)


def monthly_report_job(agency_id: str, item: str) -> str:
    """Send one client's report of one month to its contacts who opted in, once."""
    from datetime import date

    from sqlalchemy import select
    from sqlalchemy.exc import IntegrityError

    from agency.clients.models import Client
    from agency.notifications.urls import external_urls
    from tenants.context import tenant_scope

    from .report_send import send_monthly

    client_id, month = item.split("/")
    with external_urls(), tenant_scope(uuid.UUID(agency_id)):
        client = db.session.scalars(select(Client).where(
            Client.id == uuid.UUID(client_id))).one_or_none()
        if client is None:
            return "client gone"
        try:
            sent = send_monthly(client, date.fromisoformat(f"{month}-01"))
            db.session.commit()
        except IntegrityError:  # another run of the same month got there first
            db.session.rollback()
            return "already sent"
        return f"sent to {sent}" if sent else "nothing to send"

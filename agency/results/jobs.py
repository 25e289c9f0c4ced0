"""RQ entry points for results. Thin: they take ids and call collect.

- ``run_collection``: the periodic scan (agency/periodic.py, hourly): every agency's
  connected accounts with figures to read (lookup.py), one ``collect_job`` each.
- ``collect_job``: one account's run (``collect.collect_account``), in its agency. One
  job per account keeps a network that fails, hangs or rate-limits from holding up
  another's accounts.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from agency.extensions import db
from agency.periodic import enqueue_each

from . import collect, lookup

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

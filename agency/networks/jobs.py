"""RQ entry points for token health. Thin: they take ids and call token_health."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from agency.notifications.urls import external_urls
from agency.periodic import enqueue_each

from . import token_health

# One job per account per bucket (the periodic scan's interval): a backlog of scans
# cannot pile up copies of the same check.
BUCKET_SECONDS = 1800


def check_job_id(account_id, now: datetime) -> str:
    return f"token-{account_id}-{int(now.timestamp() // BUCKET_SECONDS)}"


def run_token_checks(now: datetime | None = None, queue=None) -> int:
    """Scan every agency's connected accounts and enqueue one ``check_token`` job for
    each. Returns how many were enqueued."""
    now = now or datetime.now(UTC)
    return enqueue_each(check_token, token_health.accounts_to_check(),
                        lambda account_id: check_job_id(account_id, now),
                        ttl=BUCKET_SECONDS, queue=queue)


def check_token(agency_id: str, account_id: str) -> str:
    """Refresh, expire or warn about one account's token (see ``token_health``)."""
    with external_urls():
        return token_health.check_account(uuid.UUID(agency_id), uuid.UUID(account_id))

"""RQ entry points for approval reminders. Thin: they take ids and call reminders."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from agency.periodic import enqueue_each

from . import reminders

# One job per request per bucket: a backlog of scans cannot pile up copies of the same
# work, and a failed job does not block the next bucket (processing is idempotent).
BUCKET_SECONDS = 300


def process_job_id(request_id, now: datetime) -> str:
    return f"approval-{request_id}-{int(now.timestamp() // BUCKET_SECONDS)}"


def run_reminders(now: datetime | None = None, queue=None) -> int:
    """Scan every agency for due approval requests and enqueue one ``process`` job for
    each. Returns how many were enqueued."""
    now = now or datetime.now(UTC)
    return enqueue_each(process, reminders.due_requests(now),
                        lambda request_id: process_job_id(request_id, now),
                        ttl=BUCKET_SECONDS, queue=queue)


def process(agency_id: str, request_id: str) -> str:
    """Do what is due on one request now (see ``reminders.process_request``)."""
    outcome = reminders.process_request(uuid.UUID(agency_id), uuid.UUID(request_id),
                                        datetime.now(UTC))
    return outcome.describe()

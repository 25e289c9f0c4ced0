"""RQ entry points for approval reminders. Thin: they take ids and call reminders."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from rq.exceptions import DuplicateJobError

from . import reminders

# One job per request per bucket: a backlog of scans cannot pile up copies of the same
# work, and a failed job does not block the next bucket (processing is idempotent).
BUCKET_SECONDS = 300


def process_job_id(request_id, now: datetime) -> str:
    return f"approval-{request_id}-{int(now.timestamp() // BUCKET_SECONDS)}"


def run_reminders(now: datetime | None = None, queue=None) -> int:
    """Scan every agency for due approval requests and enqueue one ``process`` job for
    each. Returns how many were enqueued."""
    from agency.publishing.queues import queue as default_queue

    now = now or datetime.now(UTC)
    due = reminders.due_requests(now)
    queue = queue or default_queue()
    enqueued = 0
    for agency_id, request_id in due:
        try:
            queue.enqueue(process, str(agency_id), str(request_id),
                          job_id=process_job_id(request_id, now), unique=True,
                          result_ttl=BUCKET_SECONDS)
        except DuplicateJobError:
            continue
        enqueued += 1
    return enqueued


def process(agency_id: str, request_id: str) -> str:
    """Do what is due on one request now (see ``reminders.process_request``)."""
    outcome = reminders.process_request(uuid.UUID(agency_id), uuid.UUID(request_id),
                                        datetime.now(UTC))
    return outcome.describe()

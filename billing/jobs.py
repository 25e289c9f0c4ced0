"""RQ entry points for billing. Thin: they take ids, enter the agency, call a service.

- ``sync_job``: bring one agency's subscription in step (enqueued after the commit of a
  change, under one job id per agency: changes made while one waits ride with it).
- ``run_billing_checks``: the periodic scan (agency/periodic.py). A grace period that
  runs out, a trial that ends, holds to lift, quantities Stripe has not received yet:
  noticed here without any webhook, one ``check_agency`` job per agency found.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from flask import current_app
from rq.exceptions import DuplicateJobError

from agency.extensions import db
from agency.notifications.urls import external_urls
from agency.periodic import enqueue_each
from tenants.context import tenant_scope

from . import lookup, notify
from .holds import apply_holds
from .stripe_client import BillingUnavailable
from .sync import sync_subscription

log = logging.getLogger(__name__)

CHECK_SECONDS = 900  # the periodic job's interval (agency/periodic.py), and its buckets


def enqueue_sync(agency_id: uuid.UUID, queue=None) -> bool:
    """Ask a worker to sync this agency's subscription (False: one already waits)."""
    from agency.publishing.queues import queue as default_queue

    queue = queue or default_queue()
    try:
        queue.enqueue(sync_job, str(agency_id), job_id=f"billing-sync-{agency_id}",
                      unique=True, result_ttl=0)
    except DuplicateJobError:
        return False
    return True


def sync_job(agency_id: str) -> str:
    with external_urls(), tenant_scope(uuid.UUID(agency_id)):
        return sync_subscription()


def check_job_id(agency_id, now: datetime) -> str:
    return f"billing-check-{agency_id}-{int(now.timestamp() // CHECK_SECONDS)}"


def run_billing_checks(now: datetime | None = None, queue=None) -> int:
    """Scan every agency whose billing needs a look; enqueue one check each. Returns how
    many were enqueued."""
    now = now or datetime.now(UTC)
    agencies = lookup.agencies_to_check(now, int(current_app.config["BILLING_TRIAL_DAYS"]))
    db.session.commit()
    return enqueue_each(check_agency, [(agency, agency) for agency in agencies],
                        lambda agency: check_job_id(agency, now), ttl=CHECK_SECONDS,
                        queue=queue)


def check_agency(agency_id: str, _item_id: str = "", now: datetime | None = None) -> str:
    """Holds by standing now (a grace period over holds, a payment made resumes), then
    the subscription's quantities. Idempotent."""
    with external_urls(), tenant_scope(uuid.UUID(agency_id)):
        changes = apply_holds(now=now)
        notify.transitions(changes)
        db.session.commit()
        try:
            sync_subscription()
        except BillingUnavailable:
            log.warning("billing: the sync of %s waits for Stripe", agency_id)
            return "checked, sync pending"
        return "checked"

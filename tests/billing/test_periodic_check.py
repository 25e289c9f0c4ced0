"""The periodic check finds, across agencies (migration 0011's function on PostgreSQL, a
system-scoped query on SQLite), the agencies whose billing needs a look, and enqueues one
check each, once per interval."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from rq import Queue
from sqlalchemy import update

from agency.extensions import db as _db
from agency.periodic import PERIODIC_JOBS
from agency.redis_conn import get_redis
from billing import lookup
from billing.jobs import check_job_id, run_billing_checks, sync_job
from tenants.context import tenant_scope
from tenants.models import Agency
from tests.billing.conftest import days_ago, deliver, subscribe
from tests.factories import make_world


def test_the_check_is_declared_as_periodic_work():
    assert ("billing-check", 900, "billing.jobs:run_billing_checks") in PERIODIC_JOBS


def test_the_scan_finds_the_agencies_whose_billing_needs_a_look(app, client, db, billing_on):
    healthy, overdue, ended, untouched = (make_world(name) for name in
                                          ("Saine", "Retard", "Finie", "Oubliee"))
    subscribe(app, billing_on, healthy)
    with app.test_request_context():
        sync_job(str(healthy.agency_id))  # quantities in step: nothing left to do
    sub = subscribe(app, billing_on, overdue)
    billing_on.add_invoice(sub["id"], status="open", finalized_at=days_ago(2))
    deliver(client, billing_on.event("customer.subscription.updated",
                                     billing_on.set_status(sub["id"], "past_due")))
    sub = subscribe(app, billing_on, ended)
    deliver(client, billing_on.event("customer.subscription.deleted",
                                     billing_on.set_status(sub["id"], "canceled")))
    # An agency whose trial ended long ago and that never opened billing (no row).
    from billing.models import BillingAccount

    with tenant_scope(untouched.agency_id):
        _db.session.execute(update(Agency).where(Agency.id == untouched.agency_id)
                            .values(created_at=datetime.now(UTC) - timedelta(days=30)))
        _db.session.query(BillingAccount).delete()
    _db.session.flush()
    with app.test_request_context():
        found = set(lookup.agencies_to_check(datetime.now(UTC), 14))
    assert {overdue.agency_id, ended.agency_id, untouched.agency_id} <= found
    assert healthy.agency_id not in found


def test_the_customer_lookup_names_the_agency_and_the_client(app, client, db, billing_on):
    world = make_world()
    subscribe(app, billing_on, world)
    from tests.billing.conftest import account_of

    customer = account_of(world.agency_id).stripe_customer_id
    with app.test_request_context():
        assert lookup.owner_of_customer(customer) == (world.agency_id, None)
        assert lookup.owner_of_customer("cus_nobody") is None
        assert lookup.owner_of_customer("") is None


def test_checks_are_enqueued_once_per_interval(app, client, db, billing_on):
    world = make_world()
    sub = subscribe(app, billing_on, world)
    deliver(client, billing_on.event("customer.subscription.deleted",
                                     billing_on.set_status(sub["id"], "canceled")))
    queue = Queue(f"test-billing-check-{uuid.uuid4().hex}", connection=get_redis())
    now = datetime.now(UTC)
    try:
        with app.test_request_context():
            assert run_billing_checks(now, queue=queue) >= 1
            assert check_job_id(world.agency_id, now) in queue.job_ids
            assert run_billing_checks(now, queue=queue) == 0
    finally:
        queue.empty()
        queue.delete(delete_jobs=True)

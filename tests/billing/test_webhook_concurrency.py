"""200 distinct Stripe events, each delivered three times, shuffled, from 8 threads at
once, end in the same state as one in-order delivery, each applied exactly once.

On committed data (like tests/publishing/test_dispatch_concurrency.py): every delivery
is a real request with its own session and connection, so on PostgreSQL two deliveries
of one event really race (the second waits on the first's uncommitted event row, then
is a duplicate) and deliveries for one agency take turns on its billing row. On SQLite
the same runs one writer at a time. The agencies are removed afterwards.
"""

from __future__ import annotations

import queue
import random
import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select, update

from agency.extensions import db as _db
from agency.publishing.models import Publication, PublicationState
from billing.models import BillingAccount, BillingInvoice, ClientBilling, StripeEvent
from tenants.context import tenant_scope
from tests.billing.conftest import deliver
from tests.committed import remove_agency

AGENCIES = 4
EVENTS_PER_AGENCY = 50
THREADS = 8


def _ago(days: float) -> int:
    return int((datetime.now(UTC) - timedelta(days=days)).timestamp())


# How each agency's story ends: its own subscription, its client-paid workspace's, and
# how long ago the unpaid invoice (if any) was finalized.
ENDINGS = [
    {"agency": "active", "client": "canceled", "agency_open": None, "client_open": None},
    {"agency": "past_due", "client": "active", "agency_open": 10, "client_open": None},
    {"agency": "canceled", "client": "active", "agency_open": None, "client_open": None},
    {"agency": "past_due", "client": "past_due", "agency_open": 1, "client_open": 1},
]


def _setup_agency(app, fake, n: int) -> dict:
    """A committed agency with three clients, one post each (scheduled), its Stripe
    customer, and its first client on its own customer (the client pays)."""
    from agency.auth.services import create_agency
    from agency.clients.services import create_client
    from billing.accounts import ensure_account
    from tests.billing.helpers import approved_post

    suffix = uuid.uuid4().hex[:8]
    with app.app_context(), app.test_request_context():
        created = create_agency(f"Agence {n} {suffix}", f"owner-{suffix}@race.test", "Ana",
                                "un mot de passe solide")
        agency_id, user_id = created.agency.id, created.user.id
        with tenant_scope(agency_id, user_id):
            clients = [create_client({"name": f"Client {n}.{k}"}) for k in range(3)]
            customer = fake.add_customer(f"Agence {n}")["id"]
            client_customer = fake.add_customer(f"Client {n}.0")["id"]
            ensure_account().stripe_customer_id = customer
            _db.session.add(ClientBilling(client_id=clients[0].id, payer="client",
                                          stripe_customer_id=client_customer))
            _db.session.flush()
        for client in clients:
            approved_post(app, agency_id, client)
        _db.session.commit()
    return {"agency_id": agency_id, "user_id": user_id, "customer": customer,
            "client_customer": client_customer}


def _story(fake, world: dict, ending: dict) -> list[dict]:
    """EVENTS_PER_AGENCY events, in the order Stripe would send them."""
    events = []

    def checkout(customer: str, price: str, quantity: int) -> str:
        session = fake._new_session({"mode": "subscription", "customer": customer,
                                     "line_items": [{"price": price,
                                                     "quantity": str(quantity)}]})
        done = fake.complete_checkout(session["id"])
        events.append(fake.event("checkout.session.completed", done))
        return done["subscription"]

    agency_sub = checkout(world["customer"], "price_essentiel", 2)
    client_sub = checkout(world["client_customer"], "price_pro", 1)
    events.append(fake.event("customer.subscription.created",
                             fake.subscriptions[agency_sub]))
    for k in range(10):
        invoice = fake.add_invoice(agency_sub, status="open", finalized_at=_ago(40 - k))
        events.append(fake.event("invoice.payment_failed", invoice))
        events.append(fake.event("customer.subscription.updated",
                                 fake.set_status(agency_sub, "past_due")))
        events.append(fake.event("invoice.paid", fake.set_invoice_status(invoice["id"],
                                                                          "paid")))
        events.append(fake.event("customer.subscription.updated",
                                 fake.set_status(agency_sub, "active")))
    if ending["agency_open"] is not None:
        invoice = fake.add_invoice(agency_sub, status="open",
                                   finalized_at=_ago(ending["agency_open"]))
        events.append(fake.event("invoice.payment_failed", invoice))
    if ending["agency"] != "active":
        kind = ("customer.subscription.deleted" if ending["agency"] == "canceled"
                else "customer.subscription.updated")
        events.append(fake.event(kind, fake.set_status(agency_sub, ending["agency"])))
    if ending["client_open"] is not None:
        invoice = fake.add_invoice(client_sub, status="open",
                                   finalized_at=_ago(ending["client_open"]))
        events.append(fake.event("invoice.payment_failed", invoice))
    if ending["client"] != "active":
        kind = ("customer.subscription.deleted" if ending["client"] == "canceled"
                else "customer.subscription.updated")
        events.append(fake.event(kind, fake.set_status(client_sub, ending["client"])))
    while len(events) < EVENTS_PER_AGENCY:  # the client's invoices, paid monthly
        events.append(fake.event("invoice.paid", fake.add_invoice(client_sub,
                                                                  status="paid")))
        fake.subscriptions[client_sub]["latest_invoice"] = None
    # The client's own subscription ends as decided (an unpaid invoice stays its latest).
    if ending["client_open"] is not None:
        fake.subscriptions[client_sub]["latest_invoice"] = _latest_open(fake, client_sub)
    assert len(events) == EVENTS_PER_AGENCY, len(events)
    return events


def _postgres(app) -> bool:
    with app.app_context():
        return _db.engine.dialect.name == "postgresql"


def _latest_open(fake, subscription_id: str) -> str:
    return [i for i in fake.invoices.values()
            if i["parent"]["subscription_details"]["subscription"] == subscription_id
            and i["status"] == "open"][-1]["id"]


def _snapshot(app, agency_id) -> dict:
    with app.app_context(), tenant_scope(agency_id):
        account = _db.session.scalars(select(BillingAccount)).one()
        rows = _db.session.scalars(select(ClientBilling)).all()
        state = {
            "account": (account.stripe_subscription_id, account.subscription_status,
                        int(account.past_due_since.timestamp()) if account.past_due_since
                        else None, account.held_at is not None, account.items,
                        account.change_seq, account.cancel_at_period_end),
            "clients": sorted((str(r.client_id), r.payer, r.stripe_subscription_id,
                               r.subscription_status, r.held_at is not None) for r in rows),
            "invoices": sorted((i.stripe_invoice_id, i.status, i.total, i.invoice_pdf)
                               for i in _db.session.scalars(select(BillingInvoice))),
            "events": _db.session.scalar(select(func.count()).select_from(StripeEvent)),
            "publications": sorted((str(p.client_id), p.state.value, p.held_reason)
                                   for p in _db.session.scalars(select(Publication))),
        }
        _db.session.commit()
        return state


def _reset(app, world: dict) -> None:
    """Back to before any event: no events, no invoices, nothing adopted or held."""
    with app.app_context(), tenant_scope(world["agency_id"]):
        _db.session.execute(delete(StripeEvent))
        _db.session.execute(delete(BillingInvoice))
        _db.session.execute(update(BillingAccount).values(
            stripe_subscription_id=None, subscription_status="", past_due_since=None,
            current_period_end=None, held_at=None, items={}, change_seq=3, synced_seq=0,
            cancel_at_period_end=False))
        _db.session.execute(update(ClientBilling).values(
            stripe_subscription_id=None, subscription_status="", past_due_since=None,
            current_period_end=None, held_at=None))
        _db.session.execute(update(Publication).values(
            state=PublicationState.SCHEDULED, held_reason=""))
        _db.session.commit()


@pytest.fixture
def committed_worlds(app, billing_on):
    worlds = [_setup_agency(app, billing_on, n) for n in range(AGENCIES)]
    yield worlds
    with app.app_context():
        for world in worlds:
            remove_agency(app, world["agency_id"], world["user_id"])


def test_shuffled_concurrent_redelivery_ends_like_one_in_order_delivery(
        app, billing_on, committed_worlds, mail):
    stories = [_story(billing_on, world, ending)
               for world, ending in zip(committed_worlds, ENDINGS, strict=True)]
    events = [event for story in stories for event in story]
    assert len({event["id"] for event in events}) == AGENCIES * EVENTS_PER_AGENCY == 200

    for world in committed_worlds:
        _reset(app, world)
    http = app.test_client()
    in_order = Counter(deliver(http, event).get_json()["outcome"] for event in events)
    assert in_order == {"applied": 200}
    expected = [_snapshot(app, world["agency_id"]) for world in committed_worlds]
    expected_mail = sorted((m.to, m.subject) for m in mail)
    reads_in_order = len(billing_on.calls("GET", "/v1/"))

    for world in committed_worlds:
        _reset(app, world)
    mail.clear()
    deliveries = events * 3
    random.Random(20261127).shuffle(deliveries)
    work: queue.Queue = queue.Queue()
    for event in deliveries:
        work.put(event)
    outcomes: Counter = Counter()
    errors: list = []
    retried: list = []
    lock = threading.Lock()

    def worker():
        http = app.test_client()
        while True:
            try:
                event = work.get_nowait()
            except queue.Empty:
                return
            try:
                response = deliver(http, event)
            except Exception as error:  # a thread's failure must fail the test
                errors.append(error)
                return
            if response.status_code >= 500:
                # Stripe delivers again what was not answered 2xx. Only SQLite, one
                # writer at a time, may time out waiting for its lock; the failed
                # delivery applied nothing (its transaction rolled back).
                with lock:
                    retried.append(event["id"])
                work.put(event)
                continue
            with lock:
                outcomes[response.get_json()["outcome"]] += 1

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == []
    assert outcomes == {"applied": 200, "duplicate": 400}
    if _postgres(app):
        assert retried == []  # row locks wait; nothing times out
    assert [_snapshot(app, world["agency_id"]) for world in committed_worlds] == expected
    assert sorted((m.to, m.subject) for m in mail) == expected_mail
    # Each event was applied once: the deliveries that were duplicates read nothing.
    assert len(billing_on.calls("GET", "/v1/")) == 2 * reads_in_order

    # And the state is the one the endings describe.
    by_agency = dict(zip(range(AGENCIES), expected, strict=True))
    held = {n: state["account"][3] for n, state in by_agency.items()}
    assert held == {0: False, 1: True, 2: True, 3: False}
    for n, state in by_agency.items():
        assert state["events"] == EVENTS_PER_AGENCY
        client_held = [row[4] for row in state["clients"]]
        assert client_held == [ENDINGS[n]["client"] == "canceled"]
        on_hold = {client for client, s, reason in state["publications"]
                   if (s, reason) == ("held", "billing")}
        paid_by_client = state["clients"][0][0]
        if held[n]:  # every workspace the agency pays for waits; nothing deleted
            assert len(on_hold - {paid_by_client}) == 2
        assert (paid_by_client in on_hold) == (ENDINGS[n]["client"] == "canceled")
        assert len(state["publications"]) == 3

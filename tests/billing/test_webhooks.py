"""Webhook events drive Relais's copy of billing: applied once, in any order, only to the
agency whose customer it is (found from Relais's records), and holds instead of losses
when payment stops, lifted on their own when it resumes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from agency.extensions import db as _db
from billing.jobs import check_agency
from billing.models import BillingInvoice, ClientBilling, StripeEvent
from tenants.context import tenant_scope
from tests.billing.conftest import account_of, days_ago, deliver, subscribe
from tests.billing.helpers import approved_post, states
from tests.factories import login, make_world


def _events(agency_id) -> int:
    with tenant_scope(agency_id):
        return _db.session.scalar(select(func.count()).select_from(StripeEvent))


def _invoices(agency_id) -> list[tuple[str, str, int]]:
    with tenant_scope(agency_id):
        return sorted((i.stripe_invoice_id, i.status, i.total) for i in _db.session.scalars(
            select(BillingInvoice).execution_options(populate_existing=True)))


def test_checkout_completed_adopts_the_subscription(app, client, db, billing_on):
    world = make_world()
    subscription = subscribe(app, billing_on, world)
    account = account_of(world.agency_id)
    assert account.stripe_subscription_id == subscription["id"]
    assert account.subscription_status == "active"
    assert account.checkout_url == ""
    item = subscription["items"]["data"][0]
    assert account.current_period_end == datetime.fromtimestamp(
        item["current_period_end"], UTC).replace(tzinfo=account.current_period_end.tzinfo)
    assert account.items == {"price_essentiel": {"id": item["id"], "quantity": 2}}


def test_an_event_delivered_twice_is_applied_once(app, client, db, billing_on, mail):
    world = make_world()
    sub = subscribe(app, billing_on, world)
    invoice = billing_on.add_invoice(sub["id"], status="open")
    event = billing_on.event("invoice.payment_failed", invoice)
    before = _events(world.agency_id)
    assert deliver(client, event).get_json() == {"outcome": "applied"}
    assert deliver(client, event).get_json() == {"outcome": "duplicate"}
    assert _events(world.agency_id) == before + 1
    # One "payment failed" message per person who manages billing (owner and admin).
    failed = [m for m in mail if "payment failed" in m.subject]
    assert sorted(m.to for m in failed) == sorted({m.to for m in failed}) and len(failed) == 2


def test_a_late_old_snapshot_does_not_undo_a_newer_state(app, client, db, billing_on):
    world = make_world()
    sub = subscribe(app, billing_on, world)
    billing_on.add_invoice(sub["id"], status="open")
    old = billing_on.event("customer.subscription.updated",
                           billing_on.set_status(sub["id"], "past_due"))
    invoice = billing_on.add_invoice(sub["id"], status="paid")
    new = billing_on.event("customer.subscription.updated",
                           billing_on.set_status(sub["id"], "active"))
    paid = billing_on.event("invoice.paid", invoice)
    for event in (new, paid, old):  # the oldest arrives last
        assert deliver(client, event).status_code == 200
    account = account_of(world.agency_id)
    assert (account.subscription_status, account.past_due_since) == ("active", None)
    assert (invoice["id"], "paid", invoice["total"]) in _invoices(world.agency_id)


def test_invoices_are_listed_with_their_pdf(app, client, db, billing_on):
    world = make_world()
    sub = subscribe(app, billing_on, world)
    invoice = billing_on.add_invoice(sub["id"], status="paid")
    deliver(client, billing_on.event("invoice.paid", invoice))
    login(client, world.owner)
    page = client.get("/billing").get_data(as_text=True)
    assert invoice["invoice_pdf"] in page
    assert invoice["hosted_invoice_url"] in page
    assert invoice["number"] in page
    assert "€58.00" in page


def test_another_agency_s_customer_touches_nothing_else(app, client, db, billing_on):
    alpha, beta = make_world("Alpha"), make_world("Beta")
    sub_alpha = subscribe(app, billing_on, alpha)
    sub_beta = subscribe(app, billing_on, beta)
    before = (account_of(alpha.agency_id).subscription_status, _invoices(alpha.agency_id),
              _events(alpha.agency_id))
    invoice = billing_on.add_invoice(sub_beta["id"], status="open")
    for event in (billing_on.event("invoice.payment_failed", invoice),
                  billing_on.event("customer.subscription.updated",
                                   billing_on.set_status(sub_beta["id"], "canceled"))):
        assert deliver(client, event).status_code == 200
    assert account_of(beta.agency_id).subscription_status == "canceled"
    assert account_of(beta.agency_id).held_at is not None
    assert (account_of(alpha.agency_id).subscription_status, _invoices(alpha.agency_id),
            _events(alpha.agency_id)) == before
    assert account_of(alpha.agency_id).held_at is None
    # An event naming Alpha's subscription but sent for Beta's customer is not applied to
    # Alpha: the agency comes from the customer, and the object must be that customer's.
    forged = billing_on.event("customer.subscription.updated", sub_alpha)
    forged["data"]["object"]["customer"] = sub_beta["customer"]
    assert deliver(client, forged).status_code == 200
    assert account_of(alpha.agency_id).subscription_status == "active"
    assert account_of(beta.agency_id).stripe_subscription_id == sub_beta["id"]


def test_past_due_holds_after_the_grace_period_and_resumes_on_payment(
        app, client, db, billing_on, mail):
    world = make_world()
    sub = subscribe(app, billing_on, world)
    approved_post(app, world.agency_id, world.client)
    approved_post(app, world.agency_id, world.other_client)
    invoice = billing_on.add_invoice(sub["id"], status="open", finalized_at=days_ago(3))
    deliver(client, billing_on.event("invoice.payment_failed", invoice))
    deliver(client, billing_on.event("customer.subscription.updated",
                                     billing_on.set_status(sub["id"], "past_due")))
    account = account_of(world.agency_id)
    assert account.subscription_status == "past_due"
    assert int(account.past_due_since.timestamp()) == days_ago(3) or abs(
        account.past_due_since.timestamp() - days_ago(3)) < 5
    assert states(world.agency_id, world.client.id) == [("scheduled", "")]
    [failed, _] = [m for m in mail if "payment failed" in m.subject]
    assert "Publishing goes on as usual until" in failed.text
    login(client, world.member)
    assert "A payment is overdue: publishing will be put on hold on" in client.get(
        "/clients").get_data(as_text=True)

    # No webhook comes: the periodic check notices that the grace period is over.
    mail.clear()
    with app.test_request_context():
        check_agency(str(world.agency_id), now=datetime.now(UTC) + timedelta(days=5))
    assert account_of(world.agency_id).held_at is not None
    for c in (world.client, world.other_client):
        assert states(world.agency_id, c.id) == [("held", "billing")]
    assert len([m for m in mail if "on hold" in m.subject]) == 2
    # New work for a held workspace is held from the start; nothing was deleted.
    approved_post(app, world.agency_id, world.client)
    assert states(world.agency_id, world.client.id) == [("held", "billing")] * 2
    text = client.get("/clients").get_data(as_text=True)
    assert "Publishing is on hold: the subscription is not paid" in text

    mail.clear()
    billing_on.set_invoice_status(invoice["id"], "paid")
    deliver(client, billing_on.event("invoice.paid", billing_on.invoices[invoice["id"]]))
    billing_on.set_status(sub["id"], "active")
    deliver(client, billing_on.event("customer.subscription.updated",
                                     billing_on.subscriptions[sub["id"]]))
    assert account_of(world.agency_id).held_at is None
    assert states(world.agency_id, world.client.id) == [("scheduled", "")] * 2
    assert states(world.agency_id, world.other_client.id) == [("scheduled", "")]
    assert len([m for m in mail if "resumed" in m.subject]) == 2
    assert "on hold" not in client.get("/clients").get_data(as_text=True)


def test_a_cancelled_subscription_holds_at_once(app, client, db, billing_on, mail):
    world = make_world()
    sub = subscribe(app, billing_on, world)
    approved_post(app, world.agency_id, world.client)
    deliver(client, billing_on.event("customer.subscription.deleted",
                                     billing_on.set_status(sub["id"], "canceled")))
    assert states(world.agency_id, world.client.id) == [("held", "billing")]
    assert [m.subject for m in mail if "on hold" in m.subject]


def test_work_already_queued_is_held_too_and_its_job_leaves_it(app, client, db, billing_on,
                                                                 mail):
    from agency.publishing.engine import publish
    from agency.publishing.models import Publication, PublicationState

    world = make_world()
    sub = subscribe(app, billing_on, world)
    approved_post(app, world.agency_id, world.client, hours=1)
    with tenant_scope(world.agency_id):
        publication = db.session.scalars(select(Publication).where(
            Publication.client_id == world.client.id)).one()
        publication.state = PublicationState.QUEUED  # the dispatcher handed it to a worker
        publication_id = publication.id
        db.session.commit()
    deliver(client, billing_on.event("customer.subscription.deleted",
                                     billing_on.set_status(sub["id"], "canceled")))
    assert states(world.agency_id, world.client.id) == [("held", "billing")]
    with app.test_request_context():
        assert publish(world.agency_id, publication_id) != "published"  # the job runs anyway
    assert states(world.agency_id, world.client.id) == [("held", "billing")]


def test_a_client_paid_workspace_is_held_alone(app, client, db, billing_on):
    world = make_world()
    sub = subscribe(app, billing_on, world)
    login(client, world.owner)
    client.post(f"/billing/clients/{world.client.id}/client-pays")
    [session_id] = [s for s, v in billing_on.sessions.items()
                    if v["metadata"].get("relais_client_id") == str(world.client.id)]
    session = billing_on.complete_checkout(session_id)
    seq = account_of(world.agency_id).change_seq
    assert deliver(client, billing_on.event("checkout.session.completed",
                                            session)).status_code == 200
    with tenant_scope(world.agency_id):
        row = _db.session.scalars(select(ClientBilling).execution_options(
            populate_existing=True)).one()
        assert (row.payer, row.client_paid, row.subscription_status) == ("client", True,
                                                                         "active")
    # It left the agency's subscription: the quantities follow.
    assert account_of(world.agency_id).change_seq == seq + 1
    with app.test_request_context():
        check_agency(str(world.agency_id))
    assert {i["price"]["id"]: i["quantity"] for i in
            billing_on.subscriptions[sub["id"]]["items"]["data"]} == {"price_essentiel": 1}
    page = client.get("/billing").get_data(as_text=True)
    assert "The client" in page

    approved_post(app, world.agency_id, world.client)
    approved_post(app, world.agency_id, world.other_client)
    deliver(client, billing_on.event("customer.subscription.deleted", billing_on.set_status(
        session["subscription"], "canceled")))
    assert states(world.agency_id, world.client.id) == [("held", "billing")]
    assert states(world.agency_id, world.other_client.id) == [("scheduled", "")]
    assert account_of(world.agency_id).held_at is None


def test_the_trial_ends_without_a_card_then_holds_after_the_grace(app, client, db,
                                                                  billing_on):
    world = make_world()
    approved_post(app, world.agency_id, world.client)
    trial_end = account_of(world.agency_id).trial_ends_at.replace(tzinfo=UTC)
    with app.test_request_context():
        check_agency(str(world.agency_id), now=trial_end + timedelta(days=1))
    assert states(world.agency_id, world.client.id) == [("scheduled", "")]
    with app.test_request_context():
        check_agency(str(world.agency_id), now=trial_end + timedelta(days=8))
    assert states(world.agency_id, world.client.id) == [("held", "billing")]


def test_local_mode_never_holds(app, client, db):
    world = make_world()
    approved_post(app, world.agency_id, world.client)
    trial_end = account_of(world.agency_id).trial_ends_at.replace(tzinfo=UTC)
    with app.test_request_context():
        check_agency(str(world.agency_id), now=trial_end + timedelta(days=60))
    assert states(world.agency_id, world.client.id) == [("scheduled", "")]
    login(client, world.owner)
    assert "on hold" not in client.get("/clients").get_data(as_text=True)

"""Stripe's webhooks drive Relais's copy of billing, each event applied exactly once and
in any order.

- ``receive`` checks the signature on the raw body with Stripe's tolerance
  (``stripe.Webhook.construct_event``, 300 s): a bad signature, a stale timestamp or a
  changed body is refused (400) before anything is read.
- ``handle_event`` takes the verified event as a plain dict. The agency comes from
  Relais's own record of the customer (``lookup.owner_of_customer``), never from the
  event's metadata; an unknown customer touches nothing. Then, inside that agency:
  1. the event id is inserted into ``stripe_events`` first: a second delivery, even a
     concurrent one (it waits on the first's uncommitted row), fails there and is
     answered "duplicate" without effect;
  2. the agency's billing row is locked, so deliveries for one agency take turns (the
     lock, and so the transaction, is held while Stripe is re-read: one or two GETs. On
     SQLite that is the database's one write lock; PostgreSQL locks only that row);
  3. the objects the event is about are re-read from Stripe (subscription, invoice)
     and written as Stripe has them now. An event's own snapshot may be old; the state
     read under the lock is never older than what a previous delivery wrote, so events
     coming twice, late or out of order end in the same state as one in-order delivery
     (https://docs.stripe.com/webhooks#event-ordering);
  4. holds are applied (billing/holds.py), mails queued, and everything commits once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import stripe
from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from agency.clients.models import Client
from agency.extensions import db
from tenants.context import tenant_scope

from . import lookup, notify, plans
from . import stripe_client as gateway
from .accounts import account_verdict, client_billing, client_verdict, ensure_account, grace
from .checkout import forget
from .holds import apply_holds
from .models import BillingAccount, BillingInvoice, ClientBilling, Payer, StripeEvent
from .services import quantities_changed
from .standing import OVERDUE
from .sync import store_items

log = logging.getLogger(__name__)

TOLERANCE = stripe.Webhook.DEFAULT_TOLERANCE
TERMINAL = frozenset({"canceled", "incomplete_expired"})  # a subscription that is over


class Outcome:
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"  # a type Relais does not follow
    UNKNOWN_CUSTOMER = "unknown_customer"


class BadSignature(ValueError):
    pass


def receive(payload: bytes, signature: str | None) -> str:
    """Verify, then apply. Raises ``BadSignature`` (answer 400) when the request is not
    Stripe's, or not fresh."""
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET") or ""
    if not secret:
        raise BadSignature("STRIPE_WEBHOOK_SECRET is not set")
    try:
        event = stripe.Webhook.construct_event(payload, signature, secret, tolerance=TOLERANCE)
    except (ValueError, stripe.SignatureVerificationError) as error:
        raise BadSignature(str(error)) from None
    return handle_event(event.to_dict())


def _id(value) -> str | None:
    """An id whether Stripe sent it as a string or as an expanded object."""
    if isinstance(value, dict):
        return value.get("id")
    return value or None


def _when(epoch: int | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch else None


def follows(kind: str) -> bool:
    return (kind == "checkout.session.completed" or kind.startswith("customer.subscription.")
            or kind.startswith("invoice."))


def handle_event(event: dict, *, now: datetime | None = None) -> str:
    """Apply one verified event (a plain dict). Commits; returns an ``Outcome``."""
    kind, obj = event["type"], event["data"]["object"]
    if not follows(kind):
        return Outcome.IGNORED
    owner = lookup.owner_of_customer(_id(obj.get("customer")) or "")
    if owner is None:
        db.session.commit()
        log.info("stripe event %s (%s) for a customer Relais does not know", event["id"], kind)
        return Outcome.UNKNOWN_CUSTOMER
    now = now or datetime.now(UTC)
    with tenant_scope(owner.agency_id):
        try:
            with db.session.begin_nested():
                db.session.add(StripeEvent(event_id=event["id"], type=kind[:64],
                                           event_created=_when(event.get("created")) or now))
        except IntegrityError:
            db.session.rollback()
            return Outcome.DUPLICATE
        account = ensure_account(lock=True)
        applier = Applier(account, owner.client_id, _id(obj.get("customer")), now)
        if kind == "checkout.session.completed":
            applier.checkout_completed(obj)
        elif kind.startswith("customer.subscription."):
            applier.refresh_subscription(obj["id"])
        else:
            applier.invoice(obj["id"], failed=kind == "invoice.payment_failed")
        notify.transitions(apply_holds(now=now))
        db.session.commit()
    return Outcome.APPLIED


class Applier:
    """Re-reads what an event is about and writes it, inside the event's agency."""

    def __init__(self, account: BillingAccount, client_id, customer: str | None,
                 now: datetime):
        self.account, self.client_id, self.customer, self.now = (account, client_id,
                                                                 customer, now)

    def _row(self) -> ClientBilling | None:
        return client_billing(self.client_id, create=True) if self.client_id else None

    # --- Checkout -----------------------------------------------------------------------

    def checkout_completed(self, session: dict) -> None:
        subscription_id = _id(session.get("subscription"))
        if session.get("mode") != "subscription" or not subscription_id:
            return
        row = self._row()
        forget(row if row is not None else self.account)
        self.refresh_subscription(subscription_id)

    # --- subscriptions --------------------------------------------------------------------

    def refresh_subscription(self, subscription_id: str) -> None:
        subscription = gateway.retrieve_subscription(subscription_id)
        if _id(subscription.get("customer")) != self.customer:
            log.warning("stripe subscription %s is not this customer's", subscription_id)
            return
        row = self._row()
        if row is not None:
            self._client_subscription(row, subscription)
        else:
            self._agency_subscription(subscription)

    def _adopt(self, current_id: str | None, current_status: str, subscription: dict) -> bool:
        """Whether this subscription is (or becomes) the one Relais follows: the one it
        has, or any when it has none or its own is over."""
        if current_id == subscription["id"]:
            return True
        return not current_id or current_status in TERMINAL

    def _agency_subscription(self, subscription: dict) -> None:
        account = self.account
        if not self._adopt(account.stripe_subscription_id, account.subscription_status,
                           subscription):
            log.info("stripe subscription %s ignored: the agency follows %s",
                     subscription["id"], account.stripe_subscription_id)
            return
        if subscription["status"] in TERMINAL:
            live = self._live_subscription(subscription["id"])
            if live is not None:
                subscription = gateway.retrieve_subscription(live["id"])
        adopted = account.stripe_subscription_id != subscription["id"]
        account.stripe_subscription_id = subscription["id"]
        _copy_status(account, subscription)
        account.cancel_at_period_end = bool(subscription.get("cancel_at_period_end"))
        store_items(account, gateway.subscription_items(subscription))
        if adopted:
            forget(account)
            # Workspaces may have come and gone since the Checkout's quantities.
            quantities_changed()

    def _live_subscription(self, ended_id: str) -> dict | None:
        """Another subscription of the customer that still runs (the newest), if any:
        the one to follow when the followed one ended."""
        listing = gateway.list_subscriptions(self.customer)
        live = [s for s in listing if s["id"] != ended_id and s["status"] not in TERMINAL]
        return max(live, key=lambda s: (s["created"], s["id"])) if live else None

    def _client_subscription(self, row: ClientBilling, subscription: dict) -> None:
        if row.payer != Payer.CLIENT:
            log.info("stripe subscription %s ignored: the agency pays for this workspace",
                     subscription["id"])
            return
        if not self._adopt(row.stripe_subscription_id, row.subscription_status, subscription):
            return
        was_client_paid = row.client_paid
        row.stripe_subscription_id = subscription["id"]
        _copy_status(row, subscription)
        if row.client_paid != was_client_paid:
            forget(row)
            client = db.session.scalars(select(Client).where(Client.id == row.client_id)).one()
            if client.archived_at is None:
                quantities_changed()  # it leaves the agency's subscription

    # --- invoices -------------------------------------------------------------------------

    def invoice(self, invoice_id: str, *, failed: bool) -> None:
        invoice = gateway.retrieve_invoice(invoice_id)
        if _id(invoice.get("customer")) != self.customer:
            return
        _store_invoice(invoice, self.client_id)
        parent = (invoice.get("parent") or {}).get("subscription_details") or {}
        subscription_id = _id(parent.get("subscription"))
        if subscription_id:
            self.refresh_subscription(subscription_id)
        if failed and invoice.get("status") == "open":
            self._tell_payment_failed(invoice)

    def _tell_payment_failed(self, invoice: dict) -> None:
        row = self._row()
        if row is not None:
            verdict = client_verdict(row, self.now)
            client = db.session.scalars(select(Client).where(Client.id == row.client_id)).one()
        else:
            verdict, client = account_verdict(self.account, self.now), None
        if verdict.held:
            return  # the hold's own message says it
        until = verdict.until
        if until is None:  # Stripe has not marked the subscription past due yet
            transitions = invoice.get("status_transitions") or {}
            failed_at = _when(transitions.get("finalized_at") or invoice.get("created"))
            until = failed_at + grace() if failed_at else None
        notify.payment_failed(plans.euros(invoice.get("amount_due") or 0), until, client)


def _copy_status(target, subscription: dict) -> None:
    """Status, period and, for an overdue one, since when (from its unpaid invoice)."""
    status = subscription["status"]
    target.subscription_status = status
    ends = [item.get("current_period_end") for item in subscription["items"]["data"]]
    ends = [end for end in ends if end]
    target.current_period_end = _when(max(ends)) if ends else None
    if status not in OVERDUE:
        target.past_due_since = None
        return
    latest = subscription.get("latest_invoice")
    if isinstance(latest, dict) and latest.get("status") in ("open", "uncollectible"):
        transitions = latest.get("status_transitions") or {}
        target.past_due_since = _when(transitions.get("finalized_at") or latest.get("created"))
    elif target.past_due_since is None:
        target.past_due_since = datetime.now(UTC)


def _store_invoice(invoice: dict, client_id) -> BillingInvoice:
    row = db.session.scalars(select(BillingInvoice).where(
        BillingInvoice.stripe_invoice_id == invoice["id"])).one_or_none()
    if row is None:
        row = BillingInvoice(stripe_invoice_id=invoice["id"], client_id=client_id)
        db.session.add(row)
    row.number = invoice.get("number") or ""
    row.status = invoice.get("status") or ""
    row.currency = invoice.get("currency") or "eur"
    row.total = invoice.get("total") or 0
    row.amount_due = invoice.get("amount_due") or 0
    row.amount_paid = invoice.get("amount_paid") or 0
    row.hosted_invoice_url = invoice.get("hosted_invoice_url") or ""
    row.invoice_pdf = invoice.get("invoice_pdf") or ""
    transitions = invoice.get("status_transitions") or {}
    row.issued_at = _when(transitions.get("finalized_at") or invoice.get("created"))
    db.session.flush()
    return row


"""The agency's subscription follows its workspaces: one item per plan in use, quantity =
the active agency-paid workspaces on that plan (never one item per client: a Stripe
subscription holds at most 20 items), changed with proration.

``sync_subscription`` brings Stripe in step with Relais and is safe to run any number of
times, from a job or right after a view's commit: quantities are set, not added, so
applying a change twice changes nothing; each change has a sequence number
(``change_seq``) in its idempotency key; runs for one agency take turns under a Redis
lock, so an older set of quantities never lands after a newer one. It manages its own
transactions and holds none while Stripe answers.

``preview`` asks Stripe what a change would add to the next invoice before the agency
confirms it (``POST /v1/invoices/create_preview`` with ``subscription_details``: the
Invoices API's current form, https://docs.stripe.com/api/invoices/create_preview). The
line items flagged ``parent.subscription_item_details.proration`` are the proration.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from agency.extensions import db
from agency.redis_conn import get_redis
from tenants.context import current_agency_id

from . import plans
from . import stripe_client as gateway
from .accounts import desired_quantities, get_account
from .models import BillingAccount
from .stripe_client import enabled, idempotency_key

log = logging.getLogger(__name__)
PRORATION = "create_prorations"  # Stripe's default, said out loud
_PENDING = "relais_billing_sync"
MAX_PASSES = 5  # changes landing while a pass runs are taken by the next pass


class Outcome:
    LOCAL = "local"
    NO_SUBSCRIPTION = "no_subscription"
    IN_SYNC = "in_sync"
    SYNCED = "synced"


def monthly_cents(quantities: dict[str, int]) -> int:
    """What these quantities cost a month at the configured prices (before tax)."""
    return sum(plans.get(key).monthly_cents * count for key, count in quantities.items())


def items_update(items: list, quantities: dict[str, int]) -> list[dict]:
    """The ``items`` parameter that takes a subscription from ``items`` (Stripe's
    subscription items) to ``quantities``: an item's quantity set where it differs, an
    item added for a plan newly in use, an item no longer used deleted (proration
    credits it) unless that would leave the subscription without any item, in which case
    its quantity goes to 0. Items of prices that are not plans are left alone."""
    by_price = {item["price"]["id"]: item for item in items}
    changes, zeroed, kept = [], [], 0
    for plan in plans.PLANS:
        want = quantities.get(plan.key, 0)
        item = by_price.get(plan.price_id)
        if item is None:
            if want > 0:
                changes.append({"price": plan.price_id, "quantity": want})
                kept += 1
        elif want == 0:
            if item.get("quantity"):
                zeroed.append(item)
        else:
            kept += 1
            if item.get("quantity") != want:
                changes.append({"id": item["id"], "quantity": want})
    others = [item for item in items if plans.by_price(item["price"]["id"]) is None]
    for item in zeroed:
        changes.append({"id": item["id"], "deleted": True} if kept or others
                       else {"id": item["id"], "quantity": 0})
    return changes


def store_items(account: BillingAccount, items: list) -> None:
    """Remember Stripe's items (price → item id and quantity) as last read."""
    account.items = {item["price"]["id"]: {"id": item["id"],
                                           "quantity": item.get("quantity") or 0}
                     for item in items}


# --- bringing Stripe in step ---------------------------------------------------------------

def sync_subscription(*, proration_date: int | None = None) -> str:
    """Set the subscription's quantities to the agency's active workspaces per plan.

    Idempotent. Commits what it learns (``synced_seq``, the items); raises
    ``BillingUnavailable`` when Stripe cannot be reached (nothing is lost: the change
    stays pending, ``synced_seq < change_seq``, and the periodic check tries again)."""
    if not enabled():
        return Outcome.LOCAL
    agency_id = current_agency_id()
    lock = get_redis().lock(f"{current_app.config['REDIS_KEY_PREFIX']}billing-sync:"
                            f"{agency_id}", timeout=120, blocking_timeout=60)
    with lock:
        outcome = Outcome.IN_SYNC
        for _ in range(MAX_PASSES):
            account = get_account()
            if account is None or not account.stripe_subscription_id:
                db.session.commit()
                return Outcome.NO_SUBSCRIPTION
            seq, subscription_id = account.change_seq, account.stripe_subscription_id
            if account.synced_seq >= seq:
                db.session.commit()
                return outcome
            quantities = desired_quantities()
            db.session.commit()  # no transaction is held while Stripe answers
            items, sent = _push(agency_id, subscription_id, seq, quantities, proration_date)
            account = get_account(lock=True)
            if account.synced_seq < seq:
                account.synced_seq = seq
                store_items(account, items)
            db.session.commit()
            if sent:
                outcome = Outcome.SYNCED
    return outcome


def _push(agency_id: uuid.UUID, subscription_id: str, seq: int, quantities: dict[str, int],
          proration_date: int | None) -> tuple[list, bool]:
    """Stripe's items after the update, and whether one was sent."""
    items = gateway.subscription_items(gateway.retrieve_subscription(subscription_id))
    changes = items_update(items, quantities)
    if not changes:
        return items, False
    params: dict = {"items": changes, "proration_behavior": PRORATION}
    if proration_date:
        params["proration_date"] = proration_date
    updated = gateway.update_subscription(
        subscription_id, params, idempotency_key(agency_id, "quantities", seq, params))
    return gateway.subscription_items(updated), True


# --- after a commit ------------------------------------------------------------------------

def sync_after_commit() -> None:
    """Ask a worker to sync the current agency's subscription once this transaction has
    committed (dropped on rollback). Nothing is asked in local mode."""
    if not enabled():
        return
    db.session().info.setdefault(_PENDING, set()).add(current_agency_id())


@event.listens_for(Session, "after_commit")
def _enqueue_after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, set())
    if not pending:
        return
    from .jobs import enqueue_sync

    for agency_id in pending:
        try:
            enqueue_sync(agency_id)
        except Exception:  # Redis down: the periodic check finds synced_seq < change_seq
            log.warning("billing: could not enqueue the sync of %s", agency_id,
                        exc_info=True)


@event.listens_for(Session, "after_rollback")
def _drop_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


# --- what a change would cost --------------------------------------------------------------

@dataclass(frozen=True)
class Preview:
    monthly_before: int  # cents a month at the configured prices
    monthly_after: int
    proration: int | None  # cents added now for the rest of the period (None: not billed yet)
    next_invoice_total: int | None  # Stripe's next invoice with the change
    next_invoice_at: datetime | None
    proration_date: int | None  # pass back when confirming, so Stripe charges what it showed

    @property
    def difference(self) -> int:
        return self.monthly_after - self.monthly_before


def preview(quantities: dict[str, int], *, now: datetime | None = None) -> Preview:
    """What moving to ``quantities`` would cost. Without a subscription (trial, local
    mode) only the monthly prices; with one, Stripe's own preview of the next invoice.
    Raises ``BillingUnavailable`` when Stripe cannot answer."""
    now = now or datetime.now(UTC)
    before = desired_quantities()
    account = get_account() if enabled() else None
    if account is None or not account.stripe_subscription_id:
        return Preview(monthly_cents(before), monthly_cents(quantities), None, None, None,
                       None)
    seq, customer, subscription_id = (account.change_seq, account.stripe_customer_id,
                                      account.stripe_subscription_id)
    db.session.commit()  # nothing pending: the preview holds no transaction open
    proration_date = int(now.timestamp())
    items = gateway.subscription_items(gateway.retrieve_subscription(subscription_id))
    params = {"customer": customer, "subscription": subscription_id,
              "subscription_details": {"items": items_update(items, quantities),
                                       "proration_behavior": PRORATION,
                                       "proration_date": proration_date}}
    invoice = gateway.create_preview(
        params, idempotency_key(current_agency_id(), "preview", seq, params))
    proration = sum(line["amount"] for line in invoice["lines"]["data"]
                    if _is_proration(line))
    at = invoice.get("next_payment_attempt") or invoice.get("period_end")
    return Preview(monthly_cents(before), monthly_cents(quantities), proration,
                   invoice["total"], datetime.fromtimestamp(at, UTC) if at else None,
                   proration_date)


def _is_proration(line) -> bool:
    parent = line.get("parent") or {}
    details = parent.get("subscription_item_details") or {}
    return bool(details.get("proration"))

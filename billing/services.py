"""Billing writes inside Relais: a workspace's plan and payer, the change numbers behind
the idempotency keys. Each flushes; the caller commits once. Talking to Stripe is in
sync.py (quantities) and checkout.py (Checkout, Portal); neither happens here.
"""

from __future__ import annotations

from flask_babel import gettext as _

from agency.audit.services import record
from agency.auth.services import ServiceError
from agency.clients.models import Client
from agency.extensions import db

from . import plans
from .accounts import client_billing, ensure_account
from .checkout import forget
from .models import BillingAccount, ClientBilling, Payer
from .sync import sync_after_commit


class BillingAction:
    PLAN_CHANGED = "billing.plan_changed"
    CLIENT_PAYS = "billing.client_pays"
    AGENCY_PAYS = "billing.agency_pays"


def quantities_changed() -> int:
    """The agency's workspaces changed in a way that moves its subscription's
    quantities: take the next change number (in SQL, so concurrent changes each get
    their own) and have a worker bring Stripe in step after the commit. Returns the
    account's new change number."""
    account = ensure_account()
    account.change_seq = BillingAccount.change_seq + 1
    db.session.flush()
    db.session.refresh(account, ["change_seq"])
    sync_after_commit()
    return account.change_seq


def client_changed(client: Client) -> None:
    """A client was created, archived or restored: its workspace joins or leaves the
    agency's subscription. Safe to call for any change of a client; cheap."""
    row = client_billing(client.id)
    if row is not None and row.client_paid:
        return  # on its own subscription: the agency's does not move
    quantities_changed()


def client_created(client: Client, plan_key: str | None) -> None:
    """A new workspace joins the agency's subscription on ``plan_key`` (default: the
    default plan, which needs no row)."""
    if plan_key is not None and not plans.is_plan(plan_key):
        raise ServiceError(_("Choose one of the plans."), field="plan")
    if plan_key is not None and plan_key != plans.DEFAULT_PLAN:
        row = client_billing(client.id, create=True)
        row.plan = plan_key
        db.session.flush()
    quantities_changed()


def change_plan(client: Client, plan_key: str) -> ClientBilling:
    """Put the workspace on ``plan_key``. For an agency-paid workspace the agency's
    quantities follow (with proration, once synced). Idempotent."""
    if not plans.is_plan(plan_key):
        raise ServiceError(_("Choose one of the plans."), field="plan")
    row = client_billing(client.id, create=True)
    if row.client_paid:
        raise ServiceError(_("%(client)s pays for its own workspace: its plan changes from "
                             "its own subscription.", client=client.name), field="plan")
    if row.plan == plan_key:
        return row
    before, row.plan = row.plan, plan_key
    db.session.flush()
    record(BillingAction.PLAN_CHANGED, client, details={"from": before, "to": plan_key})
    if client.archived_at is None:
        quantities_changed()
    return row


def reserve_session() -> int:
    """The next session number (a Checkout or Portal session asked for): part of that
    request's idempotency key, so a retry of the same request is answered once and a
    new click gets a new session. The caller commits it before calling Stripe."""
    account = ensure_account()
    account.session_seq = BillingAccount.session_seq + 1
    db.session.flush()
    db.session.refresh(account, ["session_seq"])
    return account.session_seq


def agency_pays_allowed(client: Client) -> ClientBilling | None:
    """The workspace's billing row if it may go back to the agency's subscription (None:
    it is there already). Refused while the SME's own subscription runs: the SME
    cancels it from its portal first. Writes nothing."""
    row = client_billing(client.id)
    if row is None or row.payer == Payer.AGENCY:
        return None
    if row.stripe_subscription_id and row.subscription_status not in ("canceled",
                                                                      "incomplete_expired"):
        raise ServiceError(_("%(client)s still has its own subscription. It must be "
                             "cancelled first (from the link in its invoices).",
                             client=client.name))
    return row


def agency_pays(client: Client) -> ClientBilling:
    """Back on the agency's subscription. Idempotent. The caller withdraws an open
    payment link first (``checkout.withdraw_client_link``: a Stripe call)."""
    row = client_billing(client.id, create=True)
    if agency_pays_allowed(client) is None:
        return row
    was_paid = row.client_paid
    row.payer = Payer.AGENCY
    forget(row)
    row.stripe_subscription_id, row.subscription_status, row.held_at = None, "", None
    db.session.flush()
    record(BillingAction.AGENCY_PAYS, client)
    if was_paid and client.archived_at is None:
        quantities_changed()
    return row

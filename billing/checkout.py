"""Stripe's hosted pages: Checkout (the agency subscribes and gives its card; or an SME
subscribes for its own workspace) and the Customer Portal (cards, invoices,
cancellation).

Each function makes its Stripe calls with deterministic idempotency keys (the agency,
the purpose, the session number reserved by ``services.reserve_session`` and committed
before the call) and records what it got; the caller commits. An open Checkout is
reused until shortly before it expires, so two clicks never make two subscriptions.
Checkout's parameters: https://docs.stripe.com/api/checkout/sessions/create (mode
``subscription``; ``subscription_data.trial_end`` must be at least 48 hours ahead).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from agency.auth.services import ServiceError
from agency.clients.models import Client, Contact
from agency.extensions import db
from tenants.context import current_agency_id
from tenants.models import Agency

from . import plans
from . import stripe_client as gateway
from .accounts import client_billing, desired_quantities, ensure_account
from .models import BillingAccount, ClientBilling, Payer
from .standing import ENDED
from .stripe_client import idempotency_key

REUSE_MARGIN = timedelta(minutes=10)  # an open Checkout this close to expiry is not reused
TRIAL_END_MIN = timedelta(hours=48)  # Stripe's minimum for subscription_data.trial_end
CURRENCY = "eur"


def _when(epoch: int | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch else None


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _reusable(url: str, expires_at: datetime | None, now: datetime) -> bool:
    return bool(url) and expires_at is not None and _utc(expires_at) - REUSE_MARGIN > now


def remember(target: BillingAccount | ClientBilling, session: dict) -> None:
    """Keep the open Checkout's link, expiry and id on the account or workspace."""
    target.checkout_url = session.get("url") or ""
    target.checkout_expires_at = _when(session.get("expires_at"))
    target.checkout_session_id = session.get("id") or ""


def forget(target: BillingAccount | ClientBilling) -> None:
    """The Checkout was used, expired or is no longer wanted."""
    target.checkout_url, target.checkout_expires_at, target.checkout_session_id = "", None, ""


def withdraw_client_link(client: Client, row: ClientBilling) -> None:
    """Expire the workspace's open pay-for-yourself Checkout at Stripe, so the SME can no
    longer subscribe from an old e-mail once the agency pays again. Refused when the SME
    has just paid through it (its subscription is on its way by webhook). The caller
    changes the payer and commits; on ``BillingUnavailable`` nothing was changed."""
    if not row.checkout_session_id:
        return
    session = gateway.expire_checkout_session(
        row.checkout_session_id,
        idempotency_key(current_agency_id(), f"client-{client.id.hex}-expire",
                        row.checkout_session_id))
    if session.get("status") == "complete":
        raise ServiceError(_("%(client)s has just paid through its link: its own "
                             "subscription is being set up, so the agency cannot take the "
                             "workspace back now.", client=client.name))
    forget(row)


def has_live_subscription(account: BillingAccount) -> bool:
    return bool(account.stripe_subscription_id) and account.subscription_status not in ENDED


def _require_prices() -> None:
    missing = plans.missing_prices()
    if missing:
        raise ServiceError(_("Billing is not fully set up: %(names)s must be set by the "
                             "person who runs Relais.", names=", ".join(missing)))


def ensure_customer(account: BillingAccount) -> str:
    """The agency's Stripe customer, created once (its key is derived from the agency and
    what is sent, so a retried creation returns the same customer)."""
    if account.stripe_customer_id:
        return account.stripe_customer_id
    agency = db.session.scalars(select(Agency).where(Agency.id == current_agency_id())).one()
    params = {"name": agency.name, "metadata": {"relais_agency_id": str(agency.id)}}
    customer = gateway.create_customer(
        params, idempotency_key(agency.id, "customer", 1, params))
    account.stripe_customer_id = customer["id"]
    db.session.flush()
    return customer["id"]


def start_subscription(seq: int, *, success_url: str, cancel_url: str,
                       now: datetime | None = None) -> str:
    """The Checkout page where the agency subscribes (one item per plan in use, the
    rest of its trial kept) and gives its card. Returns its address."""
    now = now or datetime.now(UTC)
    _require_prices()
    account = ensure_account()
    if has_live_subscription(account):
        raise ServiceError(_("Your subscription is already set up: change the card from "
                             "the billing portal."))
    if _reusable(account.checkout_url, account.checkout_expires_at, now):
        return account.checkout_url
    quantities = desired_quantities()
    line_items = [{"price": plans.get(key).price_id, "quantity": count}
                  for key, count in quantities.items() if count > 0]
    if not line_items:
        raise ServiceError(_("Add a client first: the subscription counts your active "
                             "client workspaces."))
    customer = ensure_customer(account)
    agency = str(current_agency_id())
    subscription_data: dict = {"metadata": {"relais_agency_id": agency}}
    trial_end = _utc(account.trial_ends_at)
    if trial_end - now >= TRIAL_END_MIN:
        subscription_data["trial_end"] = int(trial_end.timestamp())
    params = {"mode": "subscription", "customer": customer, "line_items": line_items,
              "success_url": success_url, "cancel_url": cancel_url,
              "client_reference_id": agency, "metadata": {"relais_agency_id": agency},
              "subscription_data": subscription_data}
    session = gateway.create_checkout_session(
        params, idempotency_key(current_agency_id(), "checkout", seq))
    remember(account, session)
    db.session.flush()
    return account.checkout_url


def portal(seq: int, *, return_url: str) -> str:
    """A Customer Portal session for the agency (cards, invoices, cancellation)."""
    account = ensure_account()
    if not account.stripe_customer_id:
        raise ServiceError(_("Subscribe first: the portal opens once a card was given."))
    session = gateway.create_portal_session(
        {"customer": account.stripe_customer_id, "return_url": return_url},
        idempotency_key(current_agency_id(), "portal", seq))
    return session["url"]


def client_pays(client: Client, seq: int, *, success_url: str, cancel_url: str,
                now: datetime | None = None) -> ClientBilling:
    """A Checkout link for the SME owner to pay for this workspace themselves (their own
    Stripe customer and subscription, on the workspace's plan). The agency keeps paying
    until the SME has subscribed. Returns the workspace's billing row (its
    ``checkout_url`` is the link)."""
    now = now or datetime.now(UTC)
    _require_prices()
    if client.archived_at is not None:
        raise ServiceError(_("This client is archived: restore it first."))
    ensure_account()
    row = client_billing(client.id, create=True)
    if row.client_paid and row.subscription_status not in ENDED:
        raise ServiceError(_("%(client)s already pays for its workspace.",
                             client=client.name))
    if row.payer == Payer.CLIENT and _reusable(row.checkout_url, row.checkout_expires_at, now):
        return row
    agency = current_agency_id()
    metadata = {"relais_agency_id": str(agency), "relais_client_id": str(client.id)}
    if not row.stripe_customer_id:
        email = db.session.scalars(select(Contact.email).where(
            Contact.client_id == client.id, Contact.approves_posts.is_(True),
            Contact.email != "").order_by(Contact.name)).first()
        params = {"name": client.name, "metadata": metadata, **({"email": email} if email
                                                                 else {})}
        customer = gateway.create_customer(
            params, idempotency_key(agency, f"client-{client.id.hex}-customer", 1, params))
        row.stripe_customer_id = customer["id"]
        db.session.flush()
    params = {"mode": "subscription", "customer": row.stripe_customer_id,
              "line_items": [{"price": plans.get(row.plan).price_id, "quantity": 1}],
              "success_url": success_url, "cancel_url": cancel_url,
              "client_reference_id": str(client.id), "metadata": metadata,
              "subscription_data": {"metadata": metadata}}
    session = gateway.create_checkout_session(
        params, idempotency_key(agency, f"client-{client.id.hex}-checkout", seq))
    row.payer = Payer.CLIENT
    remember(row, session)
    db.session.flush()
    return row

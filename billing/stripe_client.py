"""The one way Relais talks to Stripe, and what every call shares.

- A ``stripe.StripeClient`` built from the settings: ``STRIPE_API_KEY``, and
  ``STRIPE_API_BASE`` to point it at another server (a fake in tests). Without a key,
  billing is off (local mode) and nothing here is called.
- The API version is pinned to the one the installed stripe-python was generated for
  (``stripe.api_version``), so the objects Stripe returns have the shape its types
  describe. Upgrading stripe-python moves the pin; the fake's test checks they agree.
- Every POST carries a deterministic idempotency key (``idempotency_key``): derived from
  the agency, what is asked, and that request's sequence number, so a retried request
  (stripe-python's own retries, a job run again) is answered from Stripe's record of the
  first instead of charging or creating twice. Stripe keeps keys for at least 24 hours
  and refuses a key reused with other parameters
  (https://docs.stripe.com/api/idempotent_requests).
- Stripe's errors become ``BillingUnavailable``: a message fit for the agency, without
  the key or the raw answer.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid

import stripe
from flask import current_app
from flask_babel import gettext as _

from agency.auth.services import ServiceError

log = logging.getLogger(__name__)

# Pinned to the installed stripe-python's version (see the module docstring).
API_VERSION: str = stripe.api_version
MAX_NETWORK_RETRIES = 2  # stripe-python retries connection errors and 409/5xx with the key


class BillingUnavailable(ServiceError):
    """Stripe could not do what was asked: nothing was changed on Relais's side."""


def enabled() -> bool:
    """Billing is on when a Stripe key is configured; otherwise Relais runs in local mode
    (no charges, nothing held)."""
    return bool(current_app.config.get("STRIPE_API_KEY"))


def client() -> stripe.StripeClient:
    """The app's Stripe client (one per process and settings, reused across requests)."""
    config = current_app.config
    settings = (config["STRIPE_API_KEY"], config.get("STRIPE_API_BASE") or "")
    cache = current_app.extensions.setdefault("relais_stripe", {})
    if settings not in cache:
        api_key, base = settings
        cache.clear()  # settings changed (tests): drop the old client
        cache[settings] = stripe.StripeClient(
            api_key,
            stripe_version=API_VERSION,
            base_addresses={"api": base.rstrip("/")} if base else None,
            max_network_retries=MAX_NETWORK_RETRIES,
            http_client=stripe.RequestsClient(
                timeout=float(config.get("NETWORK_TIMEOUT_SECONDS", 30))),
        )
    return cache[settings]


def idempotency_key(agency_id: uuid.UUID, purpose: str, seq: int | str,
                    params: dict | None = None) -> str:
    """``relais-<agency>-<purpose>-<seq>``: the same request asked again gets the same key.

    ``params`` is for requests whose parameters may legitimately differ under the same
    sequence number (a preview at another proration time): a digest of them joins the
    key, since Stripe refuses a key reused with other parameters."""
    key = f"relais-{agency_id.hex}-{purpose}-{seq}"
    if params is not None:
        digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode())
        key += "-" + digest.hexdigest()[:16]
    return key


def options(key: str) -> dict:
    return {"idempotency_key": key}


def unavailable(error: stripe.StripeError) -> BillingUnavailable:
    """What to tell the agency about a Stripe error (logged without secrets)."""
    log.warning("stripe: %s (%s, request %s)", type(error).__name__,
                getattr(error, "code", None), getattr(error, "request_id", None))
    if isinstance(error, stripe.AuthenticationError | stripe.PermissionError):
        return BillingUnavailable(_("Stripe refused Relais's key. The person who runs "
                                    "Relais must check STRIPE_API_KEY."))
    if isinstance(error, stripe.InvalidRequestError | stripe.IdempotencyError):
        return BillingUnavailable(_("Stripe refused this request. Nothing was changed; "
                                    "if it happens again, contact Relais's support."))
    return BillingUnavailable(_("Stripe could not be reached. Nothing was changed: try "
                                "again in a minute."))


# --- the calls Relais makes: plain dicts out, BillingUnavailable on failure --------------
# Everything past this module works on plain dicts (``to_dict()``), so the webhook and
# sync logic can be tested with the payloads alone.

def _call(method, *args) -> dict:
    try:
        return method(*args).to_dict()
    except stripe.StripeError as error:
        raise unavailable(error) from error


def create_customer(params: dict, key: str) -> dict:
    return _call(client().v1.customers.create, params, options(key))


def retrieve_subscription(subscription_id: str) -> dict:
    return _call(client().v1.subscriptions.retrieve, subscription_id,
                 {"expand": ["latest_invoice"]})


def update_subscription(subscription_id: str, params: dict, key: str) -> dict:
    return _call(client().v1.subscriptions.update, subscription_id, params, options(key))


def list_subscriptions(customer: str) -> list[dict]:
    """Every subscription of ``customer``, ended ones included."""
    try:
        return [sub.to_dict() for sub in client().v1.subscriptions.list(
            {"customer": customer, "status": "all", "limit": 100}).auto_paging_iter()]
    except stripe.StripeError as error:
        raise unavailable(error) from error


def subscription_items(subscription: dict) -> list[dict]:
    """All of a subscription's items (the embedded list is complete unless has_more)."""
    listing = subscription["items"]
    if not listing.get("has_more"):
        return list(listing["data"])
    try:
        return [item.to_dict() for item in client().v1.subscription_items.list(
            {"subscription": subscription["id"], "limit": 100}).auto_paging_iter()]
    except stripe.StripeError as error:
        raise unavailable(error) from error


def create_preview(params: dict, key: str) -> dict:
    return _call(client().v1.invoices.create_preview, params, options(key))


def retrieve_invoice(invoice_id: str) -> dict:
    return _call(client().v1.invoices.retrieve, invoice_id)


def create_checkout_session(params: dict, key: str) -> dict:
    return _call(client().v1.checkout.sessions.create, params, options(key))


def retrieve_checkout_session(session_id: str) -> dict:
    return _call(client().v1.checkout.sessions.retrieve, session_id)


def expire_checkout_session(session_id: str, key: str) -> dict:
    """Close an open Checkout so its link no longer takes a payment. A session that is
    no longer open (paid, or expired already) is returned as it stands: Stripe refuses to
    expire it, and the caller decides from its ``status``."""
    try:
        return client().v1.checkout.sessions.expire(session_id, None,
                                                    options(key)).to_dict()
    except stripe.InvalidRequestError as error:
        if getattr(error, "http_status", None) == 404:
            raise unavailable(error) from error
        return retrieve_checkout_session(session_id)
    except stripe.StripeError as error:
        raise unavailable(error) from error


def create_portal_session(params: dict, key: str) -> dict:
    return _call(client().v1.billing_portal.sessions.create, params, options(key))

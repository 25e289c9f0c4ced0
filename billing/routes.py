"""The billing pages (owners and admins: ``Permission.BILLING_MANAGE``), the banner, and
Stripe's webhook.

Views follow load → check → act → commit. The one departure: a request that creates a
Stripe session first commits the session number it reserved (its idempotency key), so
that a failed call followed by a new click never reuses a key Stripe has answered.
``/webhooks/stripe`` is public and CSRF-exempt: Stripe's signature is its check.
"""

from __future__ import annotations

import logging
import uuid

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import refresh
from sqlalchemy.exc import SQLAlchemyError

from agency.access import can, client_for_view, require
from agency.auth.services import ServiceError
from agency.extensions import csrf, db, talisman
from agency.i18n import supported
from tenants.roles import Permission

from . import checkout, holds, plans, queries, services, sync, webhooks  # noqa: F401 - holds: its hook
from .csp import BillingPagePolicy
from .invite import send_checkout_link
from .stripe_client import BillingUnavailable, enabled

bp = Blueprint("billing", __name__)
log = logging.getLogger(__name__)


@bp.app_context_processor
def _billing_helpers():
    # A function: a page pays for the query only if its template shows the banner.
    return {"billing_banner": _banner}


def _banner():
    if g.get("membership") is None:
        return None
    try:
        return queries.banner(manager=can(Permission.BILLING_MANAGE))
    except SQLAlchemyError:
        log.warning("billing banner unavailable", exc_info=True)
        return None


def _refused(error: ServiceError):
    db.session.rollback()
    flash(error.message, "error")
    return redirect(url_for("billing.index"), 303)


# --- the billing page --------------------------------------------------------------------

@bp.get("/billing")
@talisman(content_security_policy=BillingPagePolicy())
@require(Permission.BILLING_MANAGE)
def index():
    return render_template("billing/index.html", page=queries.page(), plans=plans.PLANS,
                           euros=plans.euros, done=request.args.get("checkout"))


@bp.post("/billing/checkout")
@require(Permission.BILLING_MANAGE)
def start_checkout():
    if not enabled():
        abort(404)
    seq = services.reserve_session()
    db.session.commit()
    try:
        url = checkout.start_subscription(
            seq, success_url=url_for("billing.index", checkout="done", _external=True),
            cancel_url=url_for("billing.index", _external=True))
    except ServiceError as error:
        return _refused(error)
    db.session.commit()
    return redirect(url, 303)


@bp.post("/billing/portal")
@require(Permission.BILLING_MANAGE)
def portal():
    if not enabled():
        abort(404)
    seq = services.reserve_session()
    db.session.commit()
    try:
        url = checkout.portal(seq, return_url=url_for("billing.index", _external=True))
    except ServiceError as error:
        return _refused(error)
    db.session.commit()
    return redirect(url, 303)


# --- one workspace -------------------------------------------------------------------------

@bp.get("/billing/clients/<uuid:client_id>/plan")
@require(Permission.BILLING_MANAGE)
def preview_plan(client_id: uuid.UUID):
    """What moving this workspace to another plan would add, before confirming."""
    client = client_for_view(client_id)
    plan_key = request.args.get("plan", "")
    if not plans.is_plan(plan_key):
        abort(404)
    try:
        preview = sync.preview(queries.quantities_with(client, plan_key))
    except ServiceError as error:
        return _refused(error)
    return render_template("billing/plan.html", client=client, plan=plans.get(plan_key),
                           preview=preview, euros=plans.euros)


@bp.post("/billing/clients/<uuid:client_id>/plan")
@require(Permission.BILLING_MANAGE)
def change_plan(client_id: uuid.UUID):
    client = client_for_view(client_id)
    try:
        services.change_plan(client, request.form.get("plan", ""))
    except ServiceError as error:
        return _refused(error)
    name, plan = client.name, plans.get(request.form.get("plan"))
    db.session.commit()
    proration_date = request.form.get("proration_date", type=int)
    try:
        sync.sync_subscription(proration_date=proration_date)
    except BillingUnavailable:
        # Saved: the subscription follows as soon as Stripe answers (worker, periodic
        # check). Nothing is charged twice: quantities are set, not added.
        flash(_("%(client)s is now on %(plan)s. Stripe will be updated in a few minutes.",
                client=name, plan=plan.name), "success")
        return redirect(url_for("billing.index"), 303)
    flash(_("%(client)s is now on %(plan)s.", client=name, plan=plan.name), "success")
    return redirect(url_for("billing.index"), 303)


@bp.post("/billing/clients/<uuid:client_id>/client-pays")
@require(Permission.BILLING_MANAGE)
def client_pays(client_id: uuid.UUID):
    """A Checkout link for the SME owner, e-mailed to the workspace's approving
    contacts and shown on the page."""
    client = client_for_view(client_id)
    if not enabled():
        abort(404)
    seq = services.reserve_session()
    db.session.commit()
    try:
        row = checkout.client_pays(
            client, seq,
            success_url=url_for("billing.owner_checkout_done", outcome="paid",
                                lang=client.language, _external=True),
            cancel_url=url_for("billing.owner_checkout_done", outcome="cancelled",
                               lang=client.language, _external=True))
    except ServiceError as error:
        return _refused(error)
    sent = send_checkout_link(client, row.checkout_url)
    db.session.commit()
    flash(_("The payment link for %(client)s is ready (%(count)d e-mail sent).",
            client=client.name, count=sent) if sent else
          _("The payment link for %(client)s is ready: send it to them.", client=client.name),
          "success")
    return redirect(url_for("billing.index", _anchor=f"client-{client.id}"), 303)


@bp.post("/billing/clients/<uuid:client_id>/agency-pays")
@require(Permission.BILLING_MANAGE)
def agency_pays(client_id: uuid.UUID):
    client = client_for_view(client_id)
    try:
        row = services.agency_pays_allowed(client)
        if enabled() and row is not None:
            checkout.withdraw_client_link(client, row)  # the old link stops taking payments
        services.agency_pays(client)
    except ServiceError as error:
        return _refused(error)
    name = client.name
    db.session.commit()
    flash(_("The agency pays for %(client)s again.", client=name), "success")
    return redirect(url_for("billing.index"), 303)


@bp.get("/billing/owner/done")
def owner_checkout_done():
    """Where Stripe's Checkout sends the SME owner back: a page of thanks (or of a payment
    not made), in the client's language. Public: the owner has no Relais account, and
    the page shows nothing about anyone (what was paid is Stripe's to confirm, by
    webhook)."""
    g.force_locale = supported(request.args.get("lang")) or "fr"
    refresh()
    return render_template("billing/owner_done.html",
                           paid=request.args.get("outcome") != "cancelled")


# --- Stripe's webhook --------------------------------------------------------------------

@bp.post("/webhooks/stripe")
@csrf.exempt
def webhook():
    try:
        outcome = webhooks.receive(request.get_data(cache=False),
                                   request.headers.get("Stripe-Signature"))
    except webhooks.BadSignature:
        db.session.rollback()
        return jsonify({"error": "invalid signature"}), 400
    except BillingUnavailable:
        # Stripe could not be read back: nothing was applied; Stripe retries the event.
        db.session.rollback()
        return jsonify({"error": "stripe unavailable"}), 503
    return jsonify({"outcome": outcome})

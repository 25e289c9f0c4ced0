"""Billing's two cross-agency reads, each a narrow, named path returning ids only.

- ``owner_of_customer``: a Stripe webhook carries no tenant; the agency (and, for a
  client-paid workspace, the client) is found from Relais's own record of the customer,
  never from the event's metadata.
- ``agencies_to_check``: the periodic check's scan (a payment overdue beyond the grace
  period is noticed without a webhook).

On PostgreSQL each is a SECURITY DEFINER function of migration 0011; on SQLite the same
query under ``system_scope``. Keep the two in step: the tests run both.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import exists, null, select, text, union

from agency.clients.models import Client
from agency.extensions import db
from tenants.models import Agency
from tenants.scoping import system_scope

from .models import BillingAccount, ClientBilling

# A subscription in one of these does not pay: the grace period or a hold applies.
UNPAID_STATUSES = ("past_due", "unpaid", "canceled", "incomplete", "incomplete_expired",
                   "paused")


class Owner(NamedTuple):
    agency_id: uuid.UUID
    client_id: uuid.UUID | None  # set when the customer is a client-paid workspace's


def _postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def owner_of_customer(customer_id: str) -> Owner | None:
    """Whose Stripe customer ``customer_id`` is, by Relais's records (None: not ours)."""
    if not customer_id:
        return None
    if _postgres():
        rows = list(db.session.execute(
            text("SELECT agency_id, client_id FROM relais_billing_customer(:c)"),
            {"c": customer_id}))
    else:
        reason = system_scope("billing webhook: the agency of a Stripe customer (ids only)")
        rows = list(db.session.execute(
            select(BillingAccount.agency_id, null())
            .where(BillingAccount.stripe_customer_id == customer_id)
            .execution_options(**reason)))
        rows += list(db.session.execute(
            select(ClientBilling.agency_id, ClientBilling.client_id)
            .where(ClientBilling.stripe_customer_id == customer_id)
            .execution_options(**reason)))
    if not rows:
        return None
    agency_id, client_id = rows[0]
    return Owner(uuid.UUID(str(agency_id)), uuid.UUID(str(client_id)) if client_id else None)


def agencies_to_check(now: datetime, trial_days: int) -> list[uuid.UUID]:
    """Agencies whose billing the periodic check must look at (see migration 0011)."""
    trial_started_before = now - timedelta(days=trial_days)
    if _postgres():
        rows = db.session.execute(
            text("SELECT agency_id FROM relais_billing_agencies_to_check(:now, :before)"),
            {"now": now, "before": trial_started_before}).scalars()
        return [uuid.UUID(str(row)) for row in rows]
    reason = system_scope("billing check: agencies whose billing needs a look (ids only)")
    accounts = select(BillingAccount.agency_id).where(
        (BillingAccount.synced_seq < BillingAccount.change_seq)
        | BillingAccount.held_at.is_not(None)
        | BillingAccount.subscription_status.in_(UNPAID_STATUSES)
        | (BillingAccount.stripe_subscription_id.is_(None)
           & (BillingAccount.trial_ends_at <= now)))
    clients = select(ClientBilling.agency_id).where(
        ClientBilling.held_at.is_not(None)
        | ClientBilling.subscription_status.in_(UNPAID_STATUSES))
    untouched = select(Agency.id).where(
        Agency.created_at <= trial_started_before,
        ~exists().where(BillingAccount.agency_id == Agency.id),
        exists().where(Client.agency_id == Agency.id, Client.archived_at.is_(None)))
    query = union(accounts, clients, untouched).order_by(text("1"))
    return [uuid.UUID(str(row)) for row in
            db.session.execute(query.execution_options(**reason)).scalars()]

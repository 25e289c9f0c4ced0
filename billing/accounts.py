"""The current agency's billing rows: found, made on first need, and what they imply
(the quantities per plan, the standing). All inside the current tenant."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError

from agency.clients.models import Client
from agency.extensions import db
from tenants.context import current_agency_id
from tenants.models import Agency

from . import plans
from .models import BillingAccount, ClientBilling, Payer
from .standing import Verdict, judge_account, judge_subscription
from .stripe_client import enabled


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def grace() -> timedelta:
    return timedelta(days=int(current_app.config["BILLING_GRACE_DAYS"]))


def trial_end() -> datetime:
    """The trial runs BILLING_TRIAL_DAYS from the agency's signup."""
    agency = db.session.scalars(select(Agency).where(Agency.id == current_agency_id())).one()
    created = _utc(agency.created_at or datetime.now(UTC))
    return created + timedelta(days=int(current_app.config["BILLING_TRIAL_DAYS"]))


def get_account(*, lock: bool = False) -> BillingAccount | None:
    """The agency's billing account, if made yet. ``lock`` takes its row lock: everything
    that re-reads Stripe and writes what it read runs under it, one at a time per agency,
    so an older read can never be written over a newer one."""
    query = select(BillingAccount).execution_options(populate_existing=True)
    if lock:
        query = query.with_for_update()
    return db.session.scalars(query).one_or_none()


def ensure_account(*, lock: bool = False) -> BillingAccount:
    """The agency's billing account, made (trial from signup) if it does not exist yet.
    Two first uses at once make one row: the loser of the unique constraint reads the
    winner's."""
    account = get_account(lock=lock)
    if account is not None:
        return account
    try:
        with db.session.begin_nested():
            db.session.add(BillingAccount(trial_ends_at=trial_end()))
    except IntegrityError:
        pass
    account = get_account(lock=lock)
    assert account is not None
    return account


def client_billing(client_id: uuid.UUID, *, create: bool = False,
                   lock: bool = False) -> ClientBilling | None:
    query = select(ClientBilling).where(ClientBilling.client_id == client_id)
    if lock:
        query = query.with_for_update()
    row = db.session.scalars(query.execution_options(populate_existing=True)).one_or_none()
    if row is None and create:
        row = ClientBilling(client_id=client_id)
        db.session.add(row)
        db.session.flush()
    return row


def agency_paid():
    """The SQL condition "on the agency's subscription" for a client outer-joined with
    its (maybe absent) billing row."""
    return or_(func.coalesce(ClientBilling.payer, Payer.AGENCY) != Payer.CLIENT,
               ClientBilling.stripe_subscription_id.is_(None))


def _with_billing():
    return select(Client, ClientBilling).outerjoin(ClientBilling, and_(
        ClientBilling.agency_id == Client.agency_id, ClientBilling.client_id == Client.id))


def desired_quantities() -> dict[str, int]:
    """Active (not archived) agency-paid workspaces per plan key, every plan listed."""
    rows = db.session.execute(
        select(ClientBilling.plan, func.count(Client.id))
        .select_from(Client)
        .outerjoin(ClientBilling, and_(ClientBilling.agency_id == Client.agency_id,
                                       ClientBilling.client_id == Client.id))
        .where(Client.archived_at.is_(None), agency_paid())
        .group_by(ClientBilling.plan))
    quantities = {plan.key: 0 for plan in plans.PLANS}
    for key, count in rows:  # no billing row (None): the default plan
        quantities[plans.get(key).key] += count
    return quantities


def workspaces(*, include_archived: bool = False) -> list[tuple[Client, ClientBilling | None]]:
    """Every client with its billing row (None: default plan, agency pays), by name."""
    query = _with_billing().order_by(Client.name, Client.id)
    if not include_archived:
        query = query.where(Client.archived_at.is_(None))
    return [(client, row) for client, row in db.session.execute(query)]


def account_verdict(account: BillingAccount | None, now: datetime | None = None) -> Verdict:
    """The agency's standing; an agency without an account row is judged on its trial."""
    now = now or datetime.now(UTC)
    if account is None:
        return judge_account(enabled=enabled(), subscription_id=None, status="",
                             past_due_since=None, trial_ends_at=trial_end(), now=now,
                             grace=grace())
    return judge_account(enabled=enabled(), subscription_id=account.stripe_subscription_id,
                         status=account.subscription_status,
                         past_due_since=account.past_due_since,
                         trial_ends_at=account.trial_ends_at, now=now, grace=grace())


def client_verdict(row: ClientBilling, now: datetime | None = None) -> Verdict:
    """A client-paid workspace's own standing (only meaningful when ``client_paid``)."""
    return judge_subscription(row.subscription_status, row.past_due_since,
                              now or datetime.now(UTC), grace())

"""Billing reads for the pages: the billing page's content and the banner. Never write
(a GET of the billing page makes no row), never call Stripe (the page shows Relais's
copy, which the webhooks keep current)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask_babel import format_date, ngettext
from flask_babel import gettext as _
from sqlalchemy import func, select

from agency.clients.models import Client
from agency.extensions import db

from . import plans
from .accounts import account_verdict, desired_quantities, get_account, workspaces
from .models import BillingAccount, BillingInvoice, ClientBilling, Payer
from .standing import Standing, Verdict
from .stripe_client import enabled
from .sync import monthly_cents

TRIAL_WARNING = timedelta(days=3)
INVOICES_SHOWN = 24


@dataclass(frozen=True)
class Workspace:
    client: Client
    plan: plans.Plan
    payer: str
    row: ClientBilling | None
    held: bool

    @property
    def client_paid(self) -> bool:
        return self.row is not None and self.row.client_paid

    @property
    def agency_cost(self) -> int:
        """What the agency pays a month for it (0 when the SME pays)."""
        return 0 if self.client_paid else self.plan.monthly_cents

    @property
    def link_pending(self) -> bool:
        return (self.payer == Payer.CLIENT and not self.client_paid
                and bool(self.row and self.row.checkout_url))


@dataclass(frozen=True)
class Page:
    enabled: bool
    missing_prices: list[str]
    account: BillingAccount | None
    verdict: Verdict
    workspaces: list[Workspace]
    quantities: dict[str, int]
    monthly_total: int
    invoices: list[BillingInvoice]

    @property
    def subscribed(self) -> bool:
        return bool(self.account and self.account.stripe_subscription_id
                    and self.account.subscription_status not in ("canceled",
                                                                  "incomplete_expired"))


def page(now: datetime | None = None) -> Page:
    now = now or datetime.now(UTC)
    account = get_account()
    verdict = account_verdict(account, now)
    agency_held = account is not None and account.held_at is not None
    shown = []
    for client, row in workspaces():
        client_paid = row is not None and row.client_paid
        held = (row.held_at is not None) if client_paid else agency_held
        shown.append(Workspace(client, plans.get(row.plan if row else None),
                               row.payer if row else Payer.AGENCY, row, held))
    quantities = desired_quantities()
    invoices = list(db.session.scalars(select(BillingInvoice).order_by(
        BillingInvoice.issued_at.desc(), BillingInvoice.id).limit(INVOICES_SHOWN)))
    return Page(enabled(), plans.missing_prices(), account, verdict, shown, quantities,
                monthly_cents(quantities), invoices)


def quantities_with(client: Client, plan_key: str) -> dict[str, int]:
    """The agency's quantities if ``client`` moved to ``plan_key``."""
    quantities = desired_quantities()
    row = db.session.scalars(select(ClientBilling).where(
        ClientBilling.client_id == client.id)).one_or_none()
    if client.archived_at is None and not (row is not None and row.client_paid):
        current = plans.get(row.plan if row else None).key
        quantities[current] -= 1
        quantities[plans.get(plan_key).key] += 1
    return quantities


@dataclass(frozen=True)
class Banner:
    level: str  # "error" (held) or "warning"
    message: str


def banner(*, manager: bool, now: datetime | None = None) -> Banner | None:
    """The one line every page shows while billing affects publishing (and, to the
    people who manage billing, a trial about to end). None in local mode."""
    if not enabled():
        return None
    now = now or datetime.now(UTC)
    account = get_account()
    verdict = account_verdict(account, now)
    # The holds in place (the periodic check may be a few minutes behind the clock).
    if verdict.held or (account is not None and account.held_at is not None):
        return Banner("error", _("Publishing is on hold: the subscription is not paid. "
                                 "Nothing is lost; it resumes once the payment goes "
                                 "through."))
    if verdict.standing == Standing.GRACE:
        return Banner("error", _("A payment is overdue: publishing will be put on hold on "
                                 "%(date)s unless it goes through.",
                                 date=format_date(verdict.until, "long")))
    held = db.session.scalar(select(func.count()).select_from(ClientBilling).where(
        ClientBilling.held_at.is_not(None)))
    if held:
        return Banner("error", ngettext(
            "Publishing is on hold for %(num)d client whose own subscription is not paid.",
            "Publishing is on hold for %(num)d clients whose own subscriptions are not paid.",
            held))
    if (manager and verdict.standing == Standing.TRIAL and verdict.until
            and verdict.until - now <= TRIAL_WARNING):
        return Banner("warning", _("Your free trial ends on %(date)s: add a payment method "
                                   "to keep publishing.",
                                   date=format_date(verdict.until, "long")))
    return None



def quantities_adding(plan_key: str = plans.DEFAULT_PLAN) -> dict[str, int]:
    """The agency's quantities with one more workspace on ``plan_key`` (a new or restored
    client), for ``sync.preview`` before confirming."""
    quantities = desired_quantities()
    quantities[plans.get(plan_key).key] += 1
    return quantities


def quantities_without(client: Client) -> dict[str, int]:
    """The agency's quantities once ``client`` is archived (for ``sync.preview``)."""
    quantities = desired_quantities()
    row = db.session.scalars(select(ClientBilling).where(
        ClientBilling.client_id == client.id)).one_or_none()
    if client.archived_at is None and not (row is not None and row.client_paid):
        quantities[plans.get(row.plan if row else None).key] -= 1
    return quantities

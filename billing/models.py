"""What Relais keeps about billing: the agency's Stripe customer and subscription, each
client workspace's plan and payer, the invoices, and the Stripe events already applied.

Stripe is the truth about money; these rows are Relais's copy of what it needs to show
and decide (which client is on which plan, whether publishing is held), refreshed from
Stripe by the webhooks. Every table is a tenant table (``agency_id``, row-level
security). Stripe's ids are unique across agencies: a webhook finds its agency by the
customer id (migration 0011's function), and an event id can be applied only once.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column

from agency.extensions import db
from tenants.ids import new_id
from tenants.scoping import TenantMixin

from .plans import DEFAULT_PLAN


class Payer:
    AGENCY = "agency"  # on the agency's subscription (the default)
    CLIENT = "client"  # the SME pays for its own workspace (its own Stripe customer)


class BillingAccount(TenantMixin, db.Model):
    """One per agency: its Stripe customer and its one subscription, whose items are the
    plans in use with quantity = the agency-paid active workspaces on each."""

    __tablename__ = "billing_accounts"
    __table_args__ = (
        UniqueConstraint("agency_id", "id"),
        UniqueConstraint("agency_id"),
        # Across agencies, on purpose: a webhook's customer leads to its agency.
        UniqueConstraint("stripe_customer_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255))
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(255))
    # Stripe's status as last read ("" before any subscription exists).
    subscription_status: Mapped[str] = mapped_column(String(32), default="",
                                                     server_default="")
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, default=False,
                                                       server_default=sa_false())
    current_period_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When the subscription's unpaid invoice first failed: the grace period counts from it.
    past_due_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    trial_ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Stripe's items as last read: {price id: {"id": item id, "quantity": n}}.
    items: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")
    # Each change of the quantities (a client added, archived, restored or moved to
    # another plan) takes the next number; the subscription is in step once synced_seq
    # reaches it. The number is part of the update's idempotency key.
    change_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    synced_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Each Checkout or Portal session asked for takes the next number (its key).
    session_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The open Checkout (to subscribe), reused until it expires: two clicks must not
    # become two subscriptions.
    checkout_url: Mapped[str] = mapped_column(String(1000), default="", server_default="")
    # The open Checkout behind ``checkout_url``: expired when it is no longer wanted.
    checkout_session_id: Mapped[str] = mapped_column(String(255), default="",
                                                     server_default="")
    checkout_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set while the agency-paid workspaces' publishing is held for billing.
    held_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now())


class ClientBilling(TenantMixin, db.Model):
    """A client workspace's plan and who pays for it. A workspace without a row is on
    the default plan, paid by the agency (rows are made on the first change)."""

    __tablename__ = "client_billing"
    __table_args__ = (
        UniqueConstraint("agency_id", "id"),
        UniqueConstraint("agency_id", "client_id"),
        UniqueConstraint("stripe_customer_id"),
        ForeignKeyConstraint(["agency_id", "client_id"], ["clients.agency_id", "clients.id"],
                             ondelete="CASCADE"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    client_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    plan: Mapped[str] = mapped_column(String(16), default=DEFAULT_PLAN,
                                      server_default=DEFAULT_PLAN)
    payer: Mapped[str] = mapped_column(String(16), default=Payer.AGENCY,
                                       server_default=Payer.AGENCY)
    # Client pays: the SME's own customer and subscription, and the Checkout link sent.
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255))
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(255))
    subscription_status: Mapped[str] = mapped_column(String(32), default="",
                                                     server_default="")
    current_period_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    past_due_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    checkout_url: Mapped[str] = mapped_column(String(1000), default="", server_default="")
    # The open Checkout behind ``checkout_url``: expired when it is no longer wanted.
    checkout_session_id: Mapped[str] = mapped_column(String(255), default="",
                                                     server_default="")
    checkout_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set while this client-paid workspace's publishing is held for billing.
    held_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now())

    @property
    def client_paid(self) -> bool:
        """On its own subscription (once the SME has one): off the agency's."""
        return self.payer == Payer.CLIENT and bool(self.stripe_subscription_id)


class BillingInvoice(TenantMixin, db.Model):
    """An invoice of the agency (or of a client-paid workspace), as Stripe last said."""

    __tablename__ = "billing_invoices"
    __table_args__ = (
        UniqueConstraint("agency_id", "id"),
        UniqueConstraint("agency_id", "stripe_invoice_id"),
        Index("ix_billing_invoices_agency_id_issued_at", "agency_id", "issued_at"),
        ForeignKeyConstraint(["agency_id", "client_id"], ["clients.agency_id", "clients.id"],
                             ondelete="CASCADE"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    stripe_invoice_id: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # set for a client-paid one
    number: Mapped[str] = mapped_column(String(64), default="", server_default="")
    status: Mapped[str] = mapped_column(String(16), default="", server_default="")
    currency: Mapped[str] = mapped_column(String(3), default="eur", server_default="eur")
    total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    amount_due: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    amount_paid: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    hosted_invoice_url: Mapped[str] = mapped_column(String(1000), default="",
                                                    server_default="")
    invoice_pdf: Mapped[str] = mapped_column(String(1000), default="", server_default="")
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now())


class StripeEvent(TenantMixin, db.Model):
    """A Stripe event applied to this agency, written in the same transaction as its
    effects. The event id is unique across agencies (the database checks a unique
    constraint whatever row-level security hides), so a second delivery of the same
    event, even at the same moment, fails at this insert and changes nothing."""

    __tablename__ = "stripe_events"
    __table_args__ = (
        UniqueConstraint("agency_id", "id"),
        UniqueConstraint("event_id"),
        Index("ix_stripe_events_agency_id_applied_at", "agency_id", "applied_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    event_id: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(64))
    # Stripe's own time for the event (epoch seconds in the payload).
    event_created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())

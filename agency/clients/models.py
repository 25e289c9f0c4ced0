"""Client workspaces (the SMEs an agency works for), their staff and their contacts."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from agency.extensions import db
from tenants.ids import new_id
from tenants.scoping import TenantMixin


class Client(TenantMixin, db.Model):
    __tablename__ = "clients"
    __table_args__ = (
        UniqueConstraint("agency_id", "id"),
        Index("ix_clients_agency_id_archived_at_name", "agency_id", "archived_at", "name"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Paris")
    language: Mapped[str] = mapped_column(String(5), default="fr")
    brand_tone: Mapped[str] = mapped_column(Text, default="")
    brand_words_use: Mapped[str] = mapped_column(Text, default="")
    brand_words_avoid: Mapped[str] = mapped_column(Text, default="")
    brand_hashtags: Mapped[str] = mapped_column(Text, default="")
    # Where the business is: shown beside a post's location tag ("At 12 rue des Lilas,
    # 69001 Lyon") so the owner knows which place a post is tagged with.
    address_line: Mapped[str] = mapped_column(String(200), default="", server_default="")
    postal_code: Mapped[str] = mapped_column(String(16), default="", server_default="")
    city: Mapped[str] = mapped_column(String(120), default="", server_default="")
    country: Mapped[str] = mapped_column(String(2), default="FR", server_default="FR")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # How posts get approved (agency.approvals.models.ApprovalPolicy), and the timings.
    approval_policy: Mapped[str] = mapped_column(String(24), default="client",
                                                 server_default="client")
    approval_link_hours: Mapped[int] = mapped_column(Integer, default=168, server_default="168")
    reminder_after_hours: Mapped[int] = mapped_column(Integer, default=48, server_default="48")
    escalate_after_hours: Mapped[int] = mapped_column(Integer, default=72, server_default="72")
    # Approve automatically at the deadline: only when the client opted in, and recorded.
    auto_approve_at_deadline: Mapped[bool] = mapped_column(Boolean, default=False,
                                                           server_default=sa_false())
    auto_approve_opted_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    auto_approve_opted_in_by: Mapped[str] = mapped_column(String(254), default="",
                                                          server_default="")

    contacts = relationship(
        "Contact", back_populates="client", order_by="Contact.name", viewonly=True
    )

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    @property
    def address(self) -> str:
        """The address on one line ("12 rue des Lilas, 69001 Lyon"); the country is named
        only outside France. "" when none was given."""
        town = " ".join(p for p in (self.postal_code, self.city) if p)
        parts = [p for p in (self.address_line, town) if p]
        if parts and self.country and self.country != "FR":
            parts.append(self.country)
        return ", ".join(parts)


class ClientAssignment(TenantMixin, db.Model):
    """Staff assigned to a client. Members see and act on only these clients."""

    __tablename__ = "client_assignments"
    __table_args__ = (
        UniqueConstraint("agency_id", "client_id", "membership_id"),
        UniqueConstraint("agency_id", "id"),
        Index("ix_client_assignments_agency_id_membership_id", "agency_id", "membership_id"),
        ForeignKeyConstraint(
            ["agency_id", "client_id"], ["clients.agency_id", "clients.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["agency_id", "membership_id"], ["memberships.agency_id", "memberships.id"],
            ondelete="CASCADE",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    client_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    membership_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    membership = relationship("Membership", lazy="joined", viewonly=True)


class Contact(TenantMixin, db.Model):
    """One of the SME's people: who they are and whether they approve posts."""

    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("agency_id", "id"),
        Index("ix_contacts_agency_id_client_id", "agency_id", "client_id"),
        # A contact who signs in is found by their user, across agencies (a named system
        # scope; see agency/clientarea).
        Index("ix_contacts_user_id", "user_id"),
        ForeignKeyConstraint(
            ["agency_id", "client_id"], ["clients.agency_id", "clients.id"], ondelete="CASCADE"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    client_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    approves_posts: Mapped[bool] = mapped_column(Boolean, default=False)
    # Opted in to the monthly report, e-mailed at the start of each month (results).
    receives_reports: Mapped[bool] = mapped_column(Boolean, default=False,
                                                   server_default=sa_false())
    # Set once the contact has accepted an invitation to their own sign-in (client role):
    # they then see their client's waiting posts and past decisions without a link.
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    client = relationship("Client", back_populates="contacts", viewonly=True)

"""Approval requests sent to a client's contacts, and the decisions taken on posts.

A decision names the exact ``content_hash`` it was taken on; a post counts as approved
only while its current hash is the one that was decided.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
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
from sqlalchemy.orm import Mapped, mapped_column, relationship

from agency.extensions import db
from agency.sqltypes import string_enum
from tenants.ids import new_id
from tenants.scoping import TenantMixin


class ApprovalPolicy(StrEnum):
    NONE = "none"  # the agency's own save is enough
    CLIENT = "client"  # the client approves
    INTERNAL_THEN_CLIENT = "internal_then_client"  # a manager reviews, then the client


class DecisionKind(StrEnum):
    INTERNAL_APPROVED = "internal_approved"
    INTERNAL_CHANGES = "internal_changes"
    CLIENT_APPROVED = "client_approved"
    CLIENT_CHANGES = "client_changes"
    AUTO_APPROVED = "auto_approved"  # at the deadline, only where the client opted in




class ApprovalRequest(TenantMixin, db.Model):
    """One batch of posts sent to a client's approving contacts."""

    __tablename__ = "approval_requests"
    __table_args__ = (
        UniqueConstraint("agency_id", "id"),
        Index("ix_approval_requests_agency_id_client_id", "agency_id", "client_id"),
        ForeignKeyConstraint(
            ["agency_id", "client_id"], ["clients.agency_id", "clients.id"], ondelete="CASCADE"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    client_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    items = relationship("ApprovalItem", viewonly=True, lazy="selectin",
                         order_by="ApprovalItem.position")


class ApprovalItem(TenantMixin, db.Model):
    """A post in a request, as it was when sent (its revision and hash)."""

    __tablename__ = "approval_items"
    __table_args__ = (
        UniqueConstraint("agency_id", "request_id", "post_id"),
        Index("ix_approval_items_agency_id_post_id", "agency_id", "post_id"),
        ForeignKeyConstraint(
            ["agency_id", "request_id"], ["approval_requests.agency_id", "approval_requests.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["agency_id", "post_id"], ["posts.agency_id", "posts.id"], ondelete="CASCADE"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    request_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    post_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    position: Mapped[int] = mapped_column(Integer, default=0)
    revision_number: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))


class Decision(TenantMixin, db.Model):
    """Who decided what on which exact content. Append-only."""

    __tablename__ = "decisions"
    __table_args__ = (
        UniqueConstraint("agency_id", "id"),
        Index("ix_decisions_agency_id_post_id_created_at", "agency_id", "post_id", "created_at"),
        ForeignKeyConstraint(
            ["agency_id", "post_id"], ["posts.agency_id", "posts.id"], ondelete="CASCADE"
        ),
    )
    # contact_id has no foreign key on purpose: a decision is history, and removing a
    # contact must neither delete it nor be blocked by it. actor_label keeps the name.

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    post_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    revision_number: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    kind: Mapped[DecisionKind] = mapped_column(string_enum(DecisionKind, "decision_kind"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    contact_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    actor_label: Mapped[str] = mapped_column(String(254), default="")
    request_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

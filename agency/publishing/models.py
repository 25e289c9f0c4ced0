"""Publications: one per (approved post, target account), carrying the approved revision.

    scheduled ─dispatcher─▶ queued ─worker─▶ sending ─▶ published
                                      │  ├──▶ retrying ─(due again)─▶ queued …
                                      │  ├──▶ failed (refused for good, or out of tries)
                                      │  └──▶ held (account expired) ─reconnected─▶ scheduled
                                      └─(crash, timeout, lease over)─▶ unknown
    unknown ─reconciled─▶ published | queued (idempotent retry) | needs_attention
    scheduled / retrying ─▶ held (connection or billing problem) ─resolved─▶ scheduled

The database is the truth; Redis only carries the jobs (agency/publishing/dispatch.py).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from agency.extensions import db
from agency.sqltypes import string_enum
from tenants.ids import new_id
from tenants.scoping import TenantMixin


class PublicationState(StrEnum):
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    SENDING = "sending"
    PUBLISHED = "published"
    RETRYING = "retrying"
    FAILED = "failed"
    UNKNOWN = "unknown"
    NEEDS_ATTENTION = "needs_attention"
    HELD = "held"


# Nothing more will happen to these by itself.
TERMINAL = frozenset({PublicationState.PUBLISHED, PublicationState.FAILED,
                      PublicationState.NEEDS_ATTENTION})
# Not yet in anyone's hands: may be withdrawn when the post is edited.
NOT_STARTED = frozenset({PublicationState.SCHEDULED, PublicationState.HELD})


class HoldReason(StrEnum):
    ACCOUNT = "account"  # the account's connection expired or was revoked
    BILLING = "billing"  # the client's billing is not in good standing


class Publication(TenantMixin, db.Model):
    __tablename__ = "publications"
    __table_args__ = (
        UniqueConstraint("agency_id", "id"),
        # One publication per account for a given approved revision.
        UniqueConstraint("agency_id", "revision_id", "social_account_id"),
        Index("ix_publications_agency_id_post_id", "agency_id", "post_id"),
        # The dispatcher's scan across agencies (the one index not led by agency_id: that
        # scan is by time, over every agency, through migration 0007's function).
        Index("ix_publications_state_due_at", "state", "due_at"),
        Index("ix_publications_agency_id_state", "agency_id", "state"),
        Index("ix_publications_agency_id_social_account_id_state", "agency_id",
              "social_account_id", "state"),
        # The results pages: a client's publications by the time they went out.
        Index("ix_publications_agency_id_client_id_published_at", "agency_id", "client_id",
              "published_at"),
        ForeignKeyConstraint(
            ["agency_id", "post_id"], ["posts.agency_id", "posts.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["agency_id", "revision_id"], ["revisions.agency_id", "revisions.id"],
            ondelete="RESTRICT",
        ),
        ForeignKeyConstraint(
            ["agency_id", "social_account_id"],
            ["social_accounts.agency_id", "social_accounts.id"], ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["agency_id", "client_id"], ["clients.agency_id", "clients.id"], ondelete="CASCADE"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    client_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    post_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    social_account_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    revision_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    content_hash: Mapped[str] = mapped_column(String(64))
    network: Mapped[str] = mapped_column(String(32))
    state: Mapped[PublicationState] = mapped_column(
        string_enum(PublicationState, "publication_state", length=16),
        default=PublicationState.SCHEDULED,
    )
    scheduled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # When the dispatcher should next look at it (the schedule, then each retry's time).
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Sent with every attempt, so a network that honours it never makes a second post.
    idempotency_key: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    dispatches: Mapped[int] = mapped_column(Integer, default=0)
    queued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When the first attempt went out: a network's idempotency window counts from it.
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    held_reason: Mapped[str] = mapped_column(String(16), default="")
    external_id: Mapped[str] = mapped_column(String(255), default="")
    external_url: Mapped[str] = mapped_column(String(1000), default="")
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The last problem, in words for a person (and a short code for filters).
    last_error: Mapped[str] = mapped_column(String(1000), default="")
    error_code: Mapped[str] = mapped_column(String(32), default="")
    # What a multi-step publish has done so far (an Instagram container's id, the posts
    # of an X thread already out), saved by the adapter's checkpoint before each step
    # that could make something visible, so a retry or a reconciliation continues from
    # there instead of starting over. Never secret; cleared by nothing (it is history).
    progress: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    account = relationship("SocialAccount", viewonly=True, lazy="joined")

"""The sandbox network's own storage: what it "published", shown on its feed page."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from agency.extensions import db
from tenants.ids import new_id
from tenants.scoping import TenantMixin


class SandboxPost(TenantMixin, db.Model):
    __tablename__ = "sandbox_posts"
    __table_args__ = (
        UniqueConstraint("agency_id", "id"),
        # Like a real network's idempotency: the same key never makes a second post.
        UniqueConstraint("agency_id", "social_account_id", "idempotency_key"),
        Index("ix_sandbox_posts_agency_id_social_account_id_created_at", "agency_id",
              "social_account_id", "created_at"),
        ForeignKeyConstraint(
            ["agency_id", "social_account_id"],
            ["social_accounts.agency_id", "social_accounts.id"], ondelete="CASCADE",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    social_account_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    idempotency_key: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    first_comment: Mapped[str] = mapped_column(Text, default="")
    # sha256 of each attached library file, in order (the files stay in the library).
    media: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

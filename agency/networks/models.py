"""A client workspace's accounts on the social networks."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

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
from agency.sqltypes import string_enum
from tenants.ids import new_id
from tenants.scoping import TenantMixin


class AccountStatus(StrEnum):
    CONNECTED = "connected"
    EXPIRED = "expired"
    REVOKED = "revoked"


class SocialAccount(TenantMixin, db.Model):
    __tablename__ = "social_accounts"
    __table_args__ = (
        UniqueConstraint("agency_id", "id"),
        Index("ix_social_accounts_agency_id_client_id", "agency_id", "client_id"),
        ForeignKeyConstraint(
            ["agency_id", "client_id"], ["clients.agency_id", "clients.id"], ondelete="CASCADE"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    client_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    network: Mapped[str] = mapped_column(String(32))
    display_name: Mapped[str] = mapped_column(String(120))
    handle: Mapped[str] = mapped_column(String(120), default="")
    status: Mapped[AccountStatus] = mapped_column(
        string_enum(AccountStatus, "account_status", length=16),
        default=AccountStatus.CONNECTED,
    )
    # Per-network settings that are not secrets (the sandbox's injected latency, a
    # Mastodon instance's URL and character limit).
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    # Tokens and sessions, encrypted (agency/networks/credentials.py); never shown.
    credentials: Mapped[str] = mapped_column(Text, default="")
    # Why the account stopped working, in words fit to show (set when it expires).
    status_reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

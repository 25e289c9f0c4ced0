"""The append-only audit log: who did what, when, from where."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, DateTime, Index, String, Uuid, func
from sqlalchemy.orm import Mapped, mapped_column

from agency.extensions import db
from tenants.ids import new_id
from tenants.scoping import TenantMixin


class AuditEvent(TenantMixin, db.Model):
    """Never updated or deleted: the app's database role may only insert and read."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_agency_id_at", "agency_id", "at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    actor_label: Mapped[str] = mapped_column(String(254), default="")
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32), default="")
    target_id: Mapped[str] = mapped_column(String(64), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    details: Mapped[dict] = mapped_column(JSON, default=dict)

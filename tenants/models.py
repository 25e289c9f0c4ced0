"""The tenant and who belongs to it."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from agency.extensions import db
from agency.sqltypes import string_enum

from .ids import new_id
from .roles import Role
from .scoping import TenantMixin

ROLE_ENUM = string_enum(Role, "role", length=16)


class Agency(db.Model):
    __tablename__ = "agencies"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # White label: the monthly reports' colour and logo (migration 0014). The logo is
    # deferred: the agency is loaded on every request, its logo only for a report.
    brand_color: Mapped[str] = mapped_column(String(7), default="#1f4e79",
                                             server_default="#1f4e79")
    logo: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    logo_type: Mapped[str] = mapped_column(String(32), default="", server_default="")


class Membership(TenantMixin, db.Model):
    """A user's place in an agency. A user may belong to several agencies."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("agency_id", "id"),
        UniqueConstraint("agency_id", "user_id"),
        Index("ix_memberships_user_id", "user_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[Role] = mapped_column(ROLE_ENUM)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    user = relationship("User", lazy="joined")


class Invitation(TenantMixin, db.Model):
    """An e-mailed, expiring invitation to join an agency with a role."""

    __tablename__ = "invitations"
    __table_args__ = (
        UniqueConstraint("agency_id", "id"),
        Index("ix_invitations_agency_id_email", "agency_id", "email"),
        ForeignKeyConstraint(
            ["agency_id", "invited_by_id"], ["memberships.agency_id", "memberships.id"],
            ondelete="CASCADE",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[Role] = mapped_column(ROLE_ENUM)
    invited_by_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

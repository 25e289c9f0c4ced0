"""Reads for the team page."""

from __future__ import annotations

from sqlalchemy import select

from agency.auth.models import User
from agency.extensions import db
from tenants.models import Invitation, Membership

from .forms import ROLE_ORDER


def team_members() -> list[Membership]:
    """The current agency's members, owners first, then by name."""
    members = db.session.scalars(
        select(Membership).join(User, User.id == Membership.user_id)
        .order_by(User.name, User.email)
    ).all()
    return sorted(members, key=lambda m: ROLE_ORDER.index(m.role))


def pending_invitations() -> list[Invitation]:
    """Invitations neither accepted nor revoked (expired ones included, marked by the page)."""
    return list(db.session.scalars(
        select(Invitation)
        .where(Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None))
        .order_by(Invitation.created_at.desc(), Invitation.id.desc())
    ))

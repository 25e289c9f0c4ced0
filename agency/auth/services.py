"""Account writes: agencies and their owners, sign-in, passwords, invitations, API tokens.

Services add to the session and flush; the caller (a view, a command) commits once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from agency.audit.services import Action, record
from agency.extensions import db
from tenants.context import set_tenant
from tenants.ids import new_id
from tenants.models import Agency, Invitation, Membership
from tenants.roles import GRANTABLE, Role
from tenants.scoping import system_scope

from . import links
from .models import ApiToken, User, UserSession
from .passwords import burn_time, hash_password, needs_rehash, password_problem, verify_password
from .sessions import contacts_of, end_all_sessions, memberships_of, new_api_token

INVITATION_SALT = "relais.invitation"
PASSWORD_RESET_SALT = "relais.password-reset"


class ServiceError(ValueError):
    """A refused write, with a message fit to show the person (and the field it is about)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.scalars(
        select(User).where(User.email == normalise_email(email))
    ).one_or_none()


def _check_password(password: str) -> None:
    problem = password_problem(password)
    if problem:
        raise ServiceError(problem, field="password")


@dataclass
class NewAgency:
    agency: Agency
    user: User
    membership: Membership


def create_agency(name: str, owner_email: str, owner_name: str, password: str) -> NewAgency:
    """Create an agency and its owner; the new agency becomes the current tenant.

    Refuses an e-mail that already has an account (that person signs in and is invited).
    """
    email = normalise_email(owner_email)
    if find_user_by_email(email) is not None:
        raise ServiceError(_("An account already exists for this e-mail. Sign in instead."),
                           field="email")
    _check_password(password)
    agency = Agency(id=new_id(), name=name.strip())
    user = User(email=email, name=owner_name.strip() or email.split("@")[0],
                password_hash=hash_password(password))
    db.session.add(user)
    db.session.flush()
    set_tenant(agency.id, user.id)
    db.session.add(agency)
    membership = Membership(agency_id=agency.id, user_id=user.id, role=Role.OWNER)
    db.session.add(membership)
    db.session.flush()
    record(Action.SIGNUP, agency, actor_user_id=user.id, actor_label=email,
           details={"name": agency.name})
    return NewAgency(agency, user, membership)


@dataclass
class LoginResult:
    user: User | None
    memberships: list[Membership]


def authenticate(email: str, password: str) -> LoginResult:
    """Check credentials. Failed attempts on a known account are audited in its agencies.

    Takes the same time whether or not the e-mail exists.
    """
    user = find_user_by_email(email)
    if user is None:
        burn_time(password)
        return LoginResult(None, [])
    if not verify_password(user.password_hash, password) or not user.is_active:
        agency_ids = [m.agency_id for m in memberships_of(user)]
        # A client contact's agencies hear of it too: the account opens their client area.
        agency_ids += [c.agency_id for c in contacts_of(user) if c.agency_id not in agency_ids]
        for agency_id in dict.fromkeys(agency_ids):
            set_tenant(agency_id, user.id)
            record(Action.LOGIN_FAILED, user, actor_user_id=user.id, actor_label=user.email)
            db.session.flush()  # written while its agency is the tenant (RLS checks)
        set_tenant(None)
        return LoginResult(None, [])
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return LoginResult(user, memberships_of(user))


def agencies_of(user: User) -> list[Agency]:
    """The agencies a user belongs to (RLS admits them through the user's memberships)."""
    ids = [m.agency_id for m in memberships_of(user)]
    if not ids:
        return []
    return list(db.session.scalars(
        select(Agency).where(Agency.id.in_(ids)).order_by(Agency.name)
        .execution_options(**system_scope("a user lists the agencies they belong to"))
    ))


def change_password(user: User, current: str, new: str) -> None:
    """Change a password after re-checking the current one; every other session ends."""
    if not verify_password(user.password_hash, current):
        raise ServiceError(_("The current password is not correct."), field="current_password")
    _check_password(new)
    user.password_hash = hash_password(new)
    end_all_sessions(user.id)
    record(Action.PASSWORD_CHANGED, user)


# --- password reset ---------------------------------------------------------------------

def password_reset_token(user: User) -> str:
    # Bound to the current hash: the link stops working once it has been used.
    return links.make_link_token(PASSWORD_RESET_SALT,
                                 {"u": str(user.id), "h": user.password_hash[-16:]})


def user_for_reset_token(token: str) -> User | links.LinkError:
    data = links.read_link_token(PASSWORD_RESET_SALT, token,
                                 current_app.config["PASSWORD_RESET_MAX_AGE"])
    if isinstance(data, links.LinkError):
        return data
    try:
        user = db.session.get(User, uuid.UUID(data["u"]))  # users are global, not tenant rows
    except (KeyError, ValueError):
        return links.LinkError.INVALID
    if user is None or user.password_hash[-16:] != data.get("h"):
        return links.LinkError.INVALID
    return user


def reset_password(user: User, new: str) -> None:
    """Set a new password from a reset link; signs the user out everywhere."""
    _check_password(new)
    user.password_hash = hash_password(new)
    end_all_sessions(user.id)
    for m in memberships_of(user):
        set_tenant(m.agency_id, user.id)
        record(Action.PASSWORD_RESET, user, actor_user_id=user.id, actor_label=user.email)
        db.session.flush()  # written while its agency is the tenant (RLS checks)
    set_tenant(None)


# --- invitations ------------------------------------------------------------------------

def invite(inviter: Membership, email: str, role: Role) -> tuple[Invitation, str]:
    """Invite ``email`` with ``role``; returns the invitation and its signed token."""
    if role not in GRANTABLE[inviter.role]:
        raise ServiceError(_("You cannot invite someone with this role."), field="role")
    email = normalise_email(email)
    existing = find_user_by_email(email)
    if existing is not None and db.session.scalars(
        select(Membership).where(Membership.user_id == existing.id)
    ).first():
        raise ServiceError(_("This person is already in your team."), field="email")
    now = datetime.now(UTC)
    max_age = current_app.config["INVITATION_MAX_AGE"]
    invitation = Invitation(email=email, role=role, invited_by_id=inviter.id,
                            expires_at=now + timedelta(seconds=max_age))
    db.session.add(invitation)
    db.session.flush()
    record(Action.INVITATION_SENT, invitation, details={"email": email, "role": role.value})
    token = links.make_link_token(
        INVITATION_SALT, {"a": str(invitation.agency_id), "i": str(invitation.id)}
    )
    return invitation, token


def invitation_for_token(token: str) -> Invitation | links.LinkError:
    """The pending invitation a link points to; its agency becomes the current tenant."""
    data = links.read_link_token(INVITATION_SALT, token,
                                 current_app.config["INVITATION_MAX_AGE"])
    if isinstance(data, links.LinkError):
        return data
    try:
        agency_id, invitation_id = uuid.UUID(data["a"]), uuid.UUID(data["i"])
    except (KeyError, ValueError):
        return links.LinkError.INVALID
    set_tenant(agency_id)
    invitation = db.session.scalars(
        select(Invitation).where(Invitation.id == invitation_id)
    ).one_or_none()
    if invitation is None or invitation.revoked_at or invitation.accepted_at:
        return links.LinkError.INVALID
    expires = invitation.expires_at
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    if expires < datetime.now(UTC):
        return links.LinkError.EXPIRED
    return invitation


def accept_invitation(invitation: Invitation, name: str, password: str) -> tuple[User, Membership]:
    """Join the agency: creates the account (or uses the existing one for this e-mail)."""
    user = find_user_by_email(invitation.email)
    if user is None:
        _check_password(password)
        user = User(email=invitation.email, name=name.strip() or invitation.email.split("@")[0],
                    password_hash=hash_password(password))
        db.session.add(user)
        db.session.flush()
    elif not verify_password(user.password_hash, password):
        raise ServiceError(_("This e-mail already has an account: enter its password."),
                           field="password")
    set_tenant(invitation.agency_id, user.id)
    if db.session.scalars(select(Membership).where(Membership.user_id == user.id)).first():
        raise ServiceError(_("You are already a member of this agency."))
    membership = Membership(agency_id=invitation.agency_id, user_id=user.id, role=invitation.role)
    db.session.add(membership)
    invitation.accepted_at = datetime.now(UTC)
    db.session.flush()
    record(Action.INVITATION_ACCEPTED, invitation, actor_user_id=user.id, actor_label=user.email,
           details={"role": invitation.role.value})
    return user, membership


def revoke_invitation(invitation: Invitation) -> None:
    """Idempotent: revoking twice changes nothing more."""
    if invitation.revoked_at is None and invitation.accepted_at is None:
        invitation.revoked_at = datetime.now(UTC)
        record(Action.INVITATION_REVOKED, invitation, details={"email": invitation.email})


# --- roles ------------------------------------------------------------------------------

def change_role(actor: Membership, target: Membership, role: Role) -> None:
    """Change a member's role. Nobody grants more than they may, and an agency always
    keeps at least one owner."""
    if role not in GRANTABLE[actor.role] or target.role not in GRANTABLE[actor.role]:
        raise ServiceError(_("You cannot give or take away this role."), field="role")
    if target.role == Role.OWNER and role != Role.OWNER and _owner_count() <= 1:
        raise ServiceError(_("An agency needs at least one owner."), field="role")
    if target.role != role:
        previous = target.role
        target.role = role
        record(Action.ROLE_CHANGED, target,
               details={"user": target.user.email, "from": previous.value, "to": role.value})


def remove_member(actor: Membership, target: Membership) -> None:
    if target.role not in GRANTABLE[actor.role]:
        raise ServiceError(_("You cannot remove this person."))
    if target.role == Role.OWNER and _owner_count() <= 1:
        raise ServiceError(_("An agency needs at least one owner."))
    record(Action.MEMBER_REMOVED, target, details={"user": target.user.email})
    db.session.delete(target)


def _owner_count() -> int:
    return len(db.session.scalars(select(Membership.id).where(Membership.role == Role.OWNER)).all())


# --- API tokens -------------------------------------------------------------------------

def create_api_token(membership: Membership, name: str) -> tuple[ApiToken, str]:
    """Create a token for ``membership``; the raw value is returned once and never stored."""
    raw, digest = new_api_token()
    token = ApiToken(membership_id=membership.id, name=name.strip()[:80] or "API",
                     token_hash=digest, prefix=raw[:12])
    db.session.add(token)
    db.session.flush()
    record(Action.TOKEN_CREATED, token, details={"name": token.name})
    return token, raw


def revoke_api_token(token: ApiToken) -> None:
    """Idempotent."""
    if token.revoked_at is None:
        token.revoked_at = datetime.now(UTC)
        record(Action.TOKEN_REVOKED, token, details={"name": token.name})


def touch_api_token(token: ApiToken) -> None:
    token.last_used_at = datetime.now(UTC)


# --- profile and sessions ---------------------------------------------------------------

def update_profile(user: User, name: str, locale: str) -> None:
    """Set a person's display name and language (one of the app's ``LANGUAGES``)."""
    name = name.strip()
    if not name:
        raise ServiceError(_("Enter your name."), field="name")
    if locale not in current_app.config["LANGUAGES"]:
        raise ServiceError(_("Choose French or English."), field="locale")
    user.name = name[:120]
    user.locale = locale


def end_user_session(user_session: UserSession) -> None:
    """End one signed-in session (a browser the person no longer uses); its cookie dies."""
    db.session.delete(user_session)

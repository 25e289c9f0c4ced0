"""Writing to the audit log. Entries are added to the caller's transaction, so an action
and its record commit together or not at all."""

from __future__ import annotations

import uuid

from flask import has_request_context, request
from flask_login import current_user

from agency.extensions import db
from tenants.context import current_agency_id

from .models import AuditEvent


class Action:
    LOGIN = "login"
    LOGIN_FAILED = "login.failed"
    LOGOUT = "logout"
    PASSWORD_RESET = "password.reset"
    PASSWORD_CHANGED = "password.changed"
    SIGNUP = "agency.created"
    INVITATION_SENT = "invitation.sent"
    INVITATION_REVOKED = "invitation.revoked"
    INVITATION_ACCEPTED = "invitation.accepted"
    ROLE_CHANGED = "membership.role_changed"
    MEMBER_REMOVED = "membership.removed"
    CLIENT_CREATED = "client.created"
    CLIENT_UPDATED = "client.updated"
    CLIENT_ARCHIVED = "client.archived"
    CLIENT_RESTORED = "client.restored"
    CLIENT_STAFF_CHANGED = "client.staff_changed"
    CONTACT_CREATED = "contact.created"
    CONTACT_UPDATED = "contact.updated"
    CONTACT_DELETED = "contact.deleted"
    TOKEN_CREATED = "api_token.created"
    TOKEN_REVOKED = "api_token.revoked"


def record(
    action: str,
    target=None,
    *,
    details: dict | None = None,
    actor_user_id: uuid.UUID | None = None,
    actor_label: str | None = None,
    agency_id: uuid.UUID | None = None,
) -> AuditEvent:
    """Add an audit entry for the current agency (or ``agency_id``) and flush it."""
    if actor_user_id is None and current_user and current_user.is_authenticated:
        actor_user_id = current_user.id
        actor_label = actor_label or current_user.email
    event = AuditEvent(
        agency_id=agency_id or current_agency_id(),
        actor_user_id=actor_user_id,
        actor_label=(actor_label or "")[:254],
        action=action,
        target_type=type(target).__tablename__ if target is not None else "",
        target_id=str(target.id) if target is not None else "",
        ip=(request.remote_addr or "") if has_request_context() else "",
        details=details or {},
    )
    db.session.add(event)
    # Written now, while its agency is the current one: a caller that switches agency
    # next (login audits every agency of a user) must not leave it pending.
    db.session.flush()
    return event

"""The audit log page: who did what, when and from where (owners only)."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l

from agency.access import require
from agency.auth.forms import ROLE_LABELS
from tenants.roles import Permission, Role

from .queries import event_page
from .services import Action

bp = Blueprint("audit", __name__)

ACTION_LABELS = {
    Action.LOGIN: _l("Signed in"),
    Action.LOGIN_FAILED: _l("Failed sign-in"),
    Action.LOGOUT: _l("Signed out"),
    Action.PASSWORD_RESET: _l("Password reset by e-mail"),
    Action.PASSWORD_CHANGED: _l("Password changed"),
    Action.SIGNUP: _l("Agency created"),
    Action.INVITATION_SENT: _l("Invitation sent"),
    Action.INVITATION_REVOKED: _l("Invitation withdrawn"),
    Action.INVITATION_ACCEPTED: _l("Invitation accepted"),
    Action.ROLE_CHANGED: _l("Role changed"),
    Action.MEMBER_REMOVED: _l("Member removed"),
    Action.CLIENT_CREATED: _l("Client created"),
    Action.CLIENT_UPDATED: _l("Client updated"),
    Action.CLIENT_ARCHIVED: _l("Client archived"),
    Action.CLIENT_RESTORED: _l("Client restored"),
    Action.CLIENT_STAFF_CHANGED: _l("Client staff changed"),
    Action.CONTACT_CREATED: _l("Contact added"),
    Action.CONTACT_UPDATED: _l("Contact updated"),
    Action.CONTACT_DELETED: _l("Contact deleted"),
    Action.TOKEN_CREATED: _l("API token created"),
    Action.TOKEN_REVOKED: _l("API token revoked"),
    # Named by their string: the actions of the feature modules, which import this one's
    # services and must not be imported back here.
    "post.created": _l("Post created"),
    "post.edited": _l("Post edited"),
    "post.submitted": _l("Post submitted"),
    "post.deleted": _l("Post deleted"),
    "media.uploaded": _l("File uploaded"),
    "media.deleted": _l("File deleted"),
    "slot.added": _l("Publishing slot added"),
    "slot.removed": _l("Publishing slot removed"),
    "approval.sent": _l("Sent for approval"),
    "approval.decided": _l("Client decision"),
    "approval.internal": _l("Internal review"),
    "approval.reminded": _l("Approval reminder sent"),
    "approval.escalated": _l("Approval escalated to the agency"),
    "approval.expired": _l("Approval link expired"),
    "approval.auto_approved": _l("Approved automatically at the deadline"),
    "publication.scheduled": _l("Publication scheduled"),
    "publication.retried": _l("Publication retried"),
    "publication.marked_published": _l("Marked as published by hand"),
    "contact.sign_in_invited": _l("Contact invited to sign in"),
    "contact.sign_in_linked": _l("Contact sign-in created"),
    "contact.sign_in_revoked": _l("Contact sign-in revoked"),
    "account.added": _l("Account added"),
    "account.connected": _l("Account connected"),
    "account.reconnected": _l("Account reconnected"),
    "account.sandbox_settings_changed": _l("Sandbox settings changed"),
}

TARGET_LABELS = {
    "agencies": _l("Agency"),
    "users": _l("Person"),
    "memberships": _l("Team member"),
    "invitations": _l("Invitation"),
    "clients": _l("Client"),
    "contacts": _l("Contact"),
    "client_assignments": _l("Assignment"),
    "api_tokens": _l("API token"),
    "posts": _l("Post"),
    "media": _l("File"),
    "time_slots": _l("Publishing slot"),
    "approval_requests": _l("Approval request"),
    "publications": _l("Publication"),
    "social_accounts": _l("Account"),
}

# Details worth showing in the list; the rest stays in the database.
DETAIL_KEYS = ("name", "email", "user", "role", "fields")
ROLE_KEYS = {"role", "from", "to"}


def _detail_value(key: str, value) -> str:
    if key in ROLE_KEYS and value in {r.value for r in Role}:
        return str(ROLE_LABELS[Role(value)])
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def _detail_text(details: dict | None) -> str:
    details = details or {}
    parts = [_detail_value(k, details[k]) for k in DETAIL_KEYS if details.get(k)]
    if details.get("from") and details.get("to"):
        parts.append(f"{_detail_value('from', details['from'])} → "
                     f"{_detail_value('to', details['to'])}")
    return " · ".join(parts)


@bp.get("/audit")
@require(Permission.AUDIT_VIEW)
def index():
    action = request.args.get("action") or None
    if action not in ACTION_LABELS:
        action = None
    page = request.args.get("page", 1, type=int) or 1
    result = event_page(page=page, action=action)
    return render_template(
        "audit/index.html", result=result, action=action, action_labels=ACTION_LABELS,
        target_labels=TARGET_LABELS, detail_text=_detail_text,
    )

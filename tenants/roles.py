"""Roles and the permissions they carry, in one table.

Views ask for a ``Permission``; nothing else in the code compares role names.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MANAGER = "manager"
    MEMBER = "member"


class Permission(StrEnum):
    CLIENT_VIEW_ALL = "client.view_all"  # else: only the clients one is assigned to
    CLIENT_CREATE = "client.create"
    CLIENT_EDIT = "client.edit"
    CLIENT_ARCHIVE = "client.archive"
    CLIENT_ASSIGN_STAFF = "client.assign_staff"
    CONTACT_MANAGE = "contact.manage"
    STAFF_VIEW = "staff.view"
    STAFF_INVITE = "staff.invite"
    STAFF_MANAGE_ROLES = "staff.manage_roles"
    AUDIT_VIEW = "audit.view"
    BILLING_MANAGE = "billing.manage"
    # The agency's colour and logo on its clients' reports (white label).
    BRANDING_MANAGE = "branding.manage"
    POST_REVIEW_INTERNAL = "post.review_internal"
    # Who decides how a client's posts get approved: "none" lets posts out unreviewed.
    APPROVAL_POLICY_MANAGE = "approval.policy_manage"


_MEMBER = {Permission.CLIENT_EDIT, Permission.CONTACT_MANAGE, Permission.STAFF_VIEW}
_MANAGER = _MEMBER | {
    Permission.CLIENT_VIEW_ALL,
    Permission.CLIENT_CREATE,
    Permission.CLIENT_ARCHIVE,
    Permission.CLIENT_ASSIGN_STAFF,
    Permission.POST_REVIEW_INTERNAL,
    Permission.APPROVAL_POLICY_MANAGE,
}
_ADMIN = _MANAGER | {
    Permission.STAFF_INVITE,
    Permission.STAFF_MANAGE_ROLES,
    Permission.BILLING_MANAGE,
    Permission.BRANDING_MANAGE,
}
_OWNER = _ADMIN | {Permission.AUDIT_VIEW}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.MEMBER: frozenset(_MEMBER),
    Role.MANAGER: frozenset(_MANAGER),
    Role.ADMIN: frozenset(_ADMIN),
    Role.OWNER: frozenset(_OWNER),
}

# Who may grant which role: nobody hands out more than they hold, and only owners make owners.
GRANTABLE: dict[Role, frozenset[Role]] = {
    Role.OWNER: frozenset(Role),
    Role.ADMIN: frozenset({Role.ADMIN, Role.MANAGER, Role.MEMBER}),
    Role.MANAGER: frozenset(),
    Role.MEMBER: frozenset(),
}


def has_permission(role: Role | str, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[Role(role)]

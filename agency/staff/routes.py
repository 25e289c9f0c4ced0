"""The team page: who is in the agency with which role, invitations, role changes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import logout_user

from agency.access import can, current_membership, require
from agency.auth import services
from agency.auth.forms import ROLE_LABELS, apply_service_error
from agency.auth.services import ServiceError
from agency.auth.sessions import end_session
from agency.extensions import db
from agency.notifications.mail import send_mail
from tenants.models import Agency, Invitation, Membership
from tenants.roles import GRANTABLE, Permission, Role
from tenants.scoping import tenant_get

from . import queries
from .forms import InviteForm, RoleForm, grantable_choices

bp = Blueprint("staff", __name__)

FALLBACK_LOCALE = "fr"


def _expired(invitation: Invitation) -> bool:
    expires = invitation.expires_at
    if expires.tzinfo is None:  # SQLite returns naive UTC datetimes
        expires = expires.replace(tzinfo=UTC)
    return expires < datetime.now(UTC)


def _team_page(status: int = 200, *, invite_form: InviteForm | None = None,
               error: str | None = None):
    actor = current_membership()
    invitations = queries.pending_invitations() if can(Permission.STAFF_INVITE) else []
    if invite_form is None and can(Permission.STAFF_INVITE):
        invite_form = InviteForm(actor.role, formdata=None)
    return render_template(
        "staff/index.html",
        members=queries.team_members(),
        invitations=invitations,
        expired={i.id for i in invitations if _expired(i)},
        invite_form=invite_form,
        role_choices=grantable_choices(actor.role),
        manageable=GRANTABLE[actor.role],
        role_labels=ROLE_LABELS,
        me=actor,
        error=error,
    ), status


@bp.get("/team")
@require(Permission.STAFF_VIEW)
def index():
    return _team_page()


def _send_invitation_mail(invitation: Invitation, token: str, inviter: Membership) -> None:
    agency = tenant_get(Agency, invitation.agency_id)
    recipient = services.find_user_by_email(invitation.email)
    link = url_for("auth.accept_invitation", token=token, _external=True)
    with force_locale((recipient.locale if recipient else None) or FALLBACK_LOCALE):
        subject = _("%(name)s invites you to join %(agency)s on Relais",
                    name=inviter.user.name, agency=agency.name)
        text = render_template(
            "mail/invitation.txt", inviter_name=inviter.user.name, agency_name=agency.name,
            role_label=ROLE_LABELS[invitation.role], link=link,
            expires_at=invitation.expires_at,
        )
    send_mail(invitation.email, subject, text)


@bp.post("/team/invitations")
@require(Permission.STAFF_INVITE)
def invite():
    actor = current_membership()
    form = InviteForm(actor.role)
    if form.validate():
        try:
            invitation, token = services.invite(actor, form.email.data, Role(form.role.data))
        except ServiceError as error:
            db.session.rollback()
            apply_service_error(form, error)
        else:
            _send_invitation_mail(invitation, token, actor)
            email = invitation.email
            db.session.commit()
            flash(_("Invitation sent to %(email)s.", email=email), "success")
            return redirect(url_for("staff.index"))
    return _team_page(422, invite_form=form)


@bp.post("/team/invitations/<uuid:invitation_id>/revoke")
@require(Permission.STAFF_INVITE)
def revoke_invitation(invitation_id: uuid.UUID):
    invitation = tenant_get(Invitation, invitation_id)
    services.revoke_invitation(invitation)
    db.session.commit()
    flash(_("The invitation is withdrawn: its link no longer works."), "success")
    return redirect(url_for("staff.index"))


@bp.post("/team/members/<uuid:membership_id>/role")
@require(Permission.STAFF_MANAGE_ROLES)
def change_role(membership_id: uuid.UUID):
    target = tenant_get(Membership, membership_id)
    actor = current_membership()
    form = RoleForm(actor.role)
    if not form.validate():
        return _team_page(422, error=_("You cannot give this role."))
    try:
        services.change_role(actor, target, Role(form.role.data))
    except ServiceError as error:
        db.session.rollback()
        return _team_page(422, error=error.message)
    db.session.commit()
    flash(_("The role has been changed."), "success")
    return redirect(url_for("staff.index"))


@bp.post("/team/members/<uuid:membership_id>/remove")
@require(Permission.STAFF_MANAGE_ROLES)
def remove(membership_id: uuid.UUID):
    target = tenant_get(Membership, membership_id)
    actor = current_membership()
    leaving = target.id == actor.id
    try:
        services.remove_member(actor, target)
    except ServiceError as error:
        db.session.rollback()
        return _team_page(422, error=error.message)
    if leaving:  # nothing left to be signed in to
        db.session.flush()  # while the agency is still the tenant
        end_session()
        logout_user()
    db.session.commit()
    if leaving:
        flash(_("You have left the agency."), "info")
        return redirect(url_for("auth.login"))
    flash(_("The person is removed from the team."), "success")
    return redirect(url_for("staff.index"))

"""Telling the agency about its billing: publishing held, publishing resumed, a payment
that failed (with the day publishing would stop). The people who manage billing (owners
and admins) get them, each in their own language, after the commit that recorded the
change (agency/notifications/mail.py)."""

from __future__ import annotations

from datetime import datetime

from flask import current_app, render_template, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from agency.auth.models import User
from agency.extensions import db
from agency.i18n import supported
from agency.notifications.mail import send_mail
from tenants.models import Membership
from tenants.roles import ROLE_PERMISSIONS, Permission

from .holds import Transition


def recipients() -> list[User]:
    """The agency's active people who manage billing."""
    roles = [role for role, granted in ROLE_PERMISSIONS.items()
             if Permission.BILLING_MANAGE in granted]
    return list(db.session.scalars(
        select(User).join(Membership, Membership.user_id == User.id)
        .where(Membership.role.in_(roles), User.is_active_flag.is_(True))
        .order_by(User.email)))


def _locale(user: User) -> str:
    return supported(user.locale) or current_app.config["BABEL_DEFAULT_LOCALE"]


def transitions(changes: list[Transition]) -> int:
    """One message per change and person. Returns how many were queued."""
    people = recipients() if changes else []
    link = url_for("billing.index", _external=True) if changes else ""
    sent = 0
    for change in changes:
        name = change.client.name if change.client is not None else None
        for user in people:
            with force_locale(_locale(user)):
                if change.held:
                    subject = (_("Publishing for %(client)s is on hold: its payment is "
                                 "overdue", client=name) if name else
                               _("Publishing is on hold: your Relais payment is overdue"))
                else:
                    subject = (_("Publishing for %(client)s has resumed", client=name)
                               if name else _("Publishing has resumed"))
                send_mail(user.email, subject, render_template(
                    "billing/mail/held.txt" if change.held else "billing/mail/resumed.txt",
                    user=user, client=change.client, reason=change.reason, link=link))
                sent += 1
    return sent


def payment_failed(amount: str, grace_end: datetime | None, client=None) -> int:
    """A payment failed and the invoice is still unpaid: publishing goes on until
    ``grace_end``. Returns how many messages were queued."""
    link = url_for("billing.index", _external=True)
    sent = 0
    for user in recipients():
        with force_locale(_locale(user)):
            subject = (_("A payment for %(client)s failed", client=client.name) if client
                       else _("Your Relais payment failed"))
            send_mail(user.email, subject, render_template(
                "billing/mail/payment_failed.txt", user=user, client=client, amount=amount,
                grace_end=grace_end, link=link))
            sent += 1
    return sent

"""A client contact's own sign-in: the invitation, its acceptance, and its revocation.

The invitation is a signed link (its own salt) naming the agency, the contact, the
e-mail it was sent to and the contact's sign-in *generation*: how many times a sign-in
has been linked to or revoked from this contact, counted in the append-only audit log.
Accepting links the contact and moves the generation on, so a link works once; revoking
moves it on too, so a link sent before a revocation never works again. Changing the
contact's e-mail also voids the links sent to the old one.

Services add and flush; the view commits once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from flask import current_app, render_template, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select

from agency.audit.models import AuditEvent
from agency.audit.services import record
from agency.auth.links import LinkError, make_link_token, read_link_token
from agency.auth.models import User
from agency.auth.passwords import hash_password, password_problem, verify_password
from agency.auth.services import ServiceError, find_user_by_email, normalise_email
from agency.clients.models import Client, Contact
from agency.extensions import db
from agency.i18n import supported
from agency.notifications.mail import send_mail
from tenants.context import set_tenant
from tenants.models import Agency

SIGN_IN_SALT = "relais.contact-sign-in"


class SignInAction:
    INVITED = "contact.sign_in_invited"
    LINKED = "contact.sign_in_linked"
    REVOKED = "contact.sign_in_revoked"


def _language(client: Client) -> str:
    return supported(client.language) or current_app.config["BABEL_DEFAULT_LOCALE"]


def _generation(contact: Contact) -> int:
    """How many times a sign-in was linked to or revoked from this contact (append-only,
    so it only ever grows)."""
    return db.session.scalar(
        select(func.count()).select_from(AuditEvent).where(
            AuditEvent.target_type == Contact.__tablename__,
            AuditEvent.target_id == str(contact.id),
            AuditEvent.action.in_((SignInAction.LINKED, SignInAction.REVOKED)),
        )
    ) or 0


def invite_to_sign_in(contact: Contact, client: Client, *, inviter_name: str = "") -> str:
    """E-mail ``contact`` (after the commit, in the client's language) a single-use link
    to set up their own sign-in; returns the link's token. Refuses an archived client,
    a contact without an e-mail, and a contact who can already sign in."""
    if client.archived_at is not None:
        raise ServiceError(_("This client is archived: restore it first."))
    if contact.client_id != client.id:
        raise ServiceError(_("This contact belongs to another client."))
    email = normalise_email(contact.email or "")
    if not email:
        raise ServiceError(_("Add the contact's e-mail address first."), field="email")
    if contact.user_id is not None:
        raise ServiceError(_("%(name)s can already sign in.", name=contact.name))
    token = make_link_token(SIGN_IN_SALT, {"a": str(contact.agency_id), "c": str(contact.id),
                                           "e": email, "g": _generation(contact)})
    link = url_for("clientarea.accept", token=token, _external=True)
    agency = db.session.scalars(select(Agency).where(Agency.id == contact.agency_id)).one()
    days = current_app.config["INVITATION_MAX_AGE"] // (24 * 3600)
    with force_locale(_language(client)):
        subject = _("Your client area for %(client)s on Relais", client=client.name)
        text = render_template("mail/contact_sign_in.txt", contact=contact, client=client,
                               agency_name=agency.name, inviter_name=inviter_name,
                               link=link, days=days)
    send_mail(email, subject, text)
    record(SignInAction.INVITED, contact, details={"email": email,
                                                   "client": str(client.id)})
    return token


@dataclass
class SignInInvitation:
    contact: Contact
    client: Client
    agency_name: str
    email: str

    @property
    def existing_user(self) -> User | None:
        return find_user_by_email(self.email)


def invitation_for_token(token: str) -> SignInInvitation | LinkError:
    """The invitation a link stands for; its agency becomes the current tenant.
    Expired → EXPIRED; tampered, already used, revoked since, sent to an e-mail the
    contact no longer has, or for a removed contact or archived client → INVALID."""
    data = read_link_token(SIGN_IN_SALT, token, current_app.config["INVITATION_MAX_AGE"])
    if isinstance(data, LinkError):
        return data
    try:
        agency_id, contact_id = uuid.UUID(data["a"]), uuid.UUID(data["c"])
        email, generation = str(data["e"]), int(data["g"])
    except (KeyError, ValueError, TypeError):
        return LinkError.INVALID
    set_tenant(agency_id)
    contact = db.session.scalars(select(Contact).where(Contact.id == contact_id)).one_or_none()
    if (contact is None or contact.user_id is not None
            or normalise_email(contact.email or "") != email
            or _generation(contact) != generation):
        return LinkError.INVALID
    client = db.session.scalars(select(Client).where(Client.id == contact.client_id)).one()
    agency = db.session.scalars(select(Agency).where(Agency.id == agency_id)).one_or_none()
    if client.archived_at is not None or agency is None:
        return LinkError.INVALID
    return SignInInvitation(contact, client, agency.name, email)


def link_owner(token: str) -> Client | None:
    """The client of a genuine link even once expired (to explain it in the client's
    language); ``None`` for a tampered link. Its agency becomes the tenant."""
    data = read_link_token(SIGN_IN_SALT, token, 10 * 365 * 24 * 3600)
    if isinstance(data, LinkError):
        return None
    try:
        agency_id, contact_id = uuid.UUID(data["a"]), uuid.UUID(data["c"])
    except (KeyError, ValueError, TypeError):
        return None
    set_tenant(agency_id)
    contact = db.session.scalars(select(Contact).where(Contact.id == contact_id)).one_or_none()
    if contact is None:
        return None
    return db.session.scalars(select(Client).where(Client.id == contact.client_id)).one()


def accept_sign_in(invitation: SignInInvitation, password: str) -> User:
    """Link the contact to a sign-in: a new account for the invitation's e-mail (the
    password must follow the sign-up rules), or the existing account of that e-mail once
    its password is given. Audited in the contact's agency. Returns the user."""
    contact = invitation.contact
    user = invitation.existing_user
    if user is None:
        problem = password_problem(password)
        if problem:
            raise ServiceError(problem, field="password")
        user = User(email=invitation.email, name=contact.name.strip()[:120]
                    or invitation.email.split("@")[0], password_hash=hash_password(password),
                    locale=supported(invitation.client.language))
        db.session.add(user)
        db.session.flush()
    elif not user.is_active or not verify_password(user.password_hash, password):
        raise ServiceError(_("This e-mail already has an account: enter its password."),
                           field="password")
    set_tenant(contact.agency_id, user.id)
    contact.user_id = user.id
    db.session.flush()
    record(SignInAction.LINKED, contact, actor_user_id=user.id, actor_label=user.email,
           details={"email": user.email, "client": str(contact.client_id)})
    return user


def revoke_sign_in(contact: Contact) -> bool:
    """Unlink the contact's sign-in. Their client-area sessions for this contact stop
    working at once (every request re-checks the link, and a session found unlinked is
    deleted), and every invitation link sent before is void. Idempotent: returns whether
    there was a sign-in to revoke."""
    if contact.user_id is None:
        return False
    user = db.session.scalars(select(User).where(User.id == contact.user_id)).one_or_none()
    record(SignInAction.REVOKED, contact,
           details={"email": user.email if user else "", "client": str(contact.client_id)})
    contact.user_id = None
    db.session.flush()
    return True

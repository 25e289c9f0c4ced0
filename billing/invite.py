"""The e-mail that brings an SME owner to the Checkout page for their own workspace."""

from __future__ import annotations

from flask import render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from agency.clients.models import Client, Contact
from agency.extensions import db
from agency.i18n import supported
from agency.notifications.mail import send_mail
from tenants.context import current_agency


def send_checkout_link(client: Client, url: str) -> int:
    """Mail ``url`` to the client's contacts who approve posts (they are the owner's
    side), in the client's language. Returns how many were queued (after the commit)."""
    if not url:
        return 0
    contacts = list(db.session.scalars(select(Contact).where(
        Contact.client_id == client.id, Contact.approves_posts.is_(True),
        Contact.email != "").order_by(Contact.name)))
    agency = current_agency.name
    for contact in contacts:
        with force_locale(supported(client.language) or "fr"):
            send_mail(contact.email,
                      _("%(agency)s: your Relais subscription for %(client)s",
                        agency=agency, client=client.name),
                      render_template("billing/mail/client_checkout.txt", contact=contact,
                                      client=client, agency=agency, link=url))
    return len(contacts)

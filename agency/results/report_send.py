"""The monthly report's link e-mailed to a client's contacts, in the client's language
(flushes, never commits; the mail leaves after the commit)."""

from __future__ import annotations

from flask import render_template
from flask_babel import gettext as _
from sqlalchemy import select

from agency.clients.models import Client
from agency.extensions import db

from .periods import Period
from .report import build, in_language


class ReportAction:
    SENT = "report.sent"


def contacts_with_email(client: Client) -> list:
    from agency.clients.models import Contact

    return list(db.session.scalars(select(Contact).where(
        Contact.client_id == client.id, Contact.email != "").order_by(Contact.name,
                                                                      Contact.id)))


def send_report(client: Client, period: Period, contact_ids, *, sender: str = "") -> int:
    """E-mail the chosen contacts of ``client`` (those with an address) the signed link to
    the report of ``period``, with its plain-language summary, in the client's language;
    delivered after the commit. Audited. Returns how many were sent; ``ServiceError``
    when none of the chosen can receive it. Flushes, never commits."""
    from flask import url_for

    from agency.audit.services import record
    from agency.auth.services import ServiceError
    from agency.notifications.mail import send_mail

    from . import report_links

    wanted = {str(c) for c in contact_ids or ()}
    contacts = [c for c in contacts_with_email(client) if str(c.id) in wanted]
    if client.is_archived:
        raise ServiceError(_("This client is archived. Restore it before making changes."))
    if not contacts:
        raise ServiceError(_("Choose at least one contact with an e-mail address."),
                           field="contacts")
    link = url_for("reports.public_html", token=report_links.make_token(client, period),
                   _external=True)
    with in_language(client):
        built = build(client, period)
        subject = _("%(agency)s: the report for %(month)s", agency=built.brand.name,
                    month=period.label())
        for contact in contacts:
            send_mail(contact.email, subject, render_template(
                "results/report_mail.txt", contact=contact, report=built, link=link,
                sender=sender, days=report_links.LINK_MAX_AGE // 86400))
    record(ReportAction.SENT, client, details={
        "client": str(client.id), "month": period.first.strftime("%Y-%m"),
        "contacts": [str(c.id) for c in contacts]})
    return len(contacts)

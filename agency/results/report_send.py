"""The monthly report's link e-mailed to a client's contacts, in the client's language
(flushes, never commits; the mail leaves after the commit)."""

from __future__ import annotations

from datetime import UTC, date, datetime

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


def send_report(client: Client, period: Period, contact_ids, *, sender: str = "",
                as_of: datetime | None = None) -> int:
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
        built = build(client, period, as_of=as_of)
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


def send_monthly(client: Client, month: date, *, now: datetime | None = None) -> int:
    """The report of ``month`` (its first day) to the client's contacts who opted in,
    once: the ``monthly_reports`` row is written with the e-mails (unique per client and
    month), so a job run twice sends nothing the second time. Returns how many were
    sent (0: already sent, or nobody opted in). Flushes, never commits."""
    from agency.content.slots import client_zone

    from .models import MonthlyReport
    from .periods import month as month_period

    now = now or datetime.now(UTC)
    exists = db.session.scalar(select(MonthlyReport.id).where(
        MonthlyReport.client_id == client.id, MonthlyReport.month == month))
    recipients = [c.id for c in contacts_with_email(client) if c.receives_reports]
    if exists is not None or not recipients or client.is_archived:
        return 0
    row = MonthlyReport(client_id=client.id, month=month, generated_at=now,
                        recipients=len(recipients))
    db.session.add(row)
    db.session.flush()  # a concurrent run stops here, on the unique (client, month)
    return send_report(client, month_period(month.year, month.month, client_zone(client)),
                       recipients, as_of=now)


def figures_as_sent(client: Client, period: Period) -> datetime | None:
    """When the report of ``period`` was sent on its own (its figures stand at that
    time, so the link shows what the e-mail said), or None: figures as of now."""
    from .models import MonthlyReport

    return db.session.scalar(select(MonthlyReport.generated_at).where(
        MonthlyReport.client_id == client.id, MonthlyReport.month == period.first))

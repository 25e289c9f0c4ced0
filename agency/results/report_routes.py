"""The monthly report's pages.

Staff (any member who sees the client; ``client_for_view`` answers 404 otherwise):
``/clients/<id>/report?month=2026-10`` (HTML, with the PDF and the signed link to
share) and ``/clients/<id>/report.pdf?month=…``. Without ``month``: the last complete
month.

Public, the signed link as principal (``report_links.py``; like the approval portal:
nobody signs in, a staff session is ignored, no Referer, no caching, rate limited per
address): ``/r/<token>`` and ``/r/<token>.pdf``. A tampered link answers 404, an expired
one (or an archived client's) 410, each with a page saying so in the client's language.

Staff also send the link to the client's contacts they choose
(``POST /clients/<id>/report/send``, ``CLIENT_EDIT``), and owners and admins set the
agency's colour and logo the reports carry (``/settings/report``).

Everything in the report is in the client's language, whatever the reader's own.
"""

from __future__ import annotations

import logging
import uuid

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, StringField
from wtforms.validators import InputRequired

from agency.access import client_for_view, current_membership, require
from agency.approvals.portal import PRIVATE_HEADERS
from agency.auth.services import ServiceError
from agency.clients.models import Client
from agency.extensions import db, limiter, login_manager
from agency.forms import apply_service_error
from agency.i18n import supported
from tenants.roles import Permission

from . import report_links, report_pdf
from .branding import set_branding
from .periods import Period, PeriodError
from .report import (
    DEFAULT_COLOR,
    agency_of_id,
    branding_of,
    language_of,
    parse_month,
    render_html,
)
from .report_send import contacts_with_email, figures_as_sent, send_report

bp = Blueprint("reports", __name__)
log = logging.getLogger(__name__)

PAGE_LIMIT = "60 per minute"  # per address, on the public pages
PDF_LIMIT = "20 per minute"  # a PDF costs the server about a second
PUBLIC = {"reports.public_html", "reports.public_pdf"}


# --- responses ------------------------------------------------------------------------------

def _pdf(client, period):
    try:
        body = report_pdf.render_pdf(client, period, as_of=figures_as_sent(client, period))
    except report_pdf.PdfUnavailable:
        log.error("report PDF unavailable: WeasyPrint cannot load Pango", exc_info=True)
        return _problem(503, _l("The PDF cannot be made right now"),
                        _l("The report can still be read on its page. Try the PDF again "
                           "later."), language=client.language)
    return _pdf_response(body, report_pdf.filename(client, period))


def _pdf_response(body: bytes, name: str):
    response = make_response(body)
    response.mimetype = "application/pdf"
    response.headers.set("Content-Disposition", "inline", filename=name)
    response.cache_control.private = True
    response.cache_control.no_store = True
    return response


def _problem(code: int, title: str, message: str, *, agency_name: str = "",
             language: str | None = None):
    locale = supported(language) or current_app.config["BABEL_DEFAULT_LOCALE"]
    with force_locale(locale):
        return make_response(render_template(
            "results/report_problem.html", code=code, title=str(title), message=str(message),
            agency_name=agency_name, language=locale), code)


def _bad_month(client: Client, error: PeriodError):
    return _problem(400, _("This month cannot be shown"), str(error),
                    language=language_of(client))


# --- staff ----------------------------------------------------------------------------------

def _staff_period(client: Client) -> Period:
    return parse_month(request.args.get("month"), client)


@bp.get("/clients/<uuid:client_id>/report")
@require()
def show(client_id: uuid.UUID):
    client = client_for_view(client_id)
    try:
        period = _staff_period(client)
    except PeriodError as error:
        return _bad_month(client, error)
    month = period.first.strftime("%Y-%m")
    token = report_links.make_token(client, period)
    html = render_html(
        client, period, staff=True, as_of=figures_as_sent(client, period),
        pdf_url=url_for("reports.pdf", client_id=client.id, month=month),
        results_url=url_for("results.dashboard", client_id=client.id, period=month),
        share_url=url_for("reports.public_html", token=token, _external=True),
        link_days=report_links.LINK_MAX_AGE // 86400,
        send_url=url_for("reports.send", client_id=client.id, month=month),
        contacts=contacts_with_email(client))
    response = make_response(html)
    response.cache_control.private = True
    response.cache_control.no_store = True
    return response


@bp.get("/clients/<uuid:client_id>/report.pdf")
@require()
def pdf(client_id: uuid.UUID):
    client = client_for_view(client_id)
    try:
        period = _staff_period(client)
    except PeriodError as error:
        return _bad_month(client, error)
    return _pdf(client, period)


@bp.post("/clients/<uuid:client_id>/report/send")
@require(Permission.CLIENT_EDIT)
def send(client_id: uuid.UUID):
    client = client_for_view(client_id)
    try:
        period = _staff_period(client)
    except PeriodError as error:
        return _bad_month(client, error)
    back = url_for("reports.show", client_id=client.id, month=period.first.strftime("%Y-%m"))
    try:
        sent = send_report(client, period, request.form.getlist("contacts"),
                           sender=current_membership().user.name)
    except ServiceError as error:
        flash(error.message, "error")
        return redirect(back)
    db.session.commit()
    flash(ngettext("The report was sent to %(num)d contact.",
                   "The report was sent to %(num)d contacts.", sent), "success")
    return redirect(back)


# --- the signed link's holder ---------------------------------------------------------------

@bp.before_request
def _as_link_holder():
    if request.endpoint in PUBLIC:
        g._login_user = login_manager.anonymous_user()  # read by flask_login.current_user
        g.pop("membership", None)
        g.report_link_page = True


@bp.after_app_request
def _private_headers(response):
    # On the app, registered before Talisman, so it runs after it and wins (as the
    # portal's): the token is in the URL.
    if g.get("report_link_page") or request.path.startswith("/r/"):
        response.headers.update(PRIVATE_HEADERS)
    return response


@bp.teardown_app_request
def _forget(_exc):
    g.pop("report_link_page", None)


def _access(token: str):
    """The link's access, or the page that says why not (404, 410)."""
    try:
        return report_links.resolve(token), None
    except report_links.Refused as refused:
        language = supported(refused.language) or current_app.config["BABEL_DEFAULT_LOCALE"]
        with force_locale(language):
            if refused.kind == "expired":
                title = _("This link has expired")
                message = _("Reports stay available for %(days)d days. Ask %(agency)s for "
                            "a new link.", days=report_links.LINK_MAX_AGE // 86400,
                            agency=refused.agency_name)
            elif refused.kind == "archived":
                title = _("This report is no longer available")
                message = _("Ask %(agency)s if you need it.", agency=refused.agency_name)
            else:
                title = _("This link is not valid")
                message = _("Check that you copied the whole link from your e-mail.")
        return None, _problem(refused.status, title, message,
                              agency_name=refused.agency_name, language=language)


@bp.get("/r/<token>")
@limiter.limit(PAGE_LIMIT)
def public_html(token: str):
    access, problem = _access(token)
    if problem is not None:
        return problem
    return make_response(render_html(
        access.client, access.period, as_of=figures_as_sent(access.client, access.period),
        pdf_url=url_for("reports.public_pdf", token=token)))


@bp.get("/r/<token>.pdf")
@limiter.limit(PDF_LIMIT)
def public_pdf(token: str):
    access, problem = _access(token)
    if problem is not None:
        return problem
    return _pdf(access.client, access.period)


# --- the agency's branding on its reports (owners and admins) -------------------------------

BRANDING = Permission.BRANDING_MANAGE  # owners and admins


class BrandingForm(FlaskForm):
    color = StringField(_l("Colour"), validators=[InputRequired()], default=DEFAULT_COLOR)
    logo = FileField(_l("Logo (PNG or JPEG, at most 300 KB)"))
    remove_logo = BooleanField(_l("Remove the logo"))


def _branding_page(form: BrandingForm, agency, status: int = 200):
    return render_template("results/report_settings.html", form=form,
                           brand=branding_of(agency)), status


@bp.route("/settings/report", methods=["GET", "POST"])
@require(BRANDING)
def branding():
    agency = agency_of_id(current_membership().agency_id)
    form = BrandingForm(color=agency.brand_color or DEFAULT_COLOR)
    if request.method == "GET":
        return _branding_page(form, agency)
    if not form.validate_on_submit():
        return _branding_page(form, agency, 422)
    upload = form.logo.data
    data = upload.read(400 * 1024) if upload and getattr(upload, "filename", "") else None
    try:
        set_branding(agency, color=form.color.data, logo=data,
                     remove_logo=form.remove_logo.data)
    except ServiceError as error:  # refused before anything was written
        apply_service_error(form, error)
        return _branding_page(form, agency, 422)
    db.session.commit()
    flash(_("The reports' colour and logo are saved."), "success")
    return redirect(url_for("reports.branding"))

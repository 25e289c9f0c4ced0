"""Client workspace pages: the list, a client's page, its profile, staff and contacts.

Each view loads the client through ``client_for_view`` (404 for absent, foreign or
unassigned clients), checks, acts through a service and commits once. An archived
client is read-only: every change except restoring it is refused with a redirect to
its page and a message saying how to proceed.
"""

from __future__ import annotations

import uuid

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from agency.access import can, client_for_view, require
from agency.auth.services import ServiceError
from agency.clientarea import services as sign_in
from agency.extensions import db
from agency.forms import apply_service_error
from billing import hooks as billing
from billing import plans, previews
from billing.stripe_client import enabled as billing_enabled
from tenants.roles import Permission, Role

from . import queries, services
from .forms import (
    ClientForm,
    ContactForm,
    NewClientForm,
    StaffForm,
    country_name,
    timezone_label,
)
from .models import Client

bp = Blueprint("clients", __name__)

LANGUAGE_NAMES = {"fr": _l("French"), "en": _l("English")}
ROLE_NAMES = {Role.OWNER: _l("Owner"), Role.ADMIN: _l("Admin"),
              Role.MANAGER: _l("Manager"), Role.MEMBER: _l("Member")}


@bp.context_processor
def _client_helpers():
    return {"timezone_label": timezone_label, "LANGUAGE_NAMES": LANGUAGE_NAMES,
            "ROLE_NAMES": ROLE_NAMES, "country_name": country_name}


def _htmx_partial() -> bool:
    # A history restore asks for the whole page even though htmx sends it.
    return (request.headers.get("HX-Request") == "true"
            and not request.headers.get("HX-History-Restore-Request"))


def _see_other(endpoint: str, **values):
    return redirect(url_for(endpoint, **values), code=303)


def _allowed(permission: Permission) -> None:
    # Checked after the client is loaded: an unseen client is a 404 for everyone, and
    # only then does a missing permission become a 403.
    if not can(permission):
        abort(403)


def _refused(form, error: ServiceError) -> None:
    """Services check before they write and nothing is committed on this path, so the
    request leaves the database as it was."""
    apply_service_error(form, error)


def _form_page(template: str, **context):
    # A POST that reaches here was refused: the same form again, with its messages.
    status = 422 if request.method == "POST" else 200
    return render_template(template, **context), status


def _read_only(client: Client):
    """A redirect away from a change to an archived client, or ``None`` if it is active."""
    if client.is_archived:
        flash(_("This client is archived. Restore it before making changes."), "error")
        return _see_other("clients.show", client_id=client.id)
    return None


# --- list and page ---------------------------------------------------------------------

@bp.get("/clients")
@require()
def index():
    archived = request.args.get("archived") == "1"
    search = request.args.get("q", "").strip()[: queries.SEARCH_MAX]
    context = {"rows": queries.client_rows(search, archived), "q": search,
               "archived": archived}
    if _htmx_partial():
        response = make_response(render_template("clients/_results.html", **context))
    else:
        response = make_response(render_template(
            "clients/index.html", counts=queries.tab_counts(), **context
        ))
    response.vary.add("HX-Request")
    return response


@bp.get("/clients/<uuid:client_id>")
@require()
def show(client_id: uuid.UUID):
    client = client_for_view(client_id)
    return render_template(
        "clients/show.html", client=client, contacts=queries.contacts_of(client),
        staff=queries.assigned_staff(client),
    )


# --- create, edit, archive ---------------------------------------------------------------

@bp.route("/clients/new", methods=["GET", "POST"])
@require(Permission.CLIENT_CREATE)
def new():
    """Billing on, the form is confirmed on a second page that says what the new
    workspace adds to the agency's invoice; only then is anything written."""
    form = NewClientForm()
    form.offer_plans(previews.plan_choices())
    if form.validate_on_submit():
        try:
            values = services.new_client_values(form.values())
            plan = form.chosen_plan()
            if plan is not None and not plans.is_plan(plan):
                raise ServiceError(_("Choose one of the plans."), field="plan")
            if not form.confirmed.data and billing_enabled():
                return render_template("clients/confirm_new.html", form=form, values=values,
                                       plan=plans.get(plan),
                                       preview=_cost(lambda: previews.adding(plan)),
                                       euros=plans.euros)
            client = services.create_client(values, plan=plan)
        except ServiceError as error:
            _refused(form, error)
        else:
            db.session.commit()
            _sync_billing(form.proration_date.data)
            flash(_("Client %(name)s created.", name=client.name), "success")
            return _see_other("clients.show", client_id=client.id)
    return _form_page("clients/form.html", form=form, client=None)


def _sync_billing(proration_date: str | None) -> None:
    """After a confirmed change that moves the agency's subscription: Stripe at once, at
    the time the preview was made (a worker does it anyway if Stripe is slow)."""
    if (proration_date and proration_date.isdigit()
            and not billing.sync_now(int(proration_date))):
        flash(_("Stripe will be updated in a few minutes."), "info")


@bp.route("/clients/<uuid:client_id>/edit", methods=["GET", "POST"])
@require()
def edit(client_id: uuid.UUID):
    client = client_for_view(client_id)
    _allowed(Permission.CLIENT_EDIT)
    if (refusal := _read_only(client)) is not None:
        return refusal
    form = ClientForm(obj=client)
    if form.validate_on_submit():
        try:
            services.update_client(client, form.values())
        except ServiceError as error:
            _refused(form, error)
        else:
            db.session.commit()
            flash(_("Changes saved."), "success")
            return _see_other("clients.show", client_id=client.id)
    return _form_page("clients/form.html", form=form, client=client)


@bp.route("/clients/<uuid:client_id>/archive", methods=["GET", "POST"])
@require()
def archive(client_id: uuid.UUID):
    """GET asks first, saying what archiving takes off the agency's invoice."""
    client = client_for_view(client_id)
    _allowed(Permission.CLIENT_ARCHIVE)
    if client.is_archived:
        return _see_other("clients.show", client_id=client.id)
    if request.method == "GET":
        return _confirm_page(client, "archive", previews.archiving)
    services.archive_client(client)
    db.session.commit()
    _sync_billing(request.form.get("proration_date"))
    flash(_("%(name)s is archived. You can restore it at any time.", name=client.name),
          "success")
    return _see_other("clients.show", client_id=client.id)


@bp.route("/clients/<uuid:client_id>/restore", methods=["GET", "POST"])
@require()
def restore(client_id: uuid.UUID):
    """GET asks first, saying what restoring adds to the agency's invoice."""
    client = client_for_view(client_id)
    _allowed(Permission.CLIENT_ARCHIVE)
    if not client.is_archived:
        return _see_other("clients.show", client_id=client.id)
    if request.method == "GET":
        return _confirm_page(client, "restore", previews.restoring)
    services.restore_client(client)
    db.session.commit()
    _sync_billing(request.form.get("proration_date"))
    flash(_("%(name)s is active again.", name=client.name), "success")
    return _see_other("clients.show", client_id=client.id)


def _confirm_page(client: Client, action: str, cost):
    return render_template("clients/confirm_archive.html", client=client, action=action,
                           preview=_cost(lambda: cost(client)), euros=plans.euros)


def _cost(preview):
    """The preview, or None with a message when Stripe cannot say: confirming stays
    possible (the subscription follows once Stripe answers)."""
    try:
        return preview()
    except ServiceError as error:
        flash(error.message, "error")
        return None


# --- staff ------------------------------------------------------------------------------

@bp.route("/clients/<uuid:client_id>/staff", methods=["GET", "POST"])
@require()
def staff(client_id: uuid.UUID):
    client = client_for_view(client_id)
    _allowed(Permission.CLIENT_ASSIGN_STAFF)
    if (refusal := _read_only(client)) is not None:
        return refusal
    choices = queries.staff_choices()
    form = StaffForm()
    if request.method == "GET":
        form.staff.data = [str(i) for i in services.assigned_membership_ids(client)]
    if form.validate_on_submit():
        try:
            services.set_assigned_staff(client, _membership_ids(form.staff.data or []))
        except ServiceError as error:
            _refused(form, error)
        else:
            db.session.commit()
            flash(_("Assigned staff saved."), "success")
            return _see_other("clients.show", client_id=client.id)
    selected = set(form.staff.data or [])
    return _form_page("clients/staff.html", form=form, client=client, choices=choices,
                      selected=selected)


def _membership_ids(values: list[str]) -> list[uuid.UUID]:
    try:
        return [uuid.UUID(v) for v in values]
    except ValueError:
        raise ServiceError(_("Unknown team member."), field="staff") from None


# --- contacts ---------------------------------------------------------------------------

@bp.route("/clients/<uuid:client_id>/contacts/new", methods=["GET", "POST"])
@require()
def contact_new(client_id: uuid.UUID):
    client = client_for_view(client_id)
    _allowed(Permission.CONTACT_MANAGE)
    if (refusal := _read_only(client)) is not None:
        return refusal
    form = ContactForm()
    if form.validate_on_submit():
        try:
            contact = services.create_contact(client, form.values())
        except ServiceError as error:
            _refused(form, error)
        else:
            db.session.commit()
            flash(_("Contact %(name)s added.", name=contact.name), "success")
            return _see_other("clients.show", client_id=client.id)
    return _form_page("clients/contact_form.html", form=form, client=client, contact=None)


@bp.route("/clients/<uuid:client_id>/contacts/<uuid:contact_id>/edit",
          methods=["GET", "POST"])
@require()
def contact_edit(client_id: uuid.UUID, contact_id: uuid.UUID):
    client = client_for_view(client_id)
    contact = queries.contact_of(client, contact_id)
    _allowed(Permission.CONTACT_MANAGE)
    if (refusal := _read_only(client)) is not None:
        return refusal
    form = ContactForm(obj=contact)
    if form.validate_on_submit():
        try:
            services.update_contact(contact, form.values())
        except ServiceError as error:
            _refused(form, error)
        else:
            db.session.commit()
            flash(_("Contact saved."), "success")
            return _see_other("clients.show", client_id=client.id)
    return _form_page("clients/contact_form.html", form=form, client=client, contact=contact)


@bp.post("/clients/<uuid:client_id>/contacts/<uuid:contact_id>/delete")
@require()
def contact_delete(client_id: uuid.UUID, contact_id: uuid.UUID):
    client = client_for_view(client_id)
    contact = queries.contact_of(client, contact_id)
    _allowed(Permission.CONTACT_MANAGE)
    if (refusal := _read_only(client)) is not None:
        return refusal
    name = contact.name
    services.delete_contact(contact)
    db.session.commit()
    flash(_("Contact %(name)s removed.", name=name), "success")
    return _see_other("clients.show", client_id=client.id)


# --- a contact's own sign-in (the client area) ---------------------------------------------

@bp.post("/clients/<uuid:client_id>/contacts/<uuid:contact_id>/sign-in/invite")
@require()
def contact_invite_sign_in(client_id: uuid.UUID, contact_id: uuid.UUID):
    client = client_for_view(client_id)
    contact = queries.contact_of(client, contact_id)
    _allowed(Permission.CONTACT_MANAGE)
    if (refusal := _read_only(client)) is not None:
        return refusal
    try:
        sign_in.invite_to_sign_in(contact, client, inviter_name=current_user.name)
    except ServiceError as error:  # refused before anything was written
        flash(error.message, "error")
        return _see_other("clients.show", client_id=client.id)
    db.session.commit()
    flash(_("%(name)s will receive an e-mail to set up their sign-in.", name=contact.name),
          "success")
    return _see_other("clients.show", client_id=client.id)


@bp.post("/clients/<uuid:client_id>/contacts/<uuid:contact_id>/sign-in/revoke")
@require()
def contact_revoke_sign_in(client_id: uuid.UUID, contact_id: uuid.UUID):
    # Allowed on an archived client too: taking access away is never refused.
    client = client_for_view(client_id)
    contact = queries.contact_of(client, contact_id)
    _allowed(Permission.CONTACT_MANAGE)
    name = contact.name
    revoked = sign_in.revoke_sign_in(contact)
    db.session.commit()
    if revoked:
        flash(_("%(name)s can no longer sign in to the client area.", name=name), "success")
    else:
        flash(_("%(name)s had no sign-in.", name=name), "info")
    return _see_other("clients.show", client_id=client.id)

"""Connecting a client's Mastodon account (a page reached from the client's accounts).

Two ways, one page:

- **Sign in on the instance** (OAuth): the form registers Relais on the instance (once per
  instance) and shows a link to the instance's approval page. A link, not a redirect: the
  CSP's ``form-action 'self'`` forbids a form from ending up on another site. The
  instance sends the person back to ``/networks/mastodon/callback`` with a code and our
  signed ``state`` (agency, person, client; 15 minutes), which must match whoever is
  signed in here.
- **An access token** made by hand in the account's Development settings.

Both check the credentials with the instance before anything is saved (422 with the
reason beside the field otherwise), and reconnect an expired account in place.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length

from agency.access import can, client_for_view, current_membership, require
from agency.auth.services import ServiceError
from agency.extensions import db
from agency.forms import apply_service_error
from tenants.roles import Permission

from . import connect_mastodon as service
from .mastodon import DEFAULT_VISIBILITY, VISIBILITIES

bp = Blueprint("mastodon", __name__)

VISIBILITY_CHOICES = [
    SelectChoice("public", _l("Public")),
    SelectChoice("unlisted", _l("Unlisted (kept out of public timelines)")),
    SelectChoice("private", _l("Followers only")),
]


class _InstanceFields(FlaskForm):
    instance_url = StringField(_l("Instance address"), validators=[
        InputRequired(message=_l("Give the address of the Mastodon instance.")),
        Length(max=255)])
    visibility = SelectField(_l("Who sees the posts"), choices=VISIBILITY_CHOICES,
                             default=DEFAULT_VISIBILITY)


class SignInForm(_InstanceFields):
    pass


class TokenForm(_InstanceFields):
    access_token = PasswordField(_l("Access token"), validators=[
        InputRequired(message=_l("Paste the account's access token.")), Length(max=512)])


def _forms(*, sign_in: SignInForm | None = None, token: TokenForm | None = None):
    # Prefixed, so both forms can sit on one page with distinct field ids.
    sign_in = sign_in or SignInForm(prefix="oauth", formdata=None)
    token = token or TokenForm(prefix="token", formdata=None)
    instance = request.args.get("instance", "")
    visibility = request.args.get("visibility", "")
    for form in (sign_in, token):
        if instance and not form.instance_url.data:
            form.instance_url.data = instance
        if visibility in VISIBILITIES and not form.is_submitted():
            form.visibility.data = visibility
    return sign_in, token


def _page(client, *, sign_in=None, token=None, status: int = 200):
    sign_in, token = _forms(sign_in=sign_in, token=token)
    return render_template("networks/mastodon_connect.html", client=client, sign_in=sign_in,
                           token=token, scopes=service.SCOPES), status


def _refused(form: FlaskForm, error: ServiceError) -> None:
    db.session.rollback()
    apply_service_error(form, error)


def _archived(client):
    if client.is_archived:
        flash(_("This client is archived. Restore it before making changes."), "error")
        return redirect(url_for("clients.show", client_id=client.id), 303)
    return None


def _connected(account):
    flash(_("Mastodon account %(handle)s connected.", handle=account.handle), "success")
    return redirect(url_for("clients.show", client_id=account.client_id, _anchor="accounts"),
                    303)


def _callback_url() -> str:
    return url_for("mastodon.callback", _external=True)


@bp.get("/clients/<uuid:client_id>/accounts/mastodon")
@require(Permission.CLIENT_EDIT)
def connect(client_id: uuid.UUID):
    client = client_for_view(client_id)
    return _archived(client) or _page(client)


@bp.post("/clients/<uuid:client_id>/accounts/mastodon/token")
@require(Permission.CLIENT_EDIT)
def connect_token(client_id: uuid.UUID):
    client = client_for_view(client_id)
    if (refusal := _archived(client)) is not None:
        return refusal
    form = TokenForm(prefix="token")
    if form.validate_on_submit():
        try:
            account = service.connect_with_token(client, form.instance_url.data or "",
                                                 form.access_token.data or "",
                                                 form.visibility.data or "")
        except ServiceError as error:
            _refused(form, error)
        else:
            db.session.commit()
            return _connected(account)
    return _page(client, token=form, status=422)


@bp.post("/clients/<uuid:client_id>/accounts/mastodon/authorize")
@require(Permission.CLIENT_EDIT)
def authorize(client_id: uuid.UUID):
    client = client_for_view(client_id)
    if (refusal := _archived(client)) is not None:
        return refusal
    form = SignInForm(prefix="oauth")
    if form.validate_on_submit():
        try:
            start = service.start_oauth(client, form.instance_url.data or "",
                                        form.visibility.data or "", _callback_url(),
                                        agency_id=current_membership().agency_id,
                                        user_id=current_user.id)
        except ServiceError as error:
            _refused(form, error)
        else:
            # Nothing was written: the app's secret travels sealed in the state.
            return render_template("networks/mastodon_authorize.html", client=client,
                                   start=start, scopes=service.SCOPES)
    return _page(client, sign_in=form, status=422)


@bp.get("/networks/mastodon/callback")
@login_required
def callback():
    try:
        state = service.read_state(request.args.get("state", ""))
    except ServiceError as error:
        return _problem(error.message, 400)
    membership = current_membership()
    if (state.get("agency") != str(membership.agency_id)
            or state.get("user") != str(current_user.id)):
        return _problem(_("This Mastodon sign-in was started by someone else or in another "
                          "agency. Start again from the client's page."), 403)
    client = client_for_view(state["client"])  # 404 if no longer visible to this person
    if not can(Permission.CLIENT_EDIT):
        abort(403)
    if (refusal := _archived(client)) is not None:
        return refusal
    if request.args.get("error"):
        flash(_("The sign-in on %(instance)s was cancelled: nothing was connected.",
                instance=state["instance"]), "error")
        return redirect(url_for("mastodon.connect", client_id=client.id,
                                instance=state["instance"]), 303)
    code = request.args.get("code", "")
    if not code:
        return _problem(_("The instance sent no authorization code. Start again."), 400)
    try:
        account = service.finish_oauth(client, state, code, _callback_url())
    except ServiceError as error:
        form = SignInForm(prefix="oauth", formdata=None,
                          data={"instance_url": state["instance"],
                                "visibility": state.get("visibility", DEFAULT_VISIBILITY)})
        _refused(form, error)
        return _page(client, sign_in=form, status=422)
    db.session.commit()
    return _connected(account)


def _problem(message: str, status: int):
    return render_template("networks/mastodon_problem.html", message=message), status

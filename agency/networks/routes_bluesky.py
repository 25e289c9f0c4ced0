"""Connecting a client's Bluesky account with its handle and an app password (a page
reached from the client's accounts), and reconnecting one whose connection expired.

Both check the credentials with Bluesky before anything is saved (422 with the reason
beside the field otherwise); a reconnection updates the same account, so what it held
resumes.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import InputRequired, Length

from agency.access import client_for_view, require
from agency.auth.services import ServiceError
from agency.extensions import db
from agency.forms import apply_service_error
from tenants.roles import Permission
from tenants.scoping import tenant_get

from . import connect_bluesky as service
from .models import SocialAccount

bp = Blueprint("bluesky", __name__)


class ConnectForm(FlaskForm):
    handle = StringField(_l("Bluesky handle"), validators=[
        InputRequired(message=_l("Enter the account's Bluesky handle.")), Length(max=253)])
    app_password = PasswordField(_l("App password"), validators=[
        InputRequired(message=_l("Enter an app password created in Bluesky.")),
        Length(max=64)])


def _archived(client):
    if client.is_archived:
        flash(_("This client is archived. Restore it before making changes."), "error")
        return redirect(url_for("clients.show", client_id=client.id), 303)
    return None


def _account_of(client, account_id: uuid.UUID) -> SocialAccount:
    account = tenant_get(SocialAccount, account_id)
    if account.client_id != client.id or account.network != service.NETWORK:
        abort(404)
    return account


def _handle_form(client, account: SocialAccount | None):
    form = ConnectForm()
    if account is not None and not form.is_submitted():
        form.handle.data = (account.settings or {}).get("handle") or ""
    if form.validate_on_submit():
        try:
            connected, reconnected = service.connect_account(
                client, form.handle.data or "", form.app_password.data or "", account)
        except ServiceError as error:
            db.session.rollback()
            apply_service_error(form, error)
        else:
            db.session.commit()
            message = (_("Bluesky account %(handle)s reconnected.", handle=connected.handle)
                       if reconnected else
                       _("Bluesky account %(handle)s connected.", handle=connected.handle))
            flash(message, "success")
            return redirect(url_for("clients.show", client_id=client.id, _anchor="accounts"),
                            303)
    status = 422 if form.is_submitted() else 200
    return render_template("networks/bluesky_connect.html", client=client, form=form,
                           account=account), status


@bp.route("/clients/<uuid:client_id>/accounts/bluesky", methods=["GET", "POST"])
@require(Permission.CLIENT_EDIT)
def connect(client_id: uuid.UUID):
    client = client_for_view(client_id)
    return _archived(client) or _handle_form(client, None)


@bp.route("/clients/<uuid:client_id>/accounts/<uuid:account_id>/bluesky",
          methods=["GET", "POST"])
@require(Permission.CLIENT_EDIT)
def reconnect(client_id: uuid.UUID, account_id: uuid.UUID):
    client = client_for_view(client_id)
    account = _account_of(client, account_id)
    return _archived(client) or _handle_form(client, account)

"""Connecting a client's pages on the OAuth networks (Facebook first), one flow for all:

1. ``/clients/<id>/connect`` lists the networks, what each needs, and refuses clearly
   those whose app credentials this Relais lacks.
2. ``…/connect/<network>/start`` answers 302 to the network's approval page. The page
   reaches it by a plain link: the CSP's ``form-action 'self'`` would stop a form whose
   answer redirects to another site.
3. The network sends the person back to ``/networks/oauth/<network>/callback`` with a
   code and our signed state (oauth.py), which must name whoever is signed in here. The
   code is exchanged and the pages the person may add are shown, sealed in a signed
   form field (never in the session).
4. ``…/connect/<network>/add`` adds the ticked pages (or reconnects those the client has).

The same callback (the one address registered with each network) also ends the flow an
SME's owner starts from their link (routes_owner.py): a state signed for an owner link
takes that path, with no sign-in; any other state needs the person signed in, as above.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from agency.access import can, client_for_view, current_membership, require
from agency.auth.services import ServiceError
from agency.extensions import db, limiter, login_manager
from tenants.roles import Permission

from . import oauth
from .connect_oauth import add_choices
from .routes_owner import (
    as_link_holder,
    owner_access,
    owner_choose,
    owner_problem,
    owner_unavailable,
    pages_for_link,
)

bp = Blueprint("connect", __name__)


def _provider(network: str) -> oauth.Provider:
    provider = oauth.provider_for(network)
    if provider is None:
        abort(404)
    return provider


def _problem(message: str, status: int):
    return render_template("networks/oauth_problem.html", message=message), status


def _archived(client):
    if client.is_archived:
        flash(_("This client is archived. Restore it before making changes."), "error")
        return redirect(url_for("clients.show", client_id=client.id), 303)
    return None


def _callback_url(network: str) -> str:
    return url_for("connect.callback", network=network, _external=True)


def _binding(client_id) -> dict:
    return {"agency_id": current_membership().agency_id, "user_id": current_user.id,
            "client_id": client_id}


@bp.get("/clients/<uuid:client_id>/connect")
@require(Permission.CLIENT_EDIT)
def index(client_id: uuid.UUID):
    client = client_for_view(client_id)
    if (refusal := _archived(client)) is not None:
        return refusal
    return render_template("networks/oauth_connect.html", client=client,
                           providers=list(oauth.providers().values()))


@bp.get("/clients/<uuid:client_id>/connect/<network>/start")
@require(Permission.CLIENT_EDIT)
def start(client_id: uuid.UUID, network: str):
    client = client_for_view(client_id)
    provider = _provider(network)
    if (refusal := _archived(client)) is not None:
        return refusal
    if not provider.configured():
        return _problem(provider.missing_message(), 409)
    state, challenge = oauth.make_state(provider, **_binding(client.id))
    return redirect(provider.authorize_url(_callback_url(network), state, challenge), 302)


@bp.get("/networks/oauth/<network>/callback")
@limiter.limit("30 per minute")  # per address: the owner's path is public
def callback(network: str):
    state_token = request.args.get("state", "")
    if oauth.is_owner_state(state_token):
        return owner_callback(_provider(network), state_token)
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    provider = _provider(network)
    membership = current_membership()
    try:
        state = oauth.read_state(state_token, network,
                                 agency_id=membership.agency_id, user_id=current_user.id)
    except oauth.OAuthError as error:
        return _problem(error.message, error.status)
    client = client_for_view(state["client"])  # 404 if no longer visible to this person
    if not can(Permission.CLIENT_EDIT):
        abort(403)
    if (refusal := _archived(client)) is not None:
        return refusal
    if request.args.get("error"):
        flash(_("The sign-in on %(network)s was cancelled: nothing was connected.",
                network=provider.display_name), "error")
        return redirect(url_for("connect.index", client_id=client.id), 303)
    code = request.args.get("code", "")
    if not code:
        return _problem(_("%(network)s sent no authorization code. Start again.",
                          network=provider.display_name), 400)
    if not provider.configured():
        return _problem(provider.missing_message(), 409)
    try:
        tokens = provider.exchange_code(code, _callback_url(network), state["verifier"])
        choices = provider.choices(tokens)
    except oauth.OAuthError as error:
        return _problem(error.message, error.status)
    sealed = oauth.seal_choices(choices, network=network, **_binding(client.id))
    return render_template("networks/oauth_choose.html", client=client, provider=provider,
                           choices=choices, sealed=sealed, error="")


@bp.post("/clients/<uuid:client_id>/connect/<network>/add")
@require(Permission.CLIENT_EDIT)
def add(client_id: uuid.UUID, network: str):
    client = client_for_view(client_id)
    provider = _provider(network)
    if (refusal := _archived(client)) is not None:
        return refusal
    sealed = request.form.get("choices", "")
    try:
        choices = oauth.read_choices(sealed, network=network, **_binding(client.id))
    except oauth.OAuthError as error:
        return _problem(error.message, error.status)
    picked = set(request.form.getlist("pages"))
    chosen = [c for c in choices if c.external_id in picked]
    try:
        accounts = add_choices(client, network, chosen)
    except ServiceError as error:
        db.session.rollback()
        return render_template("networks/oauth_choose.html", client=client,
                               provider=provider, choices=choices, sealed=sealed,
                               error=error.message), 422
    db.session.commit()
    flash(_("%(network)s connected: %(names)s.", network=provider.display_name,
            names=", ".join(a.display_name for a in accounts)), "success")
    return redirect(url_for("clients.show", client_id=client.id, _anchor="accounts"), 303)


def owner_callback(provider: oauth.Provider, state_token: str):
    """The network's return for a sign-in the SME's owner started from their link
    (routes_owner.py): nobody signs in, the link must still be valid and be the one the
    state names; the pages to add are sealed and bound to that link."""
    as_link_holder()
    title = _("This sign-in cannot go on")
    try:
        state = oauth.read_owner_state(state_token, provider.key)
    except oauth.OAuthError as error:
        return owner_problem(error.status, title, error.message)
    token = state["link"]
    access = owner_access(token)
    if (access.link.jti != state["jti"] or state["agency"] != str(access.link.agency_id)
            or state["client"] != access.client.id):
        return owner_problem(400, title, _("This sign-in is not valid. Open the link you "
                                           "received by e-mail again."))
    if not access.offers(provider.key):
        abort(404)
    if request.args.get("error"):
        flash(_("The sign-in on %(network)s was cancelled: nothing was connected.",
                network=provider.display_name), "info")
        return redirect(url_for("owner_connect.page", token=token), 303)
    code = request.args.get("code", "")
    if not code:
        return owner_problem(400, title, _("%(network)s sent no authorization code. Start "
                                           "again.", network=provider.display_name),
                             token=token)
    if not provider.configured():
        return owner_unavailable(access, provider, token)
    try:
        tokens = provider.exchange_code(code, _callback_url(provider.key), state["verifier"])
        choices = pages_for_link(access, provider.choices(tokens))
    except oauth.OAuthError as error:
        return owner_problem(error.status, title, error.message, token=token)
    sealed = oauth.seal_choices(choices, network=provider.key, agency_id=access.link.agency_id,
                                client_id=access.client.id, user_id=access.binding)
    return owner_choose(access, token, provider, choices, sealed)

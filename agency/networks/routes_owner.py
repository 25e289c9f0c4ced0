"""Owner-led connection pages (see owner_link.py).

Staff side (``CLIENT_EDIT``): ``/clients/<id>/owner-link`` picks a contact and the
networks and e-mails them a link; ``…/accounts/<id>/owner-link`` does the same to
reconnect one account.

Owner side, public, the signed link as principal (like the approval portal: nobody signs
in, a staff session is ignored, French unless the client speaks another language, no
Referer, no caching, rate limited per address):

1. ``/connect/<token>`` lists the networks offered, what each needs, a sign-in button
   for the OAuth ones (a plain link: the CSP's ``form-action 'self'`` stops forms whose
   answer redirects to another site) and Bluesky's handle + app password form.
2. ``…/<network>/start`` answers 302 to the network with a state bound to the link.
3. The network comes back to the shared callback (routes_oauth.py), which hands an owner
   state to ``owner_callback``: the pages to add, sealed and bound to the link.
4. ``…/<network>/add`` adds or reconnects them in the link's agency, audited with the
   contact, and the client's staff are told.
"""

from __future__ import annotations

import uuid

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import refresh
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import select

from agency.access import client_for_view, require
from agency.approvals.portal import PRIVATE_HEADERS
from agency.approvals.services import client_time
from agency.auth.services import ServiceError
from agency.clients.models import Contact
from agency.extensions import db, limiter, login_manager
from agency.forms import apply_service_error
from agency.i18n import supported
from tenants.context import tenant_scope
from tenants.roles import Permission
from tenants.scoping import tenant_get

from . import connect_bluesky, oauth, owner_link
from .connect_oauth import add_choices
from .models import SocialAccount
from .owner_link import ANY, BLUESKY, OwnerAccess, Refused
from .routes_bluesky import ConnectForm

bp = Blueprint("owner_connect", __name__)

PAGE_LIMIT = "60 per minute"  # per address: a person reloads, nobody browses links
WRITE_LIMIT = "10 per minute"  # per address: each try calls a network


# --- the link holder's requests -----------------------------------------------------------

def as_link_holder() -> None:
    g._login_user = login_manager.anonymous_user()  # read by flask_login.current_user
    g.pop("membership", None)
    g.owner_link_page = True


@bp.before_request
def _link_pages():
    if "token" in (request.view_args or {}):
        as_link_holder()


@bp.after_app_request
def _private_headers(response):
    # On the app (registered before Talisman, so it runs after it and wins), as the
    # portal's: the token is in the URL, and the callback's page carries it in its form.
    if g.get("owner_link_page") or request.path.startswith("/connect/"):
        response.headers.update(PRIVATE_HEADERS)
    return response


@bp.teardown_app_request
def _forget(_exc):
    g.pop("owner_link_page", None)


@bp.app_context_processor
def _accounts_helpers():
    # For the client page's accounts section (clients/_accounts.html).
    return {"owner_reconnect_offered": owner_link.reconnect_offered}


def _speak(language: str | None) -> None:
    g.force_locale = supported(language) or current_app.config["BABEL_DEFAULT_LOCALE"]
    refresh()


def owner_problem(code: int, title: str, message: str, *, token: str | None = None,
             agency_name: str = ""):
    return make_response(render_template(
        "networks/owner_problem.html", code=code, title=title, message=message,
        token=token, agency_name=agency_name), code)


def _refusal(refused: Refused):
    _speak(refused.language)  # the client's, when the link names one; else the default
    agency = refused.agency_name
    if refused.kind == "expired":
        return owner_problem(410, _("This link has expired"), _(
            "For your security, connection links only work for %(days)d days. Ask "
            "%(agency)s to send you a new one.", days=owner_link.LINK_MAX_AGE // 86400,
            agency=agency), agency_name=agency)
    if refused.kind in ("archived", "gone"):
        return owner_problem(410, _("This link is no longer valid"), _(
            "%(agency)s no longer uses it. Ask them for a new link if you still need to "
            "connect your accounts.", agency=agency), agency_name=agency)
    return owner_problem(refused.status, _("This link is not valid"), _(
        "It may not have been copied completely. Open it again from the e-mail you "
        "received, or ask the agency that manages your accounts for a new one."))


def owner_access(token: str) -> OwnerAccess:
    try:
        access = owner_link.resolve(token)
    except Refused as refused:
        abort(_refusal(refused))
    _speak(access.client.language)
    return access


@bp.errorhandler(CSRFError)
def _form_expired(_error):
    token = (request.view_args or {}).get("token")
    if token is None:  # a staff page: as everywhere else
        return render_template("errors/error.html", code=400, title=_("Your form expired"),
                               description=_("Please go back, reload the page and try "
                                             "again.")), 400
    as_link_holder()  # the CSRF check runs before this blueprint's own before_request
    try:
        access = owner_link.resolve(token)
    except Refused as refused:
        return _refusal(refused)
    _speak(access.client.language)
    return owner_problem(400, _("Your form expired"),
                    _("Go back to the page, reload it and try again."), token=token)


# --- the owner's pages --------------------------------------------------------------------

def _page(access: OwnerAccess, token: str, form: ConnectForm | None = None, status=200):
    if form is None:
        form = ConnectForm(formdata=None)
        if access.account is not None:
            form.handle.data = (access.account.settings or {}).get("handle") or ""
    accounts = list(db.session.scalars(select(SocialAccount).where(
        SocialAccount.client_id == access.client.id,
        SocialAccount.network.in_(access.networks)).order_by(SocialAccount.display_name)))
    return render_template("networks/owner_connect.html", access=access, token=token,
                           client=access.client, entries=owner_link.entries(access), form=form,
                           accounts=accounts, when=client_time), status


def _oauth_provider(access: OwnerAccess, network: str) -> oauth.Provider:
    provider = oauth.provider_for(network)
    if provider is None or not access.offers(network):
        abort(404)
    return provider


def _callback_url(network: str) -> str:
    return url_for("connect.callback", network=network, _external=True)


def owner_unavailable(access: OwnerAccess, provider: oauth.Provider, token: str):
    return owner_problem(409, _("%(network)s cannot be connected right now",
                           network=provider.display_name),
                    _("Connecting %(network)s from this link is not possible for now. "
                      "Tell %(agency)s: they will find another way with you.",
                      network=provider.display_name, agency=access.agency_name), token=token)


@bp.get("/connect/<token>")
@limiter.limit(PAGE_LIMIT)
def page(token: str):
    """Read only: opening the page changes nothing."""
    return _page(owner_access(token), token)


@bp.get("/connect/<token>/<network>/start")
@limiter.limit(PAGE_LIMIT)
def start(token: str, network: str):
    access = owner_access(token)
    provider = _oauth_provider(access, network)
    if not provider.configured():
        return owner_unavailable(access, provider, token)
    state, challenge = oauth.make_owner_state(
        provider, link_token=token, jti=access.link.jti, agency_id=access.link.agency_id,
        client_id=access.client.id)
    return redirect(provider.authorize_url(_callback_url(network), state, challenge), 302)


def pages_for_link(access: OwnerAccess, choices: list[oauth.Choice]) -> list[oauth.Choice]:
    """A reconnect link renews its one account: other pages are not its to add."""
    if access.account is None:
        return choices
    settings = access.account.settings or {}
    wanted = str(settings.get("external_id") or settings.get("page_id") or "")
    return [c for c in choices if c.external_id == wanted]


def owner_choose(access: OwnerAccess, token: str, provider: oauth.Provider,
            choices: list[oauth.Choice], sealed: str, error: str = "", status: int = 200):
    return render_template("networks/owner_choose.html", access=access, token=token,
                           client=access.client, provider=provider, choices=choices,
                           sealed=sealed, error=error), status


def _account_ids(access: OwnerAccess, network: str) -> set[uuid.UUID]:
    return set(db.session.scalars(select(SocialAccount.id).where(
        SocialAccount.client_id == access.client.id, SocialAccount.network == network)))


@bp.post("/connect/<token>/<network>/add")
@limiter.limit(WRITE_LIMIT)
def add(token: str, network: str):
    access = owner_access(token)
    provider = _oauth_provider(access, network)
    sealed = request.form.get("choices", "")
    try:
        choices = oauth.read_choices(sealed, network=network, agency_id=access.link.agency_id,
                                     client_id=access.client.id, user_id=access.binding)
    except oauth.OAuthError as error:
        return owner_problem(error.status, _("This sign-in cannot go on"), error.message,
                        token=token)
    picked = set(request.form.getlist("pages"))
    chosen = [c for c in pages_for_link(access, choices) if c.external_id in picked]
    try:
        with tenant_scope(access.link.agency_id):
            before = _account_ids(access, network)
            accounts = add_choices(access.client, network, chosen, via="owner_link",
                                   by=f"contact:{access.contact.id}")
            owner_link.connected(access, network, accounts, {a.id for a in accounts} & before)
    except ServiceError as error:
        db.session.rollback()
        return owner_choose(access, token, provider, choices, sealed, error.message, 422)
    db.session.commit()
    flash(_("Done: %(network)s is connected (%(names)s). %(agency)s has been told. You can "
            "close this page.", network=provider.display_name, agency=access.agency_name,
            names=", ".join(a.display_name for a in accounts)), "success")
    return redirect(url_for("owner_connect.page", token=token), 303)


@bp.post("/connect/<token>/bluesky")
@limiter.limit(WRITE_LIMIT)
def bluesky(token: str):
    access = owner_access(token)
    if not access.offers(BLUESKY):
        abort(404)
    form = ConnectForm()
    if form.validate_on_submit():
        try:
            with tenant_scope(access.link.agency_id):
                account, again = connect_bluesky.connect_account(
                    access.client, form.handle.data or "", form.app_password.data or "",
                    access.account, via="owner_link", by=f"contact:{access.contact.id}")
                owner_link.connected(access, BLUESKY, [account], {account.id} if again else set())
        except ServiceError as error:
            db.session.rollback()
            apply_service_error(form, error)
        else:
            db.session.commit()
            flash(_("Done: Bluesky is connected (%(names)s). %(agency)s has been told. You "
                    "can close this page.", names=account.handle, agency=access.agency_name),
                  "success")
            return redirect(url_for("owner_connect.page", token=token), 303)
    return _page(access, token, form, 422)


# --- the agency's side: sending a link ----------------------------------------------------

def _archived(client):
    if client.is_archived:
        flash(_("This client is archived. Restore it before making changes."), "error")
        return redirect(url_for("clients.show", client_id=client.id), 303)
    return None


def _send_form(client, account: SocialAccount | None):
    contacts = list(db.session.scalars(select(Contact).where(
        Contact.client_id == client.id).order_by(Contact.name)))
    error, picked = None, {"contact": "", "networks": []}
    if request.method == "POST":
        picked = {"contact": request.form.get("contact", ""),
                  "networks": request.form.getlist("networks")}
        contact = next((c for c in contacts if str(c.id) == picked["contact"]), None)
        networks = ANY if ANY in picked["networks"] else picked["networks"]
        try:
            owner_link.send_link(client, contact, networks, account=account,
                                 sender=current_user.name)
        except ServiceError as refused:
            db.session.rollback()
            error = refused
        else:
            db.session.commit()
            flash(_("Link sent to %(name)s (%(email)s). It works for %(days)d days.",
                    name=contact.name, email=contact.email,
                    days=owner_link.LINK_MAX_AGE // 86400), "success")
            return redirect(url_for("clients.show", client_id=client.id, _anchor="accounts"),
                            303)
    networks = [(n, owner_link.network_label(n), owner_link.available(n))
                for n in owner_link.connectable()]
    return render_template("networks/owner_send.html", client=client, account=account,
                           contacts=contacts, networks=networks, error=error, picked=picked,
                           ANY=ANY, days=owner_link.LINK_MAX_AGE // 86400), \
        422 if error else 200


@bp.route("/clients/<uuid:client_id>/owner-link", methods=["GET", "POST"])
@require(Permission.CLIENT_EDIT)
def send(client_id: uuid.UUID):
    client = client_for_view(client_id)
    return _archived(client) or _send_form(client, None)


@bp.route("/clients/<uuid:client_id>/accounts/<uuid:account_id>/owner-link",
          methods=["GET", "POST"])
@require(Permission.CLIENT_EDIT)
def send_reconnect(client_id: uuid.UUID, account_id: uuid.UUID):
    client = client_for_view(client_id)
    account = tenant_get(SocialAccount, account_id)
    if account.client_id != client.id:
        abort(404)
    return _archived(client) or _send_form(client, account)

"""The client area: a signed-in contact's pages, in their client's language.

- what waits for their decision (the portal's cards, with per-network previews), with
  approve, request changes and approve all, through the portal's own approval services,
  so a decision is bound to the revision shown (a changed post needs a new decision, a
  replay is refused with 409);
- their past decisions;
- switching to another client they are a contact of;
- the signed invitation link that sets up the sign-in.

Every page reads the contact's own client only; staff sessions get 404 here.
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
from flask_babel import ngettext
from flask_login import current_user

from agency.approvals.portal import PRIVATE_HEADERS, DecisionForm, State, shown_posts
from agency.approvals.services import (
    Conflict,
    approve_all,
    client_time,
    decide,
    notify_agency_of_decisions,
)
from agency.auth.links import LinkError
from agency.auth.services import ServiceError
from agency.auth.sessions import switch_contact
from agency.extensions import db, limiter
from agency.forms import apply_service_error
from tenants.context import current_agency

from . import queries, services
from .forms import ChoosePasswordForm, ExistingAccountForm
from .guard import (
    confine_contact_sessions,
    contact_required,
    current_area,
    forget_contact,
    speak,
)

bp = Blueprint("clientarea", __name__, url_prefix="/client-area")
bp.before_app_request(confine_contact_sessions)
bp.teardown_app_request(forget_contact)


def _problem(code: int, title: str, message: str, *, back: bool = True):
    return make_response(render_template("clientarea/problem.html", code=code, title=title,
                                         message=message, back=back), code)


def _layout(**context) -> dict:
    """What every client-area page shows around its content."""
    contact, client = current_area()
    areas = queries.client_areas(current_user._get_current_object())
    return {"contact": contact, "client": client, "agency_name": current_agency.name,
            "areas": areas, "when": client_time, "media_src": _media_src, **context}


def _media_src(media, thumb: bool) -> str:
    return url_for("clientarea.media_thumb" if thumb else "clientarea.media", media_id=media.id)


def _waiting_page(*, failed: tuple[uuid.UUID, DecisionForm] | None = None,
                  status: int = 200):
    contact, client = current_area()
    cards = queries.waiting_cards(contact, client)
    return render_template("clientarea/index.html", cards=cards, failed=failed, State=State,
                           **_layout()), status


def _back(post_id: uuid.UUID | None = None):
    anchor = f"post-{post_id}" if post_id else None
    return redirect(url_for("clientarea.index", _anchor=anchor), code=303)


# --- reading ------------------------------------------------------------------------------

@bp.get("")
@contact_required
def index():
    """What waits for this contact's decision. Read only."""
    return _waiting_page()


@bp.get("/decisions")
@contact_required
def history():
    contact, _client = current_area()
    return render_template("clientarea/history.html", past=queries.past_decisions(contact),
                           **_layout())


# --- deciding -----------------------------------------------------------------------------

@bp.post("/posts/<uuid:post_id>/decide")
@contact_required
def decide_on_post(post_id: uuid.UUID):
    contact, client = current_area()
    form = DecisionForm()
    # Found first: a post that is not theirs is a 404 whatever was posted with it.
    access = queries.access_for_post(contact, client, post_id, form.content_hash.data or "")
    if access is None:  # not a post of an open request of this contact's client
        abort(404)
    if not form.validate_on_submit():
        if form.errors.keys() <= {"comment"}:
            return _waiting_page(failed=(post_id, form), status=422)
        abort(400)  # hidden fields are not a person's input: a forged or broken form
    approve = form.decision.data == "approve"
    try:
        decision = decide(access, post_id, approve=approve, shown_hash=form.content_hash.data,
                          comment=form.comment.data or "")
    except Conflict as conflict:
        db.session.rollback()
        return _problem(409, _("This post cannot be decided on here any more"),
                        conflict.message)
    except ServiceError as refused:
        db.session.rollback()
        form.comment.errors = [refused.message]
        return _waiting_page(failed=(post_id, form), status=422)
    notify_agency_of_decisions(access, [decision])
    db.session.commit()
    if approve:
        flash(_("Approved. Thank you!"), "success")
    else:
        flash(_("Your request was sent to the agency. They will send you the post again "
                "once it is changed."), "success")
    return _back(post_id)


@bp.post("/approve-all")
@contact_required
def approve_all_posts():
    contact, client = current_area()
    shown = shown_posts()
    # The posts may have been sent in several requests: each is approved through its own,
    # by the portal's service, which leaves out any post changed or decided meanwhile.
    by_request: dict[uuid.UUID, tuple] = {}
    for post_id, shown_hash in shown.items():
        access = queries.access_for_post(contact, client, post_id, shown_hash)
        if access is None:
            continue
        by_request.setdefault(access.request.id, (access, {}))[1][post_id] = shown_hash
    decisions = []
    try:
        for access, pairs in by_request.values():
            decisions += approve_all(access, pairs)
    except Conflict as conflict:
        db.session.rollback()
        return _problem(409, _("This post cannot be decided on here any more"),
                        conflict.message)
    if by_request:
        notify_agency_of_decisions(next(iter(by_request.values()))[0], decisions)
    db.session.commit()
    left = len(shown) - len(decisions)
    if decisions:
        flash(ngettext("%(num)d post approved. Thank you!", "%(num)d posts approved. Thank you!",
                       len(decisions)), "success")
    if left > 0:
        flash(ngettext("%(num)d post changed or was already decided: look at it below.",
                       "%(num)d posts changed or were already decided: look at them below.",
                       left), "info")
    return _back()


@bp.get("/media/<uuid:media_id>")
@contact_required
def media(media_id: uuid.UUID):
    """An image or video of a post waiting for this contact's decision (else 404)."""
    return _serve_waiting_media(media_id, thumb=False)


@bp.get("/media/<uuid:media_id>/thumb")
@contact_required
def media_thumb(media_id: uuid.UUID):
    return _serve_waiting_media(media_id, thumb=True)


def _serve_waiting_media(media_id: uuid.UUID, *, thumb: bool):
    from agency.media.routes import serve

    contact, client = current_area()
    found = queries.waiting_media(contact, client, media_id)
    if found is None:
        abort(404)
    return serve(found, thumb=thumb)


# --- switching client ----------------------------------------------------------------------

@bp.post("/switch")
@contact_required
def switch():
    try:
        chosen = uuid.UUID(request.form.get("contact_id", ""))
    except ValueError:
        abort(404)
    areas = queries.client_areas(current_user._get_current_object())
    area = next((a for a in areas if a.contact.id == chosen), None)
    if area is None:  # not one of theirs: the same answer as an unknown contact
        abort(404)
    switch_contact(area.contact)
    return redirect(url_for("clientarea.index"), code=303)


# --- setting up the sign-in ----------------------------------------------------------------

@bp.after_app_request
def _private(response):
    # The invitation's token is in its URL: no Referer, no indexing, no cache. Registered
    # on the app before Talisman, so it runs after Talisman's own Referrer-Policy and wins.
    if request.endpoint == "clientarea.accept":
        response.headers.update(PRIVATE_HEADERS)
    return response


def _link_problem(token: str, error: LinkError):
    client = services.link_owner(token)
    if client is not None:
        speak(client.language)
    if error is LinkError.EXPIRED and client is not None:
        return _problem(410, _("This invitation has expired"), _(
            "Invitations are valid for a limited time. Ask the agency that manages your "
            "posts to send you a new one."), back=False)
    return _problem(400, _("This invitation cannot be used"), _(
        "It has already been used or withdrawn, or the link was not copied completely. "
        "If you already set up your sign-in, sign in; otherwise ask the agency for a new "
        "invitation."), back=False)


@bp.route("/invitation/<token>", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])  # an existing account's password is tried
def accept(token: str):
    invitation = services.invitation_for_token(token)
    if isinstance(invitation, LinkError):
        return _link_problem(token, invitation)
    speak(invitation.client.language)
    has_account = invitation.existing_user is not None
    form = ExistingAccountForm() if has_account else ChoosePasswordForm()
    page = {"invitation": invitation, "has_account": has_account, "form": form}
    if request.method == "GET":
        return render_template("clientarea/accept.html", **page)
    if form.validate():
        try:
            user = services.accept_sign_in(invitation, form.password.data)
        except ServiceError as error:
            db.session.rollback()
            apply_service_error(form, error)
        else:
            from agency.auth.routes import begin_contact_session

            begin_contact_session(user, invitation.contact)
            db.session.commit()
            flash(_("Welcome to your client area."), "success")
            return redirect(url_for("clientarea.index"), code=303)
    return render_template("clientarea/accept.html", **page), 422

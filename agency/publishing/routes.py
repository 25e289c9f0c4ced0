"""The agency's view of publishing: the health page (what went out, what is on its way,
and what needs a person), and the two things a person can do about a publication: try
it again, or record that it is on the network after all.

Actions load the publication with ``tenant_get``, then its client through
``client_for_view`` (404 for a foreign or unassigned one), check ``CLIENT_EDIT``, act
through ``agency.publishing.services`` and commit once. A refusal is flashed on the page
the person came from (409 or 422 with the message for htmx and JSON callers).
"""

from __future__ import annotations

import logging
import uuid

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy.exc import SQLAlchemyError

from agency.access import can, client_for_view, current_membership, require
from agency.auth.services import ServiceError
from agency.content.forms import local_time, network_name
from agency.extensions import db
from agency.main.routes import safe_next
from tenants.roles import Permission
from tenants.scoping import tenant_get

from . import queries, services, words
from .models import Publication

bp = Blueprint("publishing", __name__)
log = logging.getLogger(__name__)


def safe_link(url: str | None) -> str | None:
    """A link to the publication on its network, if it is one a browser may follow
    safely (a web address, or a page of Relais itself such as the sandbox feed)."""
    url = (url or "").strip()
    if url.startswith(("https://", "http://")) or (url.startswith("/")
                                                    and not url.startswith("//")):
        return url
    return None


def _signed_in() -> bool:
    return g.get("membership") is not None


@bp.app_context_processor
def _publishing_helpers():
    # Functions, not values: a page pays for a query only if its template asks.
    return {"publishing_attention": _badge, "publication_state_label": words.state_label,
            "publication_reason": words.reason, "publication_advice": words.advice,
            "publication_link": safe_link, "publication_retryable": queries.retryable,
            "publication_markable": queries.markable}


def _badge() -> int:
    if not _signed_in():
        return 0
    try:
        return queries.attention_count()
    except SQLAlchemyError:
        # The error page itself may be showing that the database is unwell: the badge
        # must not turn it into a second failure.
        log.warning("publishing badge unavailable", exc_info=True)
        return 0


# --- the health page ---------------------------------------------------------------------

@bp.get("/publishing")
@require()
def health():
    report = queries.health(current_membership())
    return render_template("publishing/health.html", health=report, local_time=local_time,
                           network_name=network_name, DUE_SOON_HOURS=int(
                               queries.DUE_SOON.total_seconds() // 3600))


# --- a person's actions ------------------------------------------------------------------

def _publication_and_client(publication_id: uuid.UUID):
    publication = tenant_get(Publication, publication_id)
    client = client_for_view(publication.client_id)
    if not can(Permission.CLIENT_EDIT):
        abort(403)
    return publication, client


def _back(publication: Publication) -> str:
    default = url_for("posts.show", post_id=publication.post_id, _anchor="publishing")
    return safe_next(request.form.get("next"), default)


def _wants_json() -> bool:
    return request.is_json or request.accept_mimetypes.best == "application/json"


def _partial() -> bool:
    return request.headers.get("HX-Request") == "true"


def _refused(error: ServiceError, back: str):
    """Nothing was changed: say why where the person is."""
    db.session.rollback()
    # A field names bad input (422); otherwise the publication is not in a state that
    # allows it (409).
    status = 422 if error.field else 409
    if _wants_json():
        return jsonify({"error": error.message, "field": error.field}), status
    if _partial():
        response = make_response(render_template("publishing/_refused.html",
                                                 message=error.message), status)
        response.headers["HX-Reswap"] = "innerHTML"
        return response
    flash(error.message, "error")
    return redirect(back, 303)


def _done(message: str, back: str, publication: Publication):
    if _wants_json():
        return jsonify({"id": str(publication.id), "state": publication.state.value})
    flash(message, "success")
    if _partial():
        response = make_response("", 204)
        response.headers["HX-Refresh"] = "true"
        return response
    return redirect(back, 303)


@bp.post("/publications/<uuid:publication_id>/retry")
@require()
def retry(publication_id: uuid.UUID):
    publication, client = _publication_and_client(publication_id)
    back = _back(publication)
    account = publication.account.display_name
    try:
        if client.is_archived:
            raise ServiceError(_("This client is archived. Restore it before making "
                                 "changes."))
        if not queries.is_current(publication):
            raise ServiceError(_("This publication belongs to an earlier version of the "
                                 "post, or was replaced by a later one: nothing to retry."))
        services.retry(publication)
    except ServiceError as error:
        return _refused(error, back)
    db.session.commit()
    return _done(_("%(account)s: it will be tried again in a moment.", account=account),
                 back, publication)


def _given_url() -> str:
    if request.is_json:
        body = request.get_json(silent=True)
        return str(body.get("url") or "") if isinstance(body, dict) else ""
    return request.form.get("url", "")


@bp.post("/publications/<uuid:publication_id>/mark-published")
@require()
def mark_published(publication_id: uuid.UUID):
    publication, _client = _publication_and_client(publication_id)
    back = _back(publication)
    account = publication.account.display_name
    try:
        if not queries.is_current(publication):
            raise ServiceError(_("This publication belongs to an earlier version of the "
                                 "post, or was replaced by a later one."))
        services.mark_published(publication, _given_url())
    except ServiceError as error:
        return _refused(error, back)
    db.session.commit()
    return _done(_("%(account)s: marked as published.", account=account), back, publication)

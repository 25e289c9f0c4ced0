"""The /api/v1 blueprint: every request is authenticated, every body is JSON, every
error is problem+json, and URL ids become tenant-scoped objects before a view runs.

Order for each request: 401 (token) → 413/415 (body) → 404 (``with_client`` /
``with_contact``, so nothing tells an unassigned member what they may not do there) →
403 (``require``) → 400/422 (body fields) → the view.
"""

from __future__ import annotations

import functools
import logging

from flask import Blueprint as FlaskBlueprint
from flask import abort, current_app, g, request
from flask_babel import gettext as _
from flask_smorest import Blueprint
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge, UnsupportedMediaType

from agency.access import client_for_view
from agency.auth.services import ServiceError
from agency.clients.models import Contact
from agency.extensions import db
from tenants.scoping import tenant_get_or_none

from .auth import authenticate
from .problems import problem_from_http_exception, problem_response

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api/v1",
               description="Relais JSON API, version 1.")

_BODY_METHODS = {"POST", "PUT", "PATCH"}
PUBLIC_ENDPOINTS = {"api.openapi_json"}
# Endpoints whose body is a multipart upload rather than JSON, with their own size limit
# (registered by their modules). Their view checks the form's type once the URL's
# objects are known to be visible, so a foreign id still answers 404 first.
UPLOAD_LIMITS: dict[str, int] = {}


@bp.before_request
def _authenticate_and_check_body():
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    authenticate()
    if request.method in _BODY_METHODS:
        _check_body()


def _check_body() -> None:
    upload_limit = UPLOAD_LIMITS.get(request.endpoint)
    if upload_limit is not None:
        request.max_content_length = upload_limit  # before anything reads the body
    limit = upload_limit or current_app.config.get("MAX_CONTENT_LENGTH")
    length = request.content_length
    if limit is not None and length is not None and length > limit:
        raise RequestEntityTooLarge()
    if upload_limit is not None:
        return
    has_body = bool(length) or "chunked" in request.headers.get("Transfer-Encoding", "")
    if has_body and not request.is_json:
        raise UnsupportedMediaType(_("Send the request body as application/json."))


@bp.teardown_request
def _forget_user(_exc):
    # g outlives the request when an app context was already pushed (tests, commands):
    # the next request must not inherit this token's user.
    g.pop("_login_user", None)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    return problem_from_http_exception(error)


@bp.errorhandler(ServiceError)
def _refused(error: ServiceError):
    db.session.rollback()  # a service may have flushed part of the write
    return problem_response(422, _("Some fields are missing or not valid."),
                            errors={error.field or "_schema": [error.message]})


@bp.errorhandler(IntegrityError)
def _conflict(error: IntegrityError):
    # A concurrent change (say, the client deleted while a contact is added) broke a
    # constraint: the request may be retried once the caller has looked again.
    log.info("API write conflict on %s %s: %s", request.method, request.path, error.orig)
    db.session.rollback()
    return problem_response(409, _("This conflicts with the current state. Reload and retry."))


def with_client(view):
    """Replace the ``client_id`` URL argument by the client (404 if not visible)."""

    @functools.wraps(view)
    def wrapper(*args, client_id, **kwargs):
        return view(*args, client=client_for_view(client_id), **kwargs)

    return wrapper


def with_contact(view):
    """Replace ``client_id`` and ``contact_id`` by the client and its contact (else 404)."""

    @functools.wraps(view)
    def wrapper(*args, client_id, contact_id, **kwargs):
        client = client_for_view(client_id)
        contact = tenant_get_or_none(Contact, contact_id)
        if contact is None or contact.client_id != client.id:
            abort(404)
        return view(*args, client=client, contact=contact, **kwargs)

    return wrapper


def _openapi_json():
    return current_app.extensions["relais_api"].spec.to_dict()


# Plain Flask registration: the document is public and does not describe itself.
FlaskBlueprint.add_url_rule(bp, "/openapi.json", "openapi_json", _openapi_json)

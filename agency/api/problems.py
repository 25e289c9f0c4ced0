"""Errors as RFC 9457 problem details (application/problem+json).

``problem_response`` is also what ``agency.web`` answers with for any error under /api/
that happens outside the API's views (unknown routes, wrong methods); the API's own
handlers below add what only they know: validation messages and challenge headers.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import has_request_context, jsonify, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

PROBLEM_MIMETYPE = "application/problem+json"


def problem_response(status: int, detail: str | None = None, *, headers=None, **extra):
    body = {
        "type": "about:blank",
        "title": HTTP_STATUS_CODES.get(status, "Error"),
        "status": status,
    }
    if detail:
        body["detail"] = str(detail)
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM_MIMETYPE
    for name, value in _routing_headers(status):
        response.headers[name] = value
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _routing_headers(status: int) -> list[tuple[str, str]]:
    # A 405 raised while matching the URL reaches the app-wide handler, which passes only
    # the status; the Allow header it must carry lives on the routing exception.
    if not has_request_context():
        return []
    routed = request.routing_exception
    if isinstance(routed, HTTPException) and routed.code == status:
        return _challenge_headers(routed)
    return []


def _challenge_headers(error: HTTPException) -> list[tuple[str, str]]:
    """Allow, WWW-Authenticate, Retry-After...: every header but the HTML content type."""
    return [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]


def flatten_messages(messages, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as ``{"field.sub": ["message", ...]}``."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for field, texts in flatten_messages(value, name).items():
                out.setdefault(field, []).extend(texts)
    elif isinstance(messages, list | tuple):
        for item in messages:
            if isinstance(item, Mapping):
                for field, texts in flatten_messages(item, prefix).items():
                    out.setdefault(field, []).extend(texts)
            else:
                out.setdefault(prefix or "_schema", []).append(str(item))
    else:
        out.setdefault(prefix or "_schema", []).append(str(messages))
    return out


def problem_from_http_exception(error: HTTPException):
    """A problem response for an error raised inside the API (aborts and webargs errors)."""
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    detail = data.get("message") or error.description
    extra = {}
    messages = data.get("errors") or data.get("messages")
    if messages:
        # webargs namespaces messages by location ({"json": {...}}); callers care about
        # the field, and each request body or query string has one location.
        by_location = messages if isinstance(messages, Mapping) else {"": messages}
        flat: dict[str, list[str]] = {}
        for location_messages in by_location.values():
            for field, texts in flatten_messages(location_messages).items():
                flat.setdefault(field, []).extend(texts)
        if status == 422:
            extra["errors"] = flat
            detail = _("Some fields are missing or not valid.")
        elif status == 400:
            detail = _("The request body is not valid JSON.")
    response = problem_response(status, detail, **extra)
    for name, value in _challenge_headers(error):
        response.headers[name] = value
    for name, value in (data.get("headers") or {}).items():
        response.headers[name] = value
    return response

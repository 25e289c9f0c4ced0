"""Request plumbing shared by every HTML page: error pages, template helpers, teardown."""

from __future__ import annotations

import logging

from flask import Flask, g, render_template, request
from flask_babel import format_date, format_datetime, get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from tenants.context import clear_tenant, current_agency
from tenants.roles import Permission

from .access import can
from .extensions import db, login_manager

log = logging.getLogger(__name__)

ERROR_TITLES = {
    400: _l("This request could not be understood"),
    401: _l("Please sign in"),
    403: _l("You do not have access to this"),
    404: _l("Page not found"),
    405: _l("This action is not allowed here"),
    409: _l("This was already done"),
    410: _l("This link is no longer valid"),
    413: _l("What you sent is too large"),
    415: _l("This type of file is not accepted"),
    422: _l("Some fields need attention"),
    429: _l("Too many attempts. Please wait a minute and try again."),
    500: _l("Something went wrong on our side"),
    503: _l("Relais is not available right now"),
}


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to see this page.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = None  # the server-side session already binds the cookie

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if _wants_json():
            from .api.problems import problem_response

            return problem_response(error.code or 500, error.description)
        code = error.code or 500
        title = ERROR_TITLES.get(code, error.name)
        description = getattr(error, "relais_message", None)
        return render_template("errors/error.html", code=code, title=title,
                               description=description), code

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        if _wants_json():
            from .api.problems import problem_response

            return problem_response(400, error.description)
        return render_template(
            "errors/error.html", code=400, title=_l("Your form expired"),
            description=_l("Please go back, reload the page and try again."),
        ), 400

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        if _wants_json():
            from .api.problems import problem_response

            return problem_response(500, "An unexpected error occurred.")
        return render_template("errors/error.html", code=500, title=ERROR_TITLES[500]), 500

    @app.teardown_request
    def _forget_tenant(_exc):
        # An app context can outlive a request (tests, CLI): nothing of one request's
        # principal may carry into the next.
        for key in ("membership", "visible_clients", "_login_user", "_flask_babel",
                    "force_locale"):
            g.pop(key, None)
        clear_tenant()

    @app.context_processor
    def _helpers():
        return {"can": can, "Permission": Permission, "membership": g.get("membership"),
                "get_locale": get_locale, "current_agency": current_agency}

    # Mail bodies are rendered outside of page templates too; these read the locale.
    app.jinja_env.globals.update(format_datetime=format_datetime, format_date=format_date)

    _check_database_role_once(app)


def _check_database_role_once(app: Flask) -> None:
    """Check the database role on the first request of each process (never in the factory)."""
    from tenants.rls import UnsafeDatabaseRole, check_app_role

    state = {"problems": None}

    @app.before_request
    def _check():
        if state["problems"] is None:
            try:
                state["problems"] = check_app_role(db.engine, app.config["PRODUCTION"])
            except UnsafeDatabaseRole as refused:
                log.critical("%s", refused)
                state["problems"] = ["refused"]
        if state["problems"] == ["refused"]:
            return render_template("errors/error.html", code=503,
                                   title=ERROR_TITLES[503]), 503
        return None

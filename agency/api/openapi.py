"""The OpenAPI document: flask-smorest, with errors documented as problem+json."""

from __future__ import annotations

import http

from flask_smorest import Api
from flask_smorest.utils import prepare_response

from .problems import PROBLEM_MIMETYPE
from .schemas import ProblemSchema

SECURITY_SCHEME = "bearerAuth"


class RelaisApi(Api):
    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self):
        # flask-smorest would take over every HTTP error of the whole app (HTML pages
        # included). The API blueprint registers its own problem+json handlers instead.
        pass

    def _register_responses(self):
        """Named error responses (``NOT_FOUND``...) described as problem+json, not JSON."""
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_MIMETYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "An error, as problem details", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_MIMETYPE)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, response, lazy=True)


def documents(blp, *statuses: int):
    """Decorator: the view may answer these error statuses (documented as problems)."""

    def decorator(func):
        for status in statuses:
            func = blp.alt_response(status, response=http.HTTPStatus(status).name)(func)
        return func

    return decorator


def declare_security(api: Api) -> None:
    api.spec.components.security_scheme(SECURITY_SCHEME, {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token created in Relais (Settings → API tokens): "
                       "`Authorization: Bearer rls_...`.",
    })

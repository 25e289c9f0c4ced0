"""The /api/v1 JSON API and its OpenAPI document (served at /api/v1/openapi.json)."""

from __future__ import annotations

from flask import Flask

from agency.extensions import csrf

from .openapi import SECURITY_SCHEME, RelaisApi, declare_security

TAGS = (
    ("me", "The token's owner and permissions."),
    ("clients", "Client workspaces: the small businesses the agency works for."),
    ("contacts", "A client's people, and who approves posts."),
    ("accounts", "A client's accounts on the social networks."),
    ("posts", "Posts: drafts, revisions, comments, submission."),
    ("media", "A client's media library: the images and videos posts carry."),
    ("approvals", "Internal review, and approval requests sent to the client."),
    ("publishing", "Where approved posts went out, per network account."),
    ("results", "What the posts achieved: figures per client and period."),
)


def init_app(app: Flask) -> RelaisApi:
    from . import (  # noqa: F401 - routes join the blueprint
        accounts,
        clients,
        contacts,
        me,
        media,
        posts,
        publications,
        results,
    )
    from .blueprint import bp

    app.config.setdefault("API_SPEC_OPTIONS", {
        "security": [{SECURITY_SCHEME: []}],
        "info": {"description": "Relais, for agencies: clients and their contacts. "
                               "Errors are application/problem+json (RFC 9457)."},
    })
    api = RelaisApi(app)
    declare_security(api)
    # Bearer tokens only, never cookies: there is no ambient credential to forge with.
    csrf.exempt(bp)
    api.register_blueprint(bp)
    for name, description in TAGS:
        api.spec.tag({"name": name, "description": description})
    app.extensions["relais_api"] = api
    return api

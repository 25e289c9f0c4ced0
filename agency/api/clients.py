"""Client workspaces: list, create, read, change, archive and restore."""

from __future__ import annotations

from flask import abort, url_for
from flask.views import MethodView

from agency.access import can, current_membership, require
from agency.clients import services
from agency.extensions import db
from tenants.roles import Permission

from .blueprint import bp, with_client
from .openapi import documents
from .queries import LINK_HEADER_DOC, Page, client_page, link_header
from .schemas import (
    ClientCreateSchema,
    ClientListQuerySchema,
    ClientPageSchema,
    ClientSchema,
    ClientUpdateSchema,
)

_LINK_HEADER = LINK_HEADER_DOC
_LOCATION_HEADER = {"Location": {"description": "The new client's URL.",
                                 "schema": {"type": "string"}}}


def _links(page: Page, args: dict) -> str:
    def url(number: int) -> str:
        query = {"page": number, "per_page": page.per_page,
                 "archived": "true" if args["archived"] else "false"}
        if args.get("q"):
            query["q"] = args["q"]
        return url_for("api.Clients", _external=True, **query)

    return link_header(page, url)


@bp.route("/clients", tags=["clients"])
class Clients(MethodView):
    @bp.arguments(ClientListQuerySchema, location="query")
    @bp.response(200, ClientPageSchema, headers=_LINK_HEADER)
    @documents(bp, 401)
    def get(self, args):
        """The clients this token may see, by name

        Archived clients are listed only with `archived=true`. A member sees only the
        clients they are assigned to.
        """
        page = client_page(current_membership(), archived=args["archived"], q=args.get("q"),
                           page=args["page"], per_page=args["per_page"])
        return page, {"Link": _links(page, args)}

    @require(Permission.CLIENT_CREATE)
    @bp.arguments(ClientCreateSchema)
    @bp.response(201, ClientSchema, headers=_LOCATION_HEADER)
    @documents(bp, 400, 401, 403, 413, 415)
    def post(self, data):
        """Create a client workspace

        With billing on, the workspace joins the agency's subscription at once (with
        proration); the clients pages show that cost before confirming, the API does not.
        """
        plan = data.pop("plan", None)
        if plan is not None and not can(Permission.BILLING_MANAGE):
            abort(403)
        client = services.create_client(data, plan=plan)
        db.session.commit()
        return client, {"Location": url_for("api.ClientItem", client_id=client.id,
                                            _external=True)}


@bp.route("/clients/<uuid:client_id>", tags=["clients"])
class ClientItem(MethodView):
    @with_client
    @bp.response(200, ClientSchema)
    @documents(bp, 401, 404)
    def get(self, client):
        """One client"""
        return client

    @with_client
    @require(Permission.CLIENT_EDIT)
    @bp.arguments(ClientUpdateSchema)
    @bp.response(200, ClientSchema)
    @documents(bp, 400, 401, 403, 404, 413, 415)
    def patch(self, data, client):
        """Change some of a client's fields (only those sent)"""
        services.update_client(client, data)
        db.session.commit()
        return client


@bp.route("/clients/<uuid:client_id>/archive", tags=["clients"])
class ClientArchive(MethodView):
    @with_client
    @require(Permission.CLIENT_ARCHIVE)
    @bp.response(200, ClientSchema)
    @documents(bp, 401, 403, 404)
    def post(self, client):
        """Archive a client (idempotent)"""
        services.archive_client(client)
        db.session.commit()
        return client


@bp.route("/clients/<uuid:client_id>/restore", tags=["clients"])
class ClientRestore(MethodView):
    @with_client
    @require(Permission.CLIENT_ARCHIVE)
    @bp.response(200, ClientSchema)
    @documents(bp, 401, 403, 404)
    def post(self, client):
        """Restore an archived client (idempotent)"""
        services.restore_client(client)
        db.session.commit()
        return client

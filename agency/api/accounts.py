"""A client's accounts on the social networks: the places its posts go out."""

from __future__ import annotations

from flask.views import MethodView
from sqlalchemy import select

from agency.access import require
from agency.clients.models import Client
from agency.extensions import db
from agency.networks import services
from agency.networks.models import SocialAccount
from tenants.roles import Permission

from .blueprint import bp, with_client
from .openapi import documents
from .post_schemas import AccountCreateSchema, AccountSchema


def accounts_of(client: Client) -> list[SocialAccount]:
    return list(db.session.scalars(
        select(SocialAccount).where(SocialAccount.client_id == client.id)
        .order_by(SocialAccount.network, SocialAccount.display_name, SocialAccount.id)
    ))


@bp.route("/clients/<uuid:client_id>/accounts", tags=["accounts"])
class Accounts(MethodView):
    @with_client
    @bp.response(200, AccountSchema(many=True))
    @documents(bp, 401, 404)
    def get(self, client):
        """The client's social accounts, by network and name"""
        return accounts_of(client)

    @with_client
    @require(Permission.CLIENT_EDIT)
    @bp.arguments(AccountCreateSchema)
    @bp.response(201, AccountSchema)
    @documents(bp, 400, 401, 403, 404, 413, 415)
    def post(self, data, client):
        """Add a sandbox account

        The built-in `sandbox` network publishes inside Relais, for demonstrations and
        tests. Accounts on real networks are connected through their own sign-in, which
        is not available yet (422).
        """
        account = services.add_account(client, data["network"], data["display_name"],
                                       data["handle"])
        db.session.commit()
        return account

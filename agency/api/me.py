"""Who the token belongs to and what it may do."""

from __future__ import annotations

from flask.views import MethodView
from flask_login import current_user

from agency.access import current_membership
from tenants.models import Agency
from tenants.roles import ROLE_PERMISSIONS
from tenants.scoping import tenant_get

from .blueprint import bp
from .openapi import documents
from .schemas import MeSchema


@bp.route("/me", tags=["me"])
class Me(MethodView):
    @bp.response(200, MeSchema)
    @documents(bp, 401)
    def get(self):
        """The token's user, agency, membership and permissions"""
        membership = current_membership()
        return {
            "user": current_user,
            "agency": tenant_get(Agency, membership.agency_id),
            "membership": membership,
            "permissions": sorted(ROLE_PERMISSIONS[membership.role]),
        }

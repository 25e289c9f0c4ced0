"""What the API reads and writes. Request schemas refuse unknown fields (marshmallow's
default ``RAISE``) so a typo is a 422, never a silently ignored value."""

from __future__ import annotations

from datetime import UTC

import marshmallow as ma
from flask import current_app
from flask_babel import gettext as _
from marshmallow import fields, validate

from agency.clients.services import LANGUAGES, valid_timezone
from billing.plans import PLANS
from tenants.roles import Permission, Role

DEFAULT_PER_PAGE = 20


class UTCDateTime(fields.DateTime):
    """ISO 8601 with an offset on every backend (SQLite hands back naive UTC values)."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return super()._serialize(value, attr, obj, **kwargs)


def _timezone(value: str) -> None:
    if not valid_timezone(value):
        raise ma.ValidationError(_("Unknown timezone: use an IANA name such as Europe/Paris."))


# --- problems ---------------------------------------------------------------------------

class ProblemSchema(ma.Schema):
    """RFC 9457 problem details."""

    type = fields.String(metadata={"description": "A URI naming the problem type."})
    title = fields.String(metadata={"description": "The HTTP status phrase."})
    status = fields.Integer()
    detail = fields.String(metadata={"description": "What went wrong, for a person."})
    errors = fields.Dict(
        keys=fields.String(), values=fields.List(fields.String()),
        metadata={"description": "422 only: the messages for each refused field."},
    )


# --- me ---------------------------------------------------------------------------------

class UserSchema(ma.Schema):
    id = fields.UUID()
    email = fields.String()
    name = fields.String()
    locale = fields.String(allow_none=True)


class AgencySchema(ma.Schema):
    id = fields.UUID()
    name = fields.String()


class MembershipSchema(ma.Schema):
    id = fields.UUID()
    role = fields.Enum(Role, by_value=True)


class MeSchema(ma.Schema):
    user = fields.Nested(UserSchema)
    agency = fields.Nested(AgencySchema)
    membership = fields.Nested(MembershipSchema)
    permissions = fields.List(fields.Enum(Permission, by_value=True))


# --- clients ----------------------------------------------------------------------------

_NAME = validate.Length(min=1, max=120)


class ClientSchema(ma.Schema):
    id = fields.UUID()
    name = fields.String()
    timezone = fields.String()
    language = fields.String(validate=validate.OneOf(LANGUAGES))
    brand_tone = fields.String()
    brand_words_use = fields.String()
    brand_words_avoid = fields.String()
    brand_hashtags = fields.String()
    archived = fields.Boolean(attribute="is_archived")
    archived_at = UTCDateTime(allow_none=True)
    created_at = UTCDateTime()
    updated_at = UTCDateTime()


class ClientCreateSchema(ma.Schema):
    name = fields.String(required=True, validate=_NAME)
    timezone = fields.String(load_default="Europe/Paris", validate=_timezone,
                             metadata={"description": "An IANA timezone name."})
    language = fields.String(load_default="fr", validate=validate.OneOf(LANGUAGES))
    brand_tone = fields.String(load_default="")
    brand_words_use = fields.String(load_default="")
    brand_words_avoid = fields.String(load_default="")
    brand_hashtags = fields.String(load_default="")
    plan = fields.String(
        validate=validate.OneOf([plan.key for plan in PLANS]),
        metadata={"description": "The billing plan the workspace starts on (default "
                                 "essentiel). Choosing one needs the right to manage "
                                 "billing (owners and admins): others get 403."})


class ClientUpdateSchema(ma.Schema):
    """Every field optional: only those sent are changed."""

    name = fields.String(validate=_NAME)
    timezone = fields.String(validate=_timezone, metadata={"description": "An IANA timezone name."})
    language = fields.String(validate=validate.OneOf(LANGUAGES))
    brand_tone = fields.String()
    brand_words_use = fields.String()
    brand_words_avoid = fields.String()
    brand_hashtags = fields.String()


class ClientListQuerySchema(ma.Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(
        load_default=DEFAULT_PER_PAGE, validate=validate.Range(min=1),
        metadata={"description": "Items per page, at most API_PAGE_SIZE_MAX (100 unless "
                                 "configured otherwise); a larger value is refused (422), "
                                 "never silently reduced."},
    )
    archived = fields.Boolean(load_default=False,
                              metadata={"description": "true: only archived clients."})
    q = fields.String(validate=validate.Length(max=120),
                      metadata={"description": "Part of the client's name, any case."})

    @ma.validates("per_page")
    def _at_most_the_configured_maximum(self, value: int, data_key: str) -> None:
        limit = current_app.config["API_PAGE_SIZE_MAX"]
        if value > limit:
            raise ma.ValidationError(_("At most %(limit)d per page.", limit=limit))


class ClientPageSchema(ma.Schema):
    items = fields.List(fields.Nested(ClientSchema))
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()


# --- contacts ---------------------------------------------------------------------------

class ContactSchema(ma.Schema):
    id = fields.UUID()
    name = fields.String()
    email = fields.String()
    phone = fields.String()
    approves_posts = fields.Boolean()
    receives_reports = fields.Boolean()


class ContactCreateSchema(ma.Schema):
    name = fields.String(required=True, validate=_NAME)
    email = fields.String(load_default="", validate=validate.Length(max=254),
                          metadata={"description": "Required when approves_posts is true."})
    phone = fields.String(load_default="", validate=validate.Length(max=32))
    approves_posts = fields.Boolean(load_default=False)
    receives_reports = fields.Boolean(
        load_default=False,
        metadata={"description": "E-mailed the monthly report at the start of each month. "
                                 "Requires an e-mail address."})


class ContactUpdateSchema(ma.Schema):
    """Every field optional: only those sent are changed."""

    name = fields.String(validate=_NAME)
    email = fields.String(validate=validate.Length(max=254))
    phone = fields.String(validate=validate.Length(max=32))
    approves_posts = fields.Boolean()
    receives_reports = fields.Boolean()

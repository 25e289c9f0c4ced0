"""What the API reads and writes about social accounts, posts, revisions, comments and
approval requests. Like ``schemas``, request schemas refuse unknown fields (422)."""

from __future__ import annotations

from datetime import UTC

import marshmallow as ma
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_smorest.fields import Upload
from marshmallow import fields, validate

from agency.content.models import CommentVisibility, PostStatus
from agency.content.options import (
    CTA_TYPES,
    EVENT_TITLE_MAX,
    INSTAGRAM_KINDS,
    LANGUAGES,
    MAX_THREAD_PARTS,
    TOPICS,
)
from agency.content.services import MAX_LABELS, MAX_MEDIA
from agency.networks.models import AccountStatus
from agency.networks.rules import NETWORKS

from .schemas import DEFAULT_PER_PAGE, UTCDateTime

_SHA256 = validate.Regexp(r"^[0-9a-f]{64}$", error=_l("Not a content hash."))


class AwareDateTime(fields.AwareDateTime):
    """ISO 8601 *with* an offset: a naive time is ambiguous (whose 9 o'clock?), so it is
    refused rather than guessed."""

    default_error_messages = {
        "invalid_awareness": _l("Give the time with its UTC offset, for example "
                                "2030-05-01T09:00:00+02:00."),
    }

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).astimezone(UTC)


def _at_most_the_configured_page_size(value: int) -> None:
    limit = current_app.config["API_PAGE_SIZE_MAX"]
    if value > limit:
        raise ma.ValidationError(_("At most %(limit)d per page.", limit=limit))


# --- accounts ---------------------------------------------------------------------------

class AccountSchema(ma.Schema):
    id = fields.UUID()
    network = fields.String(metadata={"description": "One of: " + ", ".join(NETWORKS)})
    display_name = fields.String()
    handle = fields.String()
    status = fields.Enum(AccountStatus, by_value=True)
    created_at = UTCDateTime()


class AccountCreateSchema(ma.Schema):
    network = fields.String(required=True, validate=validate.OneOf(NETWORKS), metadata={
        "description": "Only `sandbox` for now: the other networks are connected through "
                       "their own sign-in."})
    display_name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    handle = fields.String(load_default="", validate=validate.Length(max=120))


# --- media ------------------------------------------------------------------------------

class MediaSchema(ma.Schema):
    id = fields.UUID()
    client_id = fields.UUID()
    kind = fields.String(metadata={"description": "`image` or `video`."})
    mime = fields.String(metadata={
        "description": "The type sniffed from the content (never the file name's)."})
    size = fields.Integer(metadata={"description": "Bytes, as stored and published."})
    sha256 = fields.String(metadata={
        "description": "SHA-256 of the stored bytes; a post's content hash covers it."})
    width = fields.Integer(allow_none=True, metadata={"description": "Images only."})
    height = fields.Integer(allow_none=True, metadata={"description": "Images only."})
    original_name = fields.String(metadata={"description": "The uploaded file's name."})
    created_at = UTCDateTime()


class MediaUploadSchema(ma.Schema):
    file = Upload(required=True, metadata={
        "description": "One JPEG, PNG, WebP or GIF image (10 MB at most) or MP4 or MOV "
                       "video (200 MB at most). The type is read from the content. Images "
                       "are stored without their metadata (location, camera)."})


class MediaListQuerySchema(ma.Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(
        load_default=DEFAULT_PER_PAGE,
        validate=[validate.Range(min=1), _at_most_the_configured_page_size],
        metadata={"description": "Items per page, at most API_PAGE_SIZE_MAX."},
    )


class MediaPageSchema(ma.Schema):
    items = fields.List(fields.Nested(MediaSchema))
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()


# --- posts ------------------------------------------------------------------------------

class PostTargetSchema(ma.Schema):
    account_id = fields.UUID(attribute="social_account_id")
    network = fields.String(attribute="account.network")
    display_name = fields.String(attribute="account.display_name")
    status = fields.Enum(AccountStatus, by_value=True, attribute="account.status")


# The options' shape for the OpenAPI document. The service checks them (with the messages
# of agency/content/options.py, answered as 422 naming e.g. `options.x.thread`): the
# schema does not, so there is one set of rules and one set of messages.
_STRING = {"type": "string"}
_MOMENT = {"type": "string", "format": "date-time",
           "description": "ISO 8601 with its offset; stored in the client's time zone."}
_PLACE = {"type": "string", "pattern": "^[0-9]+$",
          "description": "The id of a place's Facebook Page."}
OPTIONS_OPENAPI = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "google_business": {"type": "object", "additionalProperties": False, "properties": {
            "topic": {"type": "string", "enum": list(TOPICS), "description":
                      "STANDARD (the default, left out when stored), EVENT or OFFER."},
            "cta": {"type": "object", "additionalProperties": False, "properties": {
                "type": {"type": "string", "enum": list(CTA_TYPES)},
                "url": {"type": "string", "description": "https only; none for CALL."}},
                "description": "A button; not on an OFFER (Google adds its own)."},
            "event": {"type": "object", "additionalProperties": False, "properties": {
                "title": {"type": "string", "maxLength": EVENT_TITLE_MAX},
                "start": _MOMENT, "end": _MOMENT},
                "description": "Required for EVENT and OFFER (an offer's title is its "
                               "name); the end after the start, and after the post goes "
                               "out."},
            "offer": {"type": "object", "additionalProperties": False, "properties": {
                "coupon_code": _STRING, "redeem_url": {"type": "string",
                                                       "description": "https only."},
                "terms": _STRING}, "description": "OFFER only."},
            "language": {"type": "string", "enum": list(LANGUAGES), "readOnly": True,
                         "description": "The client's language, set by Relais."}}},
        "instagram": {"type": "object", "additionalProperties": False, "properties": {
            "kind": {"type": "string", "enum": list(INSTAGRAM_KINDS), "description":
                     "feed (the default, left out when stored) or reel (one video, "
                     "alone)."},
            "location_id": _PLACE}},
        "facebook": {"type": "object", "additionalProperties": False, "properties": {
            "place_id": _PLACE}},
        "x": {"type": "object", "additionalProperties": False, "properties": {
            "thread": {"type": "array", "maxItems": MAX_THREAD_PARTS, "items": _STRING,
                       "description": "The posts after the post's own text, each at most "
                                      "280 characters as X counts them."}}},
    },
    "description": "Per network, what it publishes beyond the text. Only for networks the "
                   "post targets; blanks and defaults are left out; a change makes a new "
                   "revision like any change to what is published. Nothing is defaulted "
                   "here (the composer starts a location tag at the client's own place; "
                   "the API does not).",
    "example": {"google_business": {"topic": "OFFER", "event": {
        "title": "-10 % on bread", "start": "2030-03-01T00:00:00+01:00",
        "end": "2030-03-12T23:59:00+01:00"}, "offer": {"coupon_code": "PAIN10"}},
        "x": {"thread": ["Second post", "Third post"]}},
}


def _options_field(**kwargs) -> fields.Dict:
    # No ``values`` field: apispec would then document any network's options as allowed.
    return fields.Dict(keys=fields.String(), metadata=OPTIONS_OPENAPI, **kwargs)


class PostSchema(ma.Schema):
    id = fields.UUID()
    client_id = fields.UUID()
    status = fields.Enum(PostStatus, by_value=True)
    text = fields.String()
    variants = fields.Dict(keys=fields.String(), values=fields.String(), metadata={
        "description": "The text for a network, where it differs from `text`."})
    first_comment = fields.String()
    options = _options_field()
    labels = fields.List(fields.String())
    scheduled_at = UTCDateTime(allow_none=True)
    target_ids = fields.Method("_target_ids", metadata={
        "type": "array", "items": {"type": "string", "format": "uuid"},
        "description": "The accounts it goes out on, as `targets` details them."})
    targets = fields.List(fields.Nested(PostTargetSchema))
    media_ids = fields.Method("_media_ids", metadata={
        "type": "array", "items": {"type": "string", "format": "uuid"},
        "description": "The attached media, in the order they are shown and published."})
    media = fields.List(fields.Nested(MediaSchema), metadata={
        "description": "The attached media in that order, with their details."})
    revision_number = fields.Integer(metadata={"description": "The current revision."})
    content_hash = fields.String(metadata={
        "description": "SHA-256 of what would be published; a review names it."})
    author_user_id = fields.UUID(allow_none=True)
    created_at = UTCDateTime()
    updated_at = UTCDateTime()

    def _target_ids(self, post) -> list[str]:
        return [str(t.social_account_id) for t in post.targets]

    def _media_ids(self, post) -> list[str]:
        return [str(a.media_id) for a in post.attachments]


_LABELS = dict(validate=validate.Length(max=MAX_LABELS), metadata={
    "description": f"Up to {MAX_LABELS} labels of 40 characters at most."})
_VARIANT_NETWORKS = validate.OneOf(NETWORKS)
_VARIANTS = {"description": "{network: text} for a targeted network whose text differs "
                            "from `text`."}
_SCHEDULE = {"description": "ISO 8601 with an offset, in the future; null: not scheduled."}
_TARGETS = {"description": "The client's social accounts to publish on (at least one)."}
_MEDIA = {"description": f"Files of the client's media library, in the order they are "
                         f"shown and published (at most {MAX_MEDIA}). Each targeted "
                         f"network's media rules apply: Instagram needs at least one."}


class PostCreateSchema(ma.Schema):
    text = fields.String(load_default="")
    variants = fields.Dict(keys=fields.String(validate=_VARIANT_NETWORKS),
                           values=fields.String(), load_default=dict, metadata=_VARIANTS)
    first_comment = fields.String(load_default="")
    options = _options_field(load_default=dict)
    labels = fields.List(fields.String(validate=validate.Length(min=1, max=40)),
                         load_default=list, **_LABELS)
    scheduled_at = AwareDateTime(allow_none=True, load_default=None, metadata=_SCHEDULE)
    target_ids = fields.List(fields.UUID(), required=True, metadata=_TARGETS)
    media_ids = fields.List(fields.UUID(), load_default=list, metadata=_MEDIA)


class PostUpdateSchema(ma.Schema):
    """Every field optional: only those sent are changed. A change to what would be
    published makes a new revision, and the post goes back to draft."""

    text = fields.String()
    variants = fields.Dict(keys=fields.String(validate=_VARIANT_NETWORKS),
                           values=fields.String(), metadata=_VARIANTS)
    first_comment = fields.String()
    options = _options_field()
    labels = fields.List(fields.String(validate=validate.Length(min=1, max=40)), **_LABELS)
    scheduled_at = AwareDateTime(allow_none=True, metadata=_SCHEDULE)
    target_ids = fields.List(fields.UUID(), metadata=_TARGETS)
    media_ids = fields.List(fields.UUID(), metadata=_MEDIA)


class PostListQuerySchema(ma.Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(
        load_default=DEFAULT_PER_PAGE,
        validate=[validate.Range(min=1), _at_most_the_configured_page_size],
        metadata={"description": "Items per page, at most API_PAGE_SIZE_MAX (100 unless "
                                 "configured otherwise); a larger value is refused (422)."},
    )
    status = fields.Enum(PostStatus, by_value=True)
    label = fields.String(validate=validate.Length(min=1, max=40),
                          metadata={"description": "Posts with this label (any case)."})
    start = AwareDateTime(data_key="from", metadata={
        "description": "Scheduled at or after this time (ISO 8601 with an offset)."})
    end = AwareDateTime(data_key="to", metadata={
        "description": "Scheduled before this time (ISO 8601 with an offset)."})

    @ma.validates_schema
    def _a_period_that_ends_after_it_starts(self, data: dict, **kwargs) -> None:
        if data.get("start") and data.get("end") and data["end"] <= data["start"]:
            raise ma.ValidationError(_("Must be after “from”."), "to")


class PostPageSchema(ma.Schema):
    items = fields.List(fields.Nested(PostSchema))
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()


class ReviewSchema(ma.Schema):
    approve = fields.Boolean(required=True)
    comment = fields.String(load_default="", validate=validate.Length(max=5000), metadata={
        "description": "Required when asking for changes."})
    content_hash = fields.String(required=True, validate=_SHA256, metadata={
        "description": "The `content_hash` of the post as reviewed: if the post changed "
                       "since, the review is refused (409)."})


# --- revisions --------------------------------------------------------------------------

class RevisionSchema(ma.Schema):
    number = fields.Integer()
    content_hash = fields.String()
    created_at = UTCDateTime()
    author_user_id = fields.UUID(allow_none=True)
    content = fields.Dict(metadata={
        "description": "What would be published: text, variants, first_comment, media, "
                       "targets, scheduled_at, and options (only when the post has some "
                       "for a network it targets)."})


class RevisionDiffQuerySchema(ma.Schema):
    old = fields.Integer(required=True, data_key="from", validate=validate.Range(min=1),
                         metadata={"description": "A revision number."})
    new = fields.Integer(required=True, data_key="to", validate=validate.Range(min=1),
                         metadata={"description": "A revision number."})


class ChangeSchema(ma.Schema):
    field = fields.String()
    before = fields.Raw(allow_none=True)
    after = fields.Raw(allow_none=True)
    lines = fields.List(fields.String(), metadata={
        "description": "Texts and options only: a unified line diff (`-` removed, `+` "
                       "added); options are described in words, in the request's "
                       "language."})


class RevisionDiffSchema(ma.Schema):
    old = fields.Integer(data_key="from")
    new = fields.Integer(data_key="to")
    changes = fields.List(fields.Nested(ChangeSchema), metadata={
        "description": "The fields that differ, in a fixed order."})


# --- comments ---------------------------------------------------------------------------

class CommentSchema(ma.Schema):
    id = fields.UUID()
    body = fields.String()
    visibility = fields.Enum(CommentVisibility, by_value=True)
    author_user_id = fields.UUID(allow_none=True)
    author_contact_id = fields.UUID(allow_none=True)
    author_label = fields.String()
    created_at = UTCDateTime()


class CommentCreateSchema(ma.Schema):
    body = fields.String(required=True, validate=validate.Length(max=5000))
    visibility = fields.Enum(CommentVisibility, by_value=True,
                             load_default=CommentVisibility.INTERNAL, metadata={
                                 "description": "internal: agency staff only; client: the "
                                                "client's contacts see it too."})


# --- approval requests ------------------------------------------------------------------

class ApprovalRequestCreateSchema(ma.Schema):
    post_ids = fields.List(fields.UUID(), load_default=list, metadata={
        "description": "Posts awaiting the client; empty or absent: all of them."})


class ApprovalLinkSchema(ma.Schema):
    contact_id = fields.UUID()
    contact_name = fields.String()
    url = fields.String(metadata={"description": "The contact's personal link (no password)."})


class ApprovalRequestSchema(ma.Schema):
    id = fields.UUID()
    client_id = fields.UUID()
    created_at = UTCDateTime()
    expires_at = UTCDateTime()
    posts = fields.List(fields.Nested(PostSchema))
    links = fields.List(fields.Nested(ApprovalLinkSchema), metadata={
        "description": "One link per approving contact; each was also sent by e-mail."})

"""A client's results for a period: the same figures as the dashboard, and one row per
publication (the CSV export's rows), as JSON.

The client is loaded like every client route (``with_client``: 404 for a client that
is absent, foreign, or not assigned to the token's member). Days are the client's own
(its timezone); the previous period is as many days just before (the month before for
a whole calendar month).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import marshmallow as ma
from flask.views import MethodView
from flask_babel import gettext as _
from marshmallow import fields

from agency.content.slots import client_zone
from agency.results import periods, queries
from agency.results.readings import COUNTERS, PostFigure

from .blueprint import bp, with_client
from .openapi import documents
from .schemas import UTCDateTime

_COUNTER_DOC = ("Summed over the publications measured; null when no network reported "
                "it (not the same as 0).")


class ResultsQuerySchema(ma.Schema):
    first = fields.Date(data_key="from", metadata={
        "description": "The first day (YYYY-MM-DD, the client's calendar). With `to`; "
                       "both absent: the current month."})
    last = fields.Date(data_key="to", metadata={
        "description": "The last day, included (YYYY-MM-DD)."})
    as_of = UTCDateTime(metadata={
        "description": "Count only the readings taken by then (default: now), so a "
                       "report can be made again with the same figures."})

    @ma.validates_schema
    def _a_period(self, data, **kwargs) -> None:
        if ("first" in data) != ("last" in data):
            missing = "to" if "first" in data else "from"
            raise ma.ValidationError(_("Give both a start and an end date."), missing)
        if "first" in data:
            try:
                periods.between(data["first"], data["last"], ZoneInfo("UTC"))
            except periods.PeriodError as error:
                raise ma.ValidationError(str(error), "to") from None


class PeriodSchema(ma.Schema):
    first = fields.Date(data_key="from", metadata={"description": "The first day, included."})
    last = fields.Date(data_key="to", metadata={"description": "The last day, included."})
    start = UTCDateTime(metadata={"description": "The first instant (the client's "
                                                 "midnight), in UTC."})
    end = UTCDateTime(metadata={"description": "The first instant after the period."})


def _counter(description: str = _COUNTER_DOC):
    return fields.Integer(allow_none=True, metadata={"description": description})


class FiguresSchema(ma.Schema):
    posts = fields.Integer(metadata={"description": "Posts published (a post on several "
                                                    "networks counts once)."})
    publications = fields.Integer(metadata={"description": "Publications: one per "
                                                           "account a post went out on."})
    measured = fields.Integer(metadata={"description": "Publications with a reading."})
    impressions = _counter()
    reach = _counter()
    reactions = _counter()
    comments = _counter()
    shares = _counter()
    clicks = _counter()
    saves = _counter()
    engagement = _counter("Reactions + comments + shares + saves; null when no network "
                          "reported any of them.")
    engagement_rate = fields.Float(allow_none=True, metadata={
        "description": "Engagement divided by reach (impressions where reach is not "
                       "reported), over the publications measured; a fraction (0.05 = 5 %)."})
    followers = _counter("Followers at the end of the period, over the accounts measured.")
    follower_growth = _counter("Followers at the end minus at the start of the period.")


class NetworkFiguresSchema(ma.Schema):
    network = fields.String()
    current = fields.Nested(FiguresSchema)
    previous = fields.Nested(FiguresSchema)


class CadenceSchema(ma.Schema):
    published = fields.Integer(metadata={"description": "Posts published in the period."})
    planned = fields.Integer(allow_none=True, metadata={
        "description": "Slot times in the period; null: the client has no publishing "
                       "slots, so no plan."})
    slots = fields.Integer(metadata={"description": "Weekly publishing slots."})
    allowance = fields.Integer(allow_none=True, metadata={
        "description": "Posts a month the client's billing plan allows (null: billing off)."})


class PublicationFiguresSchema(ma.Schema):
    publication_id = fields.UUID()
    post_id = fields.UUID()
    network = fields.String()
    published_at = UTCDateTime()
    published_local = fields.String(metadata={
        "description": "When it was published, in the client's timezone (ISO 8601)."})
    external_url = fields.String(metadata={"description": "The post on the network."})
    text = fields.String(metadata={"description": "An excerpt of what was published."})
    media_id = fields.UUID(allow_none=True, metadata={
        "description": "Its first image (best and weakest posts only; else null)."})
    measured_at = UTCDateTime(allow_none=True, metadata={
        "description": "When the reading was taken; null: no reading yet."})
    impressions = _counter("Null: not reported by the network (or no reading yet).")
    reach = _counter("Null: not reported.")
    reactions = _counter("Null: not reported.")
    comments = _counter("Null: not reported.")
    shares = _counter("Null: not reported.")
    clicks = _counter("Null: not reported.")
    saves = _counter("Null: not reported.")
    engagement = _counter("Null: none of its parts reported.")
    engagement_rate = fields.Float(allow_none=True)


class ResultsSchema(ma.Schema):
    client_id = fields.UUID()
    timezone = fields.String(metadata={"description": "The client's timezone: the days "
                                                      "of the periods are its own."})
    period = fields.Nested(PeriodSchema)
    previous_period = fields.Nested(PeriodSchema)
    as_of = UTCDateTime()
    current = fields.Nested(FiguresSchema)
    previous = fields.Nested(FiguresSchema)
    networks = fields.List(fields.Nested(NetworkFiguresSchema))
    cadence = fields.Nested(CadenceSchema)
    best = fields.List(fields.Nested(PublicationFiguresSchema), metadata={
        "description": "The three publications with the most engagement."})
    weakest = fields.List(fields.Nested(PublicationFiguresSchema), metadata={
        "description": "The three with the least, among the others."})
    publications = fields.List(fields.Nested(PublicationFiguresSchema), metadata={
        "description": "Every publication of the period, oldest first."})


def _publication(figure: PostFigure, zone) -> dict:
    return {
        "publication_id": figure.publication_id, "post_id": figure.post_id,
        "network": figure.network, "published_at": figure.published_at,
        "published_local": figure.published_at.astimezone(zone).isoformat(),
        "external_url": figure.external_url, "text": figure.text,
        "media_id": figure.media_id, "measured_at": figure.measured_at,
        **{name: figure.counters[name] for name in COUNTERS},
        "engagement": figure.engagement, "engagement_rate": figure.engagement_rate,
    }


@bp.route("/clients/<uuid:client_id>/results", tags=["results"])
class ClientResults(MethodView):
    @with_client
    @bp.arguments(ResultsQuerySchema, location="query")
    @bp.response(200, ResultsSchema)
    @documents(bp, 401, 404)
    def get(self, args, client):
        """A client's results for a period and the one before it

        A publication's figures are its newest reading (taken by `as_of`) and count in
        the period in which it was published. Without `from` and `to`: the current
        month, against the month before.
        """
        zone = client_zone(client)
        if "first" in args:
            period = periods.between(args["first"], args["last"], zone)
        else:
            period = periods.current_month(zone)
        summary = queries.summary(client, period, as_of=args.get("as_of"), with_text=True)
        return {
            "client_id": client.id, "timezone": str(zone.key),
            "period": summary.period, "previous_period": summary.previous_period,
            "as_of": summary.as_of,
            "current": summary.current, "previous": summary.previous,
            "networks": summary.networks,
            "cadence": summary.cadence,
            "best": [_publication(f, zone) for f in summary.best],
            "weakest": [_publication(f, zone) for f in summary.weakest],
            "publications": [_publication(f, zone) for f in summary.rows],
        }

"""Results pages: a client's dashboard and its CSV export, and the agency overview.

They only read: each view loads the client through ``client_for_view`` (404 for an
absent, foreign or unassigned client), checks the period asked for (a clear message and
400 for one it cannot understand, never a 500) and renders.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from flask import Blueprint, make_response, render_template, request, url_for
from flask_babel import format_date, format_decimal, format_percent, get_locale
from flask_babel import lazy_gettext as _l

from agency.access import client_for_view, require
from agency.content.forms import network_name
from agency.content.slots import client_zone

from . import charts, export, overview_queries, periods, queries
from .periods import PeriodError

bp = Blueprint("results", __name__)

FLAG_LABELS = {
    overview_queries.BEHIND: _l("Fewer posts than planned"),
    overview_queries.ENGAGEMENT_DROP: _l("Engagement dropping"),
    overview_queries.APPROVALS_WAITING: _l("Approvals waiting"),
}


def number(value) -> str:
    return "—" if value is None else format_decimal(value)


def percent(value) -> str:
    """"6.5%", "6,5 %": the reader's own percent pattern, with one decimal."""
    if value is None:
        return "—"
    pattern = get_locale().percent_formats[None].pattern.replace("0", "0.0", 1)
    return format_percent(value, pattern)


def signed(value, *, as_percent: bool = False) -> str:
    """"+1 200", "−3", "+12.5 %": the change beside a figure ("" when unknown)."""
    if value is None:
        return ""
    shown = percent(abs(value)) if as_percent else format_decimal(abs(value))
    return ("+" if value > 0 else "−" if value < 0 else "±") + shown


def local_time(moment, zone) -> str:
    """An instant as the client's wall-clock date and time ("14 Oct 2026 23:30")."""
    local = moment.astimezone(zone)
    return f"{format_date(local.date(), 'medium')} {local.strftime('%H:%M')}"


@bp.context_processor
def _results_helpers():
    return {"results_number": number, "results_percent": percent,
            "results_signed": signed, "results_change": queries.change,
            "results_local": local_time}


def _period_of(client):
    return periods.parse(request.args, client_zone(client))


def _bad_period(client, error: PeriodError):
    return render_template("results/dashboard.html", client=client, summary=None,
                           error=str(error), args=request.args), 400


def _neighbours(period: periods.Period) -> dict:
    """The month before the period and the one after it (``None`` once in the future)."""
    after = periods.month_of(period.last + timedelta(days=1), period.zone)
    this = periods.current_month(period.zone)
    return {"before": periods.month_of(period.first, period.zone).previous(),
            "after": after if after.first <= this.first else None, "this": this}


@bp.get("/clients/<uuid:client_id>/results")
@require()
def dashboard(client_id: uuid.UUID):
    client = client_for_view(client_id)
    try:
        period = _period_of(client)
    except PeriodError as error:
        return _bad_period(client, error)
    summary = queries.summary(client, period)
    daily = summary.daily
    has_impressions = (summary.current.impressions is not None
                       or summary.previous.impressions is not None)
    chart = {
        "impressions": charts.impressions_chart(daily.days, daily.impressions,
                                                daily.previous_impressions,
                                                has_figures=has_impressions),
        "followers": charts.followers_chart(daily.days, daily.followers),
        "networks": charts.network_chart(summary.networks, "engagement",
                                         str(_l("Engagement per network"))),
    }
    return render_template(
        "results/dashboard.html", client=client, summary=summary, error=None,
        args=request.args, chart=chart, network_name=network_name,
        months=_neighbours(period),
        csv_url=url_for("results.export_csv", client_id=client.id, **period.query),
    )


@bp.get("/clients/<uuid:client_id>/results.csv")
@require()
def export_csv(client_id: uuid.UUID):
    client = client_for_view(client_id)
    try:
        period = _period_of(client)
    except PeriodError as error:
        return _bad_period(client, error)
    body = export.to_csv(queries.publication_rows(client, period), period)
    response = make_response(body.encode("utf-8"))
    response.mimetype = "text/csv"
    response.charset = "utf-8"
    response.headers.set("Content-Disposition", "attachment",
                         filename=export.filename(client, period))
    response.cache_control.private = True
    response.cache_control.no_store = True
    return response


@bp.get("/results")
@require()
def overview():
    lines = overview_queries.overview()
    return render_template("results/overview.html", lines=lines, flag_labels=FLAG_LABELS,
                           flagged=sum(1 for line in lines if line.flags))

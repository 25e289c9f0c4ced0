"""A client's monthly report: what it says and shows, in the CLIENT's language.

The figures are ``queries.summary`` (the dashboard's), the charts ``charts.py``'s SVG;
this module adds what a report has of its own: a few plain-language sentences at the top
("Your posts were seen 12,400 times, +18% compared with September"), the best posts with
their thumbnail read from Relais's own media storage (embedded, so neither the page nor
the PDF fetches anything), what is planned next month (the client's approved posts
scheduled then), and the agency's name, logo and colour (white label).

Everything here runs inside ``in_language(client)``: gettext, month names and numbers
follow the client's language (French by default), whatever the reader's own. Callers
pass a client they loaded through the access rules (staff) or a signed link.

The writers are apart: branding.py (the agency's colour and logo) and report_send.py
(the report's link e-mailed to the client's contacts).
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from flask import current_app, render_template
from flask_babel import force_locale, format_date, format_decimal, format_percent, ngettext
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import and_, select

from agency.clients.models import Client
from agency.content.forms import network_name
from agency.content.models import Post, PostStatus, PostTarget
from agency.content.slots import client_zone
from agency.extensions import db
from agency.i18n import supported
from agency.media.models import Media, MediaKind
from agency.media.storage import InvalidKey, get_storage
from agency.networks.models import SocialAccount

from . import charts, periods, queries
from .periods import Period
from .readings import aware, excerpt

DEFAULT_COLOR = "#1f4e79"
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
PLANNED_MAX = 40  # posts listed under "planned next month"
PLANNED_EXCERPT = 160
BEST_EXCERPT = 80  # the best post quoted in the summary
THUMB_MAX_BYTES = 512 * 1024  # a thumbnail larger than this is left out, not embedded


# --- language -------------------------------------------------------------------------------

def language_of(client: Client) -> str:
    """The client's language if Relais speaks it, French otherwise."""
    return supported(client.language) or current_app.config.get("BABEL_DEFAULT_LOCALE", "fr")


@contextmanager
def in_language(client: Client) -> Iterator[str]:
    with force_locale(language_of(client)):
        yield language_of(client)


def default_month(client: Client, now: datetime | None = None) -> Period:
    """The month a report is about when none is asked: the last complete month."""
    return periods.current_month(client_zone(client), now).previous()


def parse_month(value: str | None, client: Client, now: datetime | None = None) -> Period:
    """``2026-10`` → that month in the client's timezone; empty → the last complete
    month. ``PeriodError`` for anything else."""
    if not (value or "").strip():
        return default_month(client, now)
    period = periods.parse({"period": value}, client_zone(client), now)
    if period.kind != periods.MONTH:
        raise periods.PeriodError(_("Write the month as YYYY-MM, for example 2026-10."))
    return period


# --- numbers in words -----------------------------------------------------------------------

def number(value: int | float) -> str:
    return format_decimal(value)


def signed_percent(value: float) -> str:
    """"+18 %", "−5 %" (rounded to a whole percent), in the current language."""
    shown = format_percent(abs(value))
    if shown == format_percent(0):
        return "±" + shown
    return ("+" if value > 0 else "−") + shown


def month_name(day: date) -> str:
    """"October" / "octobre": the month alone, as it reads inside a sentence."""
    return format_date(day, "LLLL")


def day_name(moment: datetime, zone) -> str:
    """"3 October" / "3 octobre": a day of the client's calendar."""
    return format_date(aware(moment).astimezone(zone).date(), "d MMMM")


def sentences(summary: queries.Summary) -> list[str]:
    """The plain-language summary at the top of the report, from the figures alone."""
    now, then = summary.current, summary.previous
    before = month_name(summary.previous_period.first)
    this = month_name(summary.period.first)
    said: list[str] = []

    # Views: impressions where the networks report them, else people reached.
    if now.impressions is not None:
        change = queries.change(now.impressions, then.impressions)
        said.append(
            _("Your posts were seen %(count)s times, %(change)s compared with %(month)s.",
              count=number(now.impressions), change=signed_percent(change), month=before)
            if change is not None else
            _("Your posts were seen %(count)s times in %(month)s.",
              count=number(now.impressions), month=this))
    elif now.reach is not None:
        change = queries.change(now.reach, then.reach)
        said.append(
            _("Your posts reached %(count)s people, %(change)s compared with %(month)s.",
              count=number(now.reach), change=signed_percent(change), month=before)
            if change is not None else
            _("Your posts reached %(count)s people in %(month)s.",
              count=number(now.reach), month=this))
    elif now.posts:
        said.append(_("The networks have not reported any figures for this month yet."))

    # Posts published, against the plan.
    cadence = summary.cadence
    if cadence.has_plan and cadence.planned:
        said.append(ngettext("%(num)d post was published, of %(planned)s planned.",
                             "%(num)d posts were published, of %(planned)s planned.",
                             cadence.published, planned=number(cadence.planned)))
    elif cadence.published:
        said.append(ngettext("%(num)d post was published.", "%(num)d posts were published.",
                             cadence.published))
    else:
        said.append(_("Nothing was published in %(month)s.", month=this))

    # Followers.
    growth = now.follower_growth
    if growth is not None and now.followers is not None:
        total = number(now.followers)
        if growth > 0:
            said.append(ngettext("You gained %(num)d new follower (%(total)s in all).",
                                 "You gained %(num)d new followers (%(total)s in all).",
                                 growth, total=total))
        elif growth < 0:
            said.append(ngettext("You lost %(num)d follower (%(total)s in all).",
                                 "You lost %(num)d followers (%(total)s in all).",
                                 -growth, total=total))
        else:
            said.append(_("Your number of followers did not change (%(total)s).",
                          total=total))

    # Engagement, in plain words.
    if now.engagement:
        change = queries.change(now.engagement, then.engagement)
        said.append(
            _("People liked, commented on, shared or saved your posts %(count)s times, "
              "%(change)s compared with %(month)s.", count=number(now.engagement),
              change=signed_percent(change), month=before)
            if change is not None else
            _("People liked, commented on, shared or saved your posts %(count)s times.",
              count=number(now.engagement)))

    # The best post, named.
    if summary.best and summary.best[0].engagement:
        best = summary.best[0]
        said.append(_("Your best post went out on %(network)s on %(day)s: “%(text)s”.",
                      network=network_name(best.network),
                      day=day_name(best.published_at, summary.period.zone),
                      text=excerpt(best.text, BEST_EXCERPT) or _("(no text)")))
    return said


# --- what is planned next month -------------------------------------------------------------

@dataclass
class Planned:
    post_id: uuid.UUID
    scheduled_at: datetime  # aware, UTC
    networks: list[str]  # the networks' names for a person
    text: str


def planned_next(client: Client, period: Period) -> tuple[Period, list[Planned]]:
    """The month after ``period`` and the client's approved posts scheduled in it, in
    order (two queries)."""
    following = periods.month_of(period.last + timedelta(days=1), period.zone)
    posts = db.session.execute(
        select(Post.id, Post.scheduled_at, Post.text)
        .where(Post.client_id == client.id, Post.status == PostStatus.APPROVED,
               Post.scheduled_at >= following.start, Post.scheduled_at < following.end)
        .order_by(Post.scheduled_at, Post.id).limit(PLANNED_MAX)).all()
    networks: dict[uuid.UUID, set[str]] = {row[0]: set() for row in posts}
    if posts:
        for post_id, network in db.session.execute(
                select(PostTarget.post_id, SocialAccount.network)
                .join(SocialAccount, and_(SocialAccount.agency_id == PostTarget.agency_id,
                                          SocialAccount.id == PostTarget.social_account_id))
                .where(PostTarget.post_id.in_(list(networks)),
                       SocialAccount.client_id == client.id)):
            networks[post_id].add(network)
    return following, [
        Planned(post_id, aware(when), sorted(network_name(n) for n in networks[post_id]),
                excerpt(text, PLANNED_EXCERPT))
        for post_id, when, text in posts]


# --- images, read from Relais's own storage -------------------------------------------------

_MIME = {b"RIFF": "image/webp", b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg"}


def _sniff(data: bytes) -> str | None:
    return next((mime for magic, mime in _MIME.items() if data.startswith(magic)), None)


def data_uri(data: bytes | None) -> str | None:
    """Image bytes as a ``data:`` address (``None`` for what is not a known image)."""
    mime = _sniff(data or b"")
    if not mime:
        return None
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def thumbnails(client: Client, media_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The thumbnails of these media of ``client``, as ``data:`` addresses, read from the
    storage directly (one query). A file missing from the storage is left out."""
    wanted = {m for m in media_ids if m is not None}
    if not wanted:
        return {}
    found = {}
    storage = get_storage()
    for media_id, key in db.session.execute(
            select(Media.id, Media.thumb_key).where(
                Media.client_id == client.id, Media.id.in_(wanted),
                Media.kind == MediaKind.IMAGE, Media.thumb_key.is_not(None))):
        try:
            with storage.open(key) as handle:
                data = handle.read(THUMB_MAX_BYTES + 1)
        except (OSError, InvalidKey):
            continue
        uri = data_uri(data) if len(data) <= THUMB_MAX_BYTES else None
        if uri:
            found[media_id] = uri
    return found


# --- the agency (white label) ---------------------------------------------------------------

@dataclass
class Branding:
    name: str
    color: str = DEFAULT_COLOR
    logo: str | None = None  # a data: address


def branding_of(agency) -> Branding:
    """The agency's name, colour and logo (migration 0014) as the report shows them."""
    color = agency.brand_color or DEFAULT_COLOR
    return Branding(agency.name, color if _COLOR.match(color) else DEFAULT_COLOR,
                    data_uri(agency.logo) if agency.logo else None)


def agency_of_id(agency_id):
    from tenants.models import Agency

    return db.session.scalars(select(Agency).where(Agency.id == agency_id)).one()


def agency_of(client: Client):
    return agency_of_id(client.agency_id)


# --- the report -----------------------------------------------------------------------------

@dataclass
class Report:
    client: Client
    brand: Branding
    language: str
    summary: queries.Summary
    sentences: list[str]
    charts: dict[str, Markup]
    thumbs: dict[uuid.UUID, str]
    next_period: Period
    planned: list[Planned]
    generated_at: datetime

    @property
    def period(self) -> Period:
        return self.summary.period

    @property
    def title(self) -> str:
        return _("%(client)s · report for %(month)s", client=self.client.name,
                 month=self.period.label())

    def when(self, moment: datetime) -> str:
        """A moment as the client's date and time ("3 Nov 2026, 10:00")."""
        local = aware(moment).astimezone(self.period.zone)
        return f"{format_date(local.date(), 'medium')} {local.strftime('%H:%M')}"


def build(client: Client, period: Period, *, as_of: datetime | None = None) -> Report:
    """The report of ``client`` for the month ``period``. Call inside
    ``in_language(client)``: its sentences and charts are written in that language."""
    as_of = aware(as_of or datetime.now(UTC))
    summary = queries.summary(client, period, as_of=as_of)
    daily = summary.daily
    has_impressions = (summary.current.impressions is not None
                       or summary.previous.impressions is not None)
    made = {
        "impressions": charts.impressions_chart(daily.days, daily.impressions,
                                                daily.previous_impressions,
                                                has_figures=has_impressions,
                                                chart_id="report-impressions"),
        "followers": charts.followers_chart(daily.days, daily.followers,
                                            chart_id="report-followers"),
        "networks": charts.network_chart(summary.networks, "engagement",
                                         _("Engagement per network"),
                                         chart_id="report-networks"),
    }
    following, planned = planned_next(client, period)
    return Report(client, branding_of(agency_of(client)), language_of(client), summary,
                  sentences(summary), made,
                  thumbnails(client, [b.media_id for b in summary.best]), following,
                  planned, as_of)


def render_html(client: Client, period: Period, *, pdf: bool = False,
                as_of: datetime | None = None, **page) -> str:
    """The report's HTML, in the client's language: for the browser, or for WeasyPrint
    (``pdf``: its stylesheet named for ``report_pdf.url_fetcher``, a print colour
    block, no links around). ``page`` goes to the template (the staff bar's links)."""
    with in_language(client) as language:
        report = build(client, period, as_of=as_of)
        return render_template("results/report.html", report=report, pdf=pdf,
                               language=language, network_name=network_name,
                               number=lambda v: "—" if v is None else number(v),
                               signed_percent=signed_percent, change=queries.change,
                               **page)

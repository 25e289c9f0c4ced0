"""The content calendar: every visible client's posts (in the agency's timezone) or one
client's (in the client's timezone), by month, week or list; moving a post to another
day; a client's weekly publishing slots.

Views load through ``tenant_get`` / ``client_for_view`` (404 for absent, foreign or
unassigned), check, act through a service and commit once.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_date, format_time, get_timezone
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.routing import BuildError
from wtforms import HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice

from agency.access import can, client_for_view, require
from agency.auth.services import ServiceError
from agency.clients.models import Client
from agency.extensions import db
from agency.forms import apply_service_error
from agency.main.routes import safe_next
from agency.publishing import queries as publishing_queries
from tenants.roles import Permission
from tenants.scoping import tenant_get

from . import calendar_queries as q
from . import services, slots
from .models import Post, PostStatus
from .slot_models import TimeSlot

bp = Blueprint("calendar", __name__)

STATUS_LABELS = {
    PostStatus.DRAFT: _l("Draft"),
    PostStatus.IN_REVIEW: _l("In internal review"),
    PostStatus.AWAITING_CLIENT: _l("Awaiting the client"),
    PostStatus.CHANGES_REQUESTED: _l("Changes requested"),
    PostStatus.APPROVED: _l("Approved"),
}
# Moving one of these sends it back to draft: the approval was given for the old time.
NEEDS_NEW_APPROVAL = {PostStatus.IN_REVIEW, PostStatus.AWAITING_CLIENT, PostStatus.APPROVED}


class RescheduleForm(FlaskForm):
    date = StringField(_l("New date"))
    display = HiddenField()
    next = HiddenField()


class SlotForm(FlaskForm):
    # Checked by the slot service, which says what is wrong in the reader's language.
    weekday = SelectField(_l("Day"), choices=[SelectChoice(str(i), day) for i, day in
                                              enumerate(slots.WEEKDAYS)],
                          validate_choice=False)
    time_of_day = StringField(_l("Time"))


def post_url(post_id: uuid.UUID) -> str | None:
    # The post pages are another blueprint; until they exist the calendar shows no link.
    try:
        return url_for("posts.show", post_id=post_id)
    except BuildError:
        return None


def network_name(key: str):
    from agency.networks import rules

    try:
        return rules.rules_for(key).display_name
    except ValueError:
        return key


def agency_zone() -> ZoneInfo:
    return ZoneInfo(str(get_timezone()))


def _time(moment: datetime | None) -> str:
    return format_time(moment, "short", rebase=False) if moment else ""


@bp.context_processor
def _helpers():
    return {"post_url": post_url, "network_name": network_name, "STATUS_LABELS": STATUS_LABELS,
            "NEEDS_NEW_APPROVAL": NEEDS_NEW_APPROVAL, "format_date": format_date,
            "show_time": _time, "slot_label": slots.slot_label, "WEEKDAYS": slots.WEEKDAYS,
            "WEEKDAYS_SHORT": slots.WEEKDAYS_SHORT, "PostStatus": PostStatus}


# --- the calendar -------------------------------------------------------------------------

@bp.get("/calendar")
@require()
def index():
    return _calendar(None)


@bp.get("/clients/<uuid:client_id>/calendar")
@require()
def client_calendar(client_id: uuid.UUID):
    return _calendar(client_for_view(client_id))


def _calendar(client: Client | None):
    zone = slots.client_zone(client) if client else agency_zone()
    today = datetime.now(UTC).astimezone(zone).date()
    view = q.parse_view(request.args.get("view"))
    period = q.period_for(view, q.parse_day(request.args.get("date")) or today)
    filters = q.Filters.from_args(request.args, allow_client=client is None)
    clients = q.clients_in_view(client)
    entries = q.scheduled_entries(clients, filters, period.start, period.end, zone)
    by_day = defaultdict(list)
    for entry in entries:
        by_day[entry.day].append(entry)
    unscheduled = q.unscheduled_entries(clients, filters, zone)

    def nav(**changes) -> str:
        args = {"view": view, "date": period.anchor.isoformat(), **filters.as_args()}
        args.update({k: v for k, v in changes.items()})
        args = {k: v for k, v in args.items() if v}
        if client is not None:
            return url_for("calendar.client_calendar", client_id=client.id, **args)
        return url_for("calendar.index", **args)

    return render_template(
        "calendar/index.html", client=client, zone=zone, today=today, view=view,
        period=period, filters=filters, by_day=by_day, count=len(entries),
        unscheduled=unscheduled, nav=nav,
        labels=q.labels_of(entries + unscheduled),
        filter_clients=q.filter_clients() if client is None else [],
        authors=q.authors(), networks=_network_choices(),
        display="client" if client else "agency", show_client=client is None,
        publishing=publishing_queries.summaries(
            e.post.id for e in entries + unscheduled if e.post.status == PostStatus.APPROVED),
    )


def _network_choices() -> list[tuple[str, object]]:
    from agency.networks import rules

    return [(key, network_name(key)) for key in rules.NETWORKS]


# --- moving a post to another day -----------------------------------------------------------

def _moved_to(post: Post, client: Client, value: str | None) -> datetime:
    """The post's new instant: ``value`` (a date in the client's timezone) at the post's
    current wall-clock time there, so 10:00 stays 10:00 across a daylight-saving change."""
    if client.archived_at is not None:
        raise ServiceError(_("This client is archived: restore it first."))
    if post.scheduled_at is None:
        raise ServiceError(_("This post has no time yet: open it to choose one."),
                           field="date")
    day = q.parse_day(value)
    if day is None:
        raise ServiceError(_("Choose a date."), field="date")
    zone = slots.client_zone(client)
    clock = slots.as_utc(post.scheduled_at).astimezone(zone).time()
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


@bp.post("/posts/<uuid:post_id>/reschedule")
@require()
def reschedule(post_id: uuid.UUID):
    post = tenant_get(Post, post_id)
    client = client_for_view(post.client_id)
    if not can(Permission.CLIENT_EDIT):
        abort(403)
    form = RescheduleForm()
    partial = request.headers.get("HX-Request") == "true"
    zone = agency_zone() if form.display.data == "agency" else slots.client_zone(client)
    try:
        if not form.validate():
            raise ServiceError(_("Please reload the page and try again."))
        moment = _moved_to(post, client, form.date.data)
        changed = False
        if moment != slots.as_utc(post.scheduled_at):  # dropped back on its own day
            changed = services.update_post(post, client, {"scheduled_at": moment},
                                           current_user.id)
    except ServiceError as error:
        apply_service_error(form, error)
        template = "calendar/_move_error.html" if partial else "calendar/reschedule.html"
        return render_template(template, form=form, error=error, client=client,
                               entry=q.entry_for(post, zone), zone=zone,
                               display=form.display.data), 422
    db.session.commit()
    entry = q.entry_for(post, zone)
    if partial:
        return render_template("calendar/_chip.html", e=entry, zone=zone,
                               show_client=form.display.data == "agency",
                               moved=changed)
    if changed:
        flash(_("Moved to %(day)s.", day=format_date(entry.client_local.date(), "full")),
              "success")
    default = url_for("calendar.client_calendar", client_id=client.id,
                      date=entry.client_local.date().isoformat())
    return redirect(safe_next(form.next.data, default), code=303)


# --- publishing slots -----------------------------------------------------------------------

def _slots_page(client: Client, form: SlotForm, status: int = 200):
    zone = slots.client_zone(client)
    upcoming = slots.next_free_slot(client, datetime.now(UTC))
    return render_template(
        "calendar/slots.html", client=client, form=form, slots=slots.slots_of(client),
        zone=zone, upcoming=upcoming.astimezone(zone) if upcoming else None,
    ), status


@bp.get("/clients/<uuid:client_id>/slots")
@require()
def client_slots(client_id: uuid.UUID):
    return _slots_page(client_for_view(client_id), SlotForm())


@bp.post("/clients/<uuid:client_id>/slots")
@require(Permission.CLIENT_EDIT)
def add_slot(client_id: uuid.UUID):
    client = client_for_view(client_id)
    form = SlotForm()
    if not form.validate():
        return _slots_page(client, form, 422)
    try:
        slot = slots.add_slot(client, form.weekday.data, form.time_of_day.data or "")
    except ServiceError as error:
        apply_service_error(form, error)
        return _slots_page(client, form, 422)
    label = slots.slot_label(slot)
    db.session.commit()
    flash(_("Slot %(slot)s added.", slot=label), "success")
    return redirect(url_for("calendar.client_slots", client_id=client.id), code=303)


@bp.post("/clients/<uuid:client_id>/slots/<uuid:slot_id>/delete")
@require(Permission.CLIENT_EDIT)
def delete_slot(client_id: uuid.UUID, slot_id: uuid.UUID):
    client = client_for_view(client_id)
    slot = tenant_get(TimeSlot, slot_id)
    if slot.client_id != client.id:
        abort(404)
    if client.archived_at is not None:
        flash(_("This client is archived. Restore it before making changes."), "error")
        return redirect(url_for("calendar.client_slots", client_id=client.id), code=303)
    label = slots.slot_label(slot)
    slots.remove_slot(slot)
    db.session.commit()
    flash(_("Slot %(slot)s removed.", slot=label), "success")
    return redirect(url_for("calendar.client_slots", client_id=client.id), code=303)


@bp.get("/clients/<uuid:client_id>/slots/next")
@require()
def next_slot(client_id: uuid.UUID):
    """JSON for the composer: the next free slot, as a local time in the client's timezone
    (``null`` when the client has no slots). ``?after=YYYY-MM-DDTHH:MM`` (client time)
    searches after that moment instead of now."""
    client = client_for_view(client_id)
    zone = slots.client_zone(client)
    after = datetime.now(UTC)
    if request.args.get("after"):
        try:
            after = datetime.fromisoformat(request.args["after"])
        except ValueError:
            return jsonify({"error": _("Write the time as YYYY-MM-DDTHH:MM.")}), 422
        if after.tzinfo is None:
            after = after.replace(tzinfo=zone)
    moment = slots.next_free_slot(client, max(after, datetime.now(UTC)))
    local = moment.astimezone(zone) if moment else None
    return jsonify({
        "scheduled_at_local": local.strftime("%Y-%m-%dT%H:%M") if local else None,
        "scheduled_at": moment.isoformat() if moment else None,
        "timezone": zone.key,
    })

"""The composer's "Options per network" fields: declared on the post form, turned into the
options the services check (agency/content/options.py), and filled back from a post.

Only the networks the post targets give options: a section of a network not ticked is
ignored (without JavaScript every section stays on the page). Dates are typed as a day
and a time in the client's zone, like the post's schedule. An X thread is one text box,
its posts separated by a line holding only three dashes.
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import (
    DateField,
    Field,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import Length, Optional

from agency.auth.services import ServiceError

from .options import CTA_TYPES, OPTION_NETWORKS
from .options_text import CTA_LABELS, own_places

THREAD_SEPARATOR = "---"
_LONG = 5000


def name(network: str, key: str) -> str:
    return f"opt_{network}_{key}"


# (network, key) → an unbound field; ``key`` is the option's path with "_" for ".".
FIELDS = {
    ("google_business", "topic"): SelectField(
        _l("Kind of post"), default="STANDARD", validate_choice=False,
        choices=[SelectChoice("STANDARD", _l("News")), SelectChoice("EVENT", _l("Event")),
                 SelectChoice("OFFER", _l("Offer"))]),
    ("google_business", "cta_type"): SelectField(
        _l("Button"), default="", validate_choice=False,
        choices=[SelectChoice("", _l("No button"))]
        + [SelectChoice(kind, CTA_LABELS[kind]) for kind in CTA_TYPES]),
    ("google_business", "cta_url"): StringField(_l("The button's link"),
                                                validators=[Length(max=_LONG)]),
    ("google_business", "event_title"): StringField(_l("Title of the event or name of the "
                                                       "offer"), validators=[Length(max=_LONG)]),
    ("google_business", "event_start_date"): DateField(_l("Start date"),
                                                       validators=[Optional()]),
    ("google_business", "event_start_time"): TimeField(_l("Start time"), validators=[Optional()]),
    ("google_business", "event_end_date"): DateField(_l("End date"), validators=[Optional()]),
    ("google_business", "event_end_time"): TimeField(_l("End time"), validators=[Optional()]),
    ("google_business", "offer_coupon_code"): StringField(_l("Coupon code"),
                                                          validators=[Length(max=_LONG)]),
    ("google_business", "offer_redeem_url"): StringField(_l("Link to use the offer online"),
                                                         validators=[Length(max=_LONG)]),
    ("google_business", "offer_terms"): TextAreaField(_l("Conditions"),
                                                      validators=[Length(max=_LONG)]),
    ("instagram", "kind"): RadioField(
        _l("Publish as"), default="feed", validate_choice=False,
        choices=[SelectChoice("feed", _l("A feed post")), SelectChoice("reel", _l("A reel"))]),
    ("instagram", "location_id"): StringField(_l("Location tag"),
                                              validators=[Length(max=_LONG)]),
    ("facebook", "place_id"): StringField(_l("Location tag"), validators=[Length(max=_LONG)]),
    ("x", "thread"): TextAreaField(_l("Thread"), validators=[Length(max=200_000)]),
}
# Where a refusal about a whole section lands.
_FIRST = {"google_business": "topic", "instagram": "kind", "facebook": "place_id",
          "x": "thread"}
_SECTION_FIRST = {"cta": "cta_type", "event": "event_title", "offer": "offer_coupon_code",
                  "language": "topic"}
PLACE_KEYS = {"facebook": "place_id", "instagram": "location_id"}


def declare(form_class) -> None:
    """Add the option fields to ``form_class``."""
    for (network, key), unbound in FIELDS.items():
        setattr(form_class, name(network, key), unbound)


def _data(form, network: str, key: str):
    return form[name(network, key)].data


def _str(form, network: str, key: str) -> str:
    return (_data(form, network, key) or "").strip()


def _moment(day: date | None, clock: time | None, default: time, tz_name: str,
            field: str) -> str:
    """A day and a time typed in the client's zone, as ISO 8601 with that zone's offset;
    "" when neither was typed."""
    if day is None:
        if clock is not None:
            raise ServiceError(_("Give the day too."), field=field)
        return ""
    zone = ZoneInfo(tz_name)
    local = datetime.combine(day, (clock or default).replace(second=0, microsecond=0),
                             tzinfo=zone)
    if local.astimezone(ZoneInfo("UTC")).astimezone(zone).replace(tzinfo=None) \
            != local.replace(tzinfo=None):
        raise ServiceError(_("This time does not exist on that day in %(tz)s (the clocks "
                             "change). Choose another time.", tz=tz_name), field=field)
    return local.isoformat()


def _google(form, tz_name: str) -> dict:
    out: dict = {"topic": _data(form, "google_business", "topic") or "STANDARD"}
    kind, url = _str(form, "google_business", "cta_type"), _str(form, "google_business",
                                                                 "cta_url")
    if kind or url:
        out["cta"] = {"type": kind, **({"url": url} if url else {})}
    base = "options.google_business.event"
    event = {
        "title": _str(form, "google_business", "event_title"),
        # A day without a time: the offer or event runs from the start of the first day
        # to the end of the last.
        "start": _moment(_data(form, "google_business", "event_start_date"),
                         _data(form, "google_business", "event_start_time"), time(0, 0),
                         tz_name, f"{base}.start"),
        "end": _moment(_data(form, "google_business", "event_end_date"),
                       _data(form, "google_business", "event_end_time"), time(23, 59),
                       tz_name, f"{base}.end"),
    }
    if any(event.values()):
        out["event"] = event
    offer = {key: _str(form, "google_business", f"offer_{key}")
             for key in ("coupon_code", "redeem_url", "terms")}
    if any(offer.values()):
        out["offer"] = offer
    return out


def split_thread(text: str) -> list[str]:
    parts, current = [], []
    for line in (text or "").splitlines():
        if line.strip() == THREAD_SEPARATOR:
            parts.append("\n".join(current))
            current = []
        else:
            current.append(line)
    parts.append("\n".join(current))
    return [part.strip() for part in parts if part.strip()]


def values(form, networks: set[str], tz_name: str) -> dict:
    """The options typed for the networks targeted (the others' sections are ignored)."""
    out: dict = {}
    if "google_business" in networks:
        out["google_business"] = _google(form, tz_name)
    if "instagram" in networks:
        out["instagram"] = {"kind": _data(form, "instagram", "kind") or "feed",
                            "location_id": _str(form, "instagram", "location_id")}
    if "facebook" in networks:
        out["facebook"] = {"place_id": _str(form, "facebook", "place_id")}
    if "x" in networks:
        out["x"] = {"thread": split_thread(_data(form, "x", "thread") or "")}
    return out


def fill(form, options: dict, tz_name: str) -> None:
    """Show a post's stored options."""
    google = options.get("google_business") or {}
    form[name("google_business", "topic")].data = google.get("topic") or "STANDARD"
    cta = google.get("cta") or {}
    form[name("google_business", "cta_type")].data = cta.get("type") or ""
    form[name("google_business", "cta_url")].data = cta.get("url") or ""
    event = google.get("event") or {}
    form[name("google_business", "event_title")].data = event.get("title") or ""
    zone = ZoneInfo(tz_name)
    for end in ("start", "end"):
        if event.get(end):
            local = datetime.fromisoformat(event[end]).astimezone(zone)
            form[name("google_business", f"event_{end}_date")].data = local.date()
            form[name("google_business", f"event_{end}_time")].data = local.time()
    offer = google.get("offer") or {}
    for key in ("coupon_code", "redeem_url", "terms"):
        form[name("google_business", f"offer_{key}")].data = offer.get(key) or ""
    instagram = options.get("instagram") or {}
    form[name("instagram", "kind")].data = instagram.get("kind") or "feed"
    form[name("instagram", "location_id")].data = instagram.get("location_id") or ""
    form[name("facebook", "place_id")].data = (options.get("facebook") or {}).get(
        "place_id") or ""
    thread = (options.get("x") or {}).get("thread") or []
    form[name("x", "thread")].data = f"\n{THREAD_SEPARATOR}\n".join(thread)


def default_places(accounts, address: str = "") -> dict[str, dict]:
    """{network: {"page_id", "address"}} for Facebook and Instagram when the client's
    accounts of that network name exactly one place of their own (their Page's): the
    location tag a new post starts with. With several, none is guessed."""
    out = {}
    for network in PLACE_KEYS:
        places = own_places([a for a in accounts if a.network == network], address)
        if len(places) == 1:
            [(page_id, where)] = places.items()
            out[network] = {"page_id": page_id, "address": where}
    return out


def prefill_places(form, places: dict[str, dict], networks: set[str] = frozenset()) -> None:
    """Start the location tags at the client's own place, except for ``networks`` (those
    a saved post already targets: what it stores, even empty, is what it will do)."""
    for network, key in PLACE_KEYS.items():
        if network in places and network not in networks:
            form[name(network, key)].data = places[network]["page_id"]


def field_for(form, service_field: str) -> Field | None:
    """The field a service's ``options.<network>.<path>`` refusal belongs beside."""
    parts = service_field.split(".")[1:]
    if not parts or parts[0] not in OPTION_NETWORKS:
        return None
    network, path = parts[0], parts[1:]
    candidates = []
    if path:
        key = "_".join(path)
        candidates += [key, f"{key}_date", _SECTION_FIRST.get(path[0], "")]
    candidates.append(_FIRST[network])
    for key in candidates:
        if (network, key) in FIELDS:
            return form[name(network, key)]
    return None


def has_errors(form, network: str) -> bool:
    return any(form[name(n, key)].errors for n, key in FIELDS if n == network)

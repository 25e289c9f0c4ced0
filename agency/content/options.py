"""Per-network post options: what a network publishes beyond the text, checked and put in
the one form they are stored, hashed and published in.

The adapters read ``Outgoing.options``, i.e. ``revision.content["options"][network]``, so
these keys are a contract with them (agency/networks/google_posts.py, instagram.py,
facebook.py, the X adapter):

- ``google_business``: ``topic`` "EVENT" | "OFFER" (left out for "STANDARD", the default);
  ``cta`` ``{"type": BOOK | ORDER | SHOP | LEARN_MORE | SIGN_UP | CALL, "url"}`` (https;
  CALL takes no url: Google dials the profile's phone number); ``event`` ``{"title",
  "start", "end"}``, required for EVENT and OFFER (an offer's title is its name), start
  and end ISO 8601 date-times with the client's own UTC offset; ``offer``
  ``{"coupon_code", "redeem_url", "terms"}``, OFFER only; ``language`` "fr" | "en", set
  from the client's language whenever the post targets Google (never typed by a person).
- ``instagram``: ``kind`` "reel" (left out for "feed"); ``location_id``.
- ``facebook``: ``place_id``.
- ``x``: ``thread``, the further posts of a thread after the post's own text (each at
  most 280 weighted characters, at most 25 of them).

Only networks the post targets may carry options; blanks and defaults are left out, and a
network left with nothing is dropped, so the same meaning always gives the same dict (and
the same content hash). Everything else is refused with a ``ServiceError`` naming the
field (``options.<network>.<key>``), before anything is written.

Google's documented constraints (LocalPost, v4 REST reference,
https://developers.google.com/my-business/reference/rest/v4/accounts.locations.localPosts):
``event`` is "Required for topic types EVENT and OFFER"; ``callToAction`` is "Ignored for
topic type OFFER" (so a button on an offer is refused rather than silently dropped);
``offer`` "should only be set when the topicType is OFFER". Google's own editor caps an
event's or offer's title at 58 characters. A location tag is the id of a place's Facebook
Page (Graph API ``place`` on Page posts; Instagram ``location_id`` on containers: "The ID
of a Page associated with a location"), i.e. digits.

Pure: no database and no request. Messages are translated when raised (app context).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask_babel import gettext as _

from agency.auth.services import ServiceError

OPTION_NETWORKS = ("google_business", "instagram", "facebook", "x")
TOPICS = ("STANDARD", "EVENT", "OFFER")
CTA_TYPES = ("BOOK", "ORDER", "SHOP", "LEARN_MORE", "SIGN_UP", "CALL")
INSTAGRAM_KINDS = ("feed", "reel")
LANGUAGES = ("fr", "en")
MAX_THREAD_PARTS = 25
EVENT_TITLE_MAX = 58  # Google's own editor
# Our own bounds, far above what a person writes, so a row stays a sensible size.
URL_MAX = 2048
COUPON_MAX = 58
TERMS_MAX = 5000
PLACE_ID_MAX = 32

_KEYS = {
    "google_business": ("topic", "cta", "event", "offer", "language"),
    "instagram": ("kind", "location_id"),
    "facebook": ("place_id",),
    "x": ("thread",),
}
_SECTION_KEYS = {"cta": ("type", "url"), "event": ("title", "start", "end"),
                 "offer": ("coupon_code", "redeem_url", "terms")}
_PLACE_ID = re.compile(rf"[0-9]{{1,{PLACE_ID_MAX}}}")


def _refuse(message: str, field: str) -> ServiceError:
    return ServiceError(message, field=field)


def _network_name(network: str) -> str:
    from agency.networks.rules import NETWORKS, rules_for

    return str(rules_for(network).display_name) if network in NETWORKS else network


# --- shapes -------------------------------------------------------------------------------

def _object(value: Any, field: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _refuse(_("These options must be given as an object of named values."), field)
    return value


def _only(value: dict, allowed: Sequence[str], field: str) -> None:
    unknown = sorted(str(k) for k in value if k not in allowed)
    if unknown:
        raise _refuse(_("Unknown option “%(key)s”. Known here: %(known)s.",
                        key=unknown[0][:40], known=", ".join(allowed)),
                      f"{field}.{unknown[0][:40]}")


def _text(value: Any, field: str, *, limit: int, lines: bool = False) -> str:
    """Text with its spaces tidied (runs of spaces made one; line breaks kept only where
    ``lines``, as in an offer's conditions)."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _refuse(_("This must be text."), field)
    if lines:
        text = "\n".join(" ".join(line.split()) for line in str(value).strip().splitlines())
    else:
        text = " ".join(str(value).split())
    if len(text) > limit:
        raise _refuse(_("At most %(max)d characters.", max=limit), field)
    return text


def _https(value: Any, field: str) -> str:
    url = _text(value, field, limit=URL_MAX)
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme.lower() != "https" or not parts.hostname or " " in url:
        raise _refuse(_("Give a web address starting with https://, for example "
                        "https://www.example.fr/reserver."), field)
    return url


def _place(value: Any, field: str) -> str:
    place = _text(value, field, limit=PLACE_ID_MAX + 10)
    if place and not _PLACE_ID.fullmatch(place):
        raise _refuse(_("A place is given by the id of its Facebook Page: digits only, for "
                        "example 112233445566778."), field)
    return place


def _moment(value: Any, field: str, zone: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        text = _text(value, field, limit=40)
        if not text:
            raise _refuse(_("Give a date and a time."), field)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise _refuse(_("Not a date and time: write it like 2030-05-01T09:00:00+02:00."),
                          field) from None
    if moment.tzinfo is None:
        raise _refuse(_("Give the time with its UTC offset, for example "
                        "2030-05-01T09:00:00+02:00."), field)
    # In the client's own zone: Google shows (and is sent) the business's wall-clock time.
    return moment.astimezone(zone).replace(microsecond=0)


# --- per network --------------------------------------------------------------------------

def _google(value: dict, *, zone: ZoneInfo, language: str) -> dict:
    base = "options.google_business"
    _only(value, _KEYS["google_business"], base)
    topic = _text(value.get("topic"), f"{base}.topic", limit=20).upper() or "STANDARD"
    if topic not in TOPICS:
        raise _refuse(_("A Google post is news (STANDARD), an event (EVENT) or an offer "
                        "(OFFER)."), f"{base}.topic")
    sections = {}
    for key, allowed in _SECTION_KEYS.items():
        sections[key] = _object(value.get(key), f"{base}.{key}")
        _only(sections[key], allowed, f"{base}.{key}")
    out: dict[str, Any] = {} if topic == "STANDARD" else {"topic": topic}

    cta = _call_to_action(sections["cta"], topic, base)
    if cta:
        out["cta"] = cta
    event = _event(sections["event"], topic, base, zone)
    if event:
        out["event"] = event
    offer = _offer(sections["offer"], topic, base)
    if offer:
        out["offer"] = offer
    out["language"] = language if language in LANGUAGES else LANGUAGES[0]
    return out


def _call_to_action(cta: dict, topic: str, base: str) -> dict:
    kind = _text(cta.get("type"), f"{base}.cta.type", limit=20).upper()
    url_given = cta.get("url") not in (None, "")
    if not kind:
        if url_given:
            raise _refuse(_("Choose the button this link goes with."), f"{base}.cta.type")
        return {}
    if topic == "OFFER":
        raise _refuse(_("Google puts its own button on an offer: remove this one, and give "
                        "the offer's link instead."), f"{base}.cta.type")
    if kind not in CTA_TYPES:
        raise _refuse(_("The button is one of: Book, Order online, Buy, Learn more, Sign up, "
                        "Call now."), f"{base}.cta.type")
    if kind == "CALL":
        if url_given:
            raise _refuse(_("A “Call now” button dials the phone number of the Google "
                            "profile: it takes no link."), f"{base}.cta.url")
        return {"type": kind}
    url = _https(cta.get("url"), f"{base}.cta.url")
    if not url:
        raise _refuse(_("This button needs the web address it opens."), f"{base}.cta.url")
    return {"type": kind, "url": url}


def _event(event: dict, topic: str, base: str, zone: ZoneInfo) -> dict:
    given = any(event.get(k) not in (None, "") for k in _SECTION_KEYS["event"])
    if topic == "STANDARD":
        if given:
            raise _refuse(_("Only an event or an offer has a title and dates: choose Event "
                            "or Offer, or clear them."), f"{base}.event")
        return {}
    is_event = topic == "EVENT"
    title = _text(event.get("title"), f"{base}.event.title", limit=EVENT_TITLE_MAX)
    if not title:
        raise _refuse(_("An event needs a title.") if is_event
                      else _("An offer needs a name, for example “-10 % on bread”."),
                      f"{base}.event.title")
    start = _moment(event.get("start"), f"{base}.event.start", zone)
    end = _moment(event.get("end"), f"{base}.event.end", zone)
    if end <= start:
        raise _refuse(_("The end must come after the start."), f"{base}.event.end")
    return {"title": title, "start": start.isoformat(), "end": end.isoformat()}


def _offer(offer: dict, topic: str, base: str) -> dict:
    out = {
        "coupon_code": _text(offer.get("coupon_code"), f"{base}.offer.coupon_code",
                             limit=COUPON_MAX),
        "redeem_url": _https(offer.get("redeem_url"), f"{base}.offer.redeem_url"),
        "terms": _text(offer.get("terms"), f"{base}.offer.terms", limit=TERMS_MAX,
                       lines=True),
    }
    out = {k: v for k, v in out.items() if v}
    if out and topic != "OFFER":
        raise _refuse(_("A coupon code, an offer's link or its conditions are for an offer: "
                        "choose Offer, or clear them."), f"{base}.offer")
    return out


def _instagram(value: dict, *, media_kinds: Sequence[str]) -> dict:
    base = "options.instagram"
    _only(value, _KEYS["instagram"], base)
    kind = _text(value.get("kind"), f"{base}.kind", limit=10).lower() or "feed"
    if kind not in INSTAGRAM_KINDS:
        raise _refuse(_("An Instagram post is a feed post (feed) or a reel (reel)."),
                      f"{base}.kind")
    if kind == "reel" and list(media_kinds) != ["video"]:
        raise _refuse(_("A reel is one video, alone: keep a single video, or publish a feed "
                        "post."), f"{base}.kind")
    out = {} if kind == "feed" else {"kind": kind}
    place = _place(value.get("location_id"), f"{base}.location_id")
    if place:
        out["location_id"] = place
    return out


def _facebook(value: dict) -> dict:
    base = "options.facebook"
    _only(value, _KEYS["facebook"], base)
    place = _place(value.get("place_id"), f"{base}.place_id")
    return {"place_id": place} if place else {}


def _x(value: dict) -> dict:
    from agency.networks.rules import measure

    field = "options.x.thread"
    _only(value, _KEYS["x"], "options.x")
    thread = value.get("thread")
    if thread is None:
        return {}
    if isinstance(thread, str) or not isinstance(thread, list | tuple):
        raise _refuse(_("A thread is a list of texts, one per further post."), field)
    parts = []
    for part in thread:
        if not isinstance(part, str):
            raise _refuse(_("A thread is a list of texts, one per further post."), field)
        if part.strip():
            parts.append(part.strip())
    if len(parts) > MAX_THREAD_PARTS:
        raise _refuse(_("At most %(n)d further posts in a thread on X.", n=MAX_THREAD_PARTS),
                      field)
    for number, part in enumerate(parts, start=2):  # the post's own text is the first
        size = measure("x", part)
        if size.length > size.limit:
            raise _refuse(_("Post %(n)d of the thread is too long for X: %(length)d "
                            "characters out of %(limit)d.", n=number, length=size.length,
                            limit=size.limit), field)
    return {"thread": parts} if parts else {}


# --- the whole ----------------------------------------------------------------------------

def clean_options(raw: Any, networks: Iterable[str], *, tz_name: str, language: str,
                  media_kinds: Sequence[str] = ()) -> dict:
    """``raw`` (as given by a form or the API) checked and normalised for a post that
    targets ``networks``, with ``media_kinds`` its media in order ("image"/"video").
    ``language`` (the client's) goes into Google's options whenever Google is targeted,
    whatever was given. Raises ``ServiceError`` (nothing to undo: this writes nothing)."""
    targeted = set(networks)
    given = _object(raw, "options")
    zone = ZoneInfo(tz_name)
    out: dict[str, dict] = {}
    for network in sorted(given, key=str):
        if network not in OPTION_NETWORKS:
            raise _refuse(_("%(network)s takes no options.", network=_network_name(
                str(network))[:40]), f"options.{str(network)[:40]}")
        value = _object(given[network], f"options.{network}")
        if not value:
            continue  # nothing asked for: harmless even for a network not targeted
        if network not in targeted:
            raise _refuse(_("Options were given for %(network)s, which this post does not "
                            "target.", network=_network_name(network)), f"options.{network}")
        if network == "google_business":
            cleaned = _google(value, zone=zone, language=language)
        elif network == "instagram":
            cleaned = _instagram(value, media_kinds=media_kinds)
        elif network == "facebook":
            cleaned = _facebook(value)
        else:
            cleaned = _x(value)
        if cleaned:
            out[network] = cleaned
    if "google_business" in targeted and "google_business" not in out:
        # Google is told the post's language; without it, it would guess.
        out["google_business"] = _google({}, zone=zone, language=language)
    return out


def check_dates(options: dict, *, now: datetime, publish_at: datetime | None) -> None:
    """A Google event or offer must still be running when the post goes out. Checked when
    the options or the schedule change (an old post may keep an offer that has ended)."""
    event = (options.get("google_business") or {}).get("event")
    if not event:
        return
    end = datetime.fromisoformat(event["end"])
    field = "options.google_business.event.end"
    if end <= now:
        raise _refuse(_("This end is in the past."), field)
    if publish_at is not None and end <= publish_at:
        raise _refuse(_("It ends before the post goes out: choose a later end, or an "
                        "earlier time for the post."), field)


def for_networks(options: dict | None, networks: Iterable[str]) -> dict:
    """The options of ``networks`` only, empty ones dropped (what the hash covers)."""
    wanted = set(networks)
    return {network: dict(value) for network, value in sorted((options or {}).items())
            if network in wanted and value}

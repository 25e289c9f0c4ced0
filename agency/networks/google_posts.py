"""A Google Business Profile local post, built from a publication and its options, and
checked before anything is sent.

The body is a ``LocalPost`` of the v4 API
(https://developers.google.com/my-business/reference/rest/v4/accounts.locations.localPosts):
``languageCode``, ``summary``, ``topicType`` (STANDARD, EVENT or OFFER),
``callToAction {actionType, url}``, ``event {title, schedule {startDate, startTime,
endDate, endTime}}`` ("Required for topic types EVENT and OFFER"), ``offer {couponCode,
redeemOnlineUrl, termsConditions}`` ("only … when the topicType is OFFER") and ``media
[{mediaFormat: PHOTO, sourceUrl}]`` ("sourceUrl is the only supported data field").

The options a post may carry for ``google_business`` (``Outgoing.options``; the composer
checks and stores them in this form, agency/content/options.py, and they are checked again
here since a revision may predate a rule):

- ``topic``: "STANDARD" (the default: what's new), "EVENT" or "OFFER".
- ``language``: the post's language (BCP 47: "fr", "en"…), which the composer sets from
  the client's language; "fr" when absent (an older revision).
- ``cta``: ``{"type": BOOK | ORDER | SHOP | LEARN_MORE | SIGN_UP | CALL, "url"}``; the
  url is required (http or https) except for CALL, which takes none ("This field should be
  left unset for Call CTA"): a url given with CALL is not sent. Google ignores a button on
  an OFFER ("Ignored for topic type OFFER"), so none is sent there: an offer's link is
  its ``redeem_url``.
- ``event``: ``{"title", "start", "end"}``, required for EVENT and OFFER; start and end are
  ISO 8601 date-times in the client's own zone, with its offset (a date alone means the
  whole day, 00:00 to 23:59). Google's schedule has no time zone: it is the business's
  wall-clock time, so the date and time are sent as written, the offset not converted.
- ``offer``: ``{"coupon_code", "redeem_url", "terms"}`` (Google's own ``couponCode``,
  ``redeemOnlineUrl``, ``termsConditions`` are read too), all optional, only for OFFER.

Problems come out as ``PermanentError`` with a reason a person can act on; nothing has
been sent then.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask_babel import gettext as _

from .base import Outgoing, PermanentError

TOPICS = ("STANDARD", "EVENT", "OFFER")
CTA_TYPES = ("BOOK", "ORDER", "SHOP", "LEARN_MORE", "SIGN_UP", "CALL")
DEFAULT_LANGUAGE = "fr"
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*")
# Relais's names (agency/content/options.py) first, then Google's own.
_OFFER_FIELDS = (("couponCode", ("coupon_code", "couponCode")),
                 ("redeemOnlineUrl", ("redeem_url", "redeemOnlineUrl")),
                 ("termsConditions", ("terms", "termsConditions")))


def _refuse(reason: str, detail: str) -> PermanentError:
    return PermanentError(reason, detail=f"google_business options: {detail}")


def topic_of(options: dict) -> str:
    return str((options or {}).get("topic") or "STANDARD").strip().upper()


def language_of(options: dict) -> str:
    language = str((options or {}).get("language") or DEFAULT_LANGUAGE).strip()
    if not _LANGUAGE.fullmatch(language):
        raise _refuse(_("The post's language for Google (%(language)s) is not a language "
                        "code such as fr or en-GB.", language=language[:20]), "language")
    return language


def _web_url(value: Any, refusal: str, detail: str) -> str:
    url = str(value or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2048:
        raise _refuse(refusal, detail)
    return url


def _section(options: dict, key: str) -> dict:
    value = options.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _refuse(_("The post's Google options are damaged (%(key)s). Edit the post "
                        "and choose them again.", key=key), f"{key} is not an object")
    return value


def _call_to_action(options: dict, topic: str) -> dict | None:
    cta = _section(options, "cta")
    if not cta or topic == "OFFER":
        return None  # Google ignores a button on an offer
    kind = str(cta.get("type") or "").strip().upper()
    if kind not in CTA_TYPES:
        raise _refuse(_("The Google button must be one of: Book, Order, Shop, Learn more, "
                        "Sign up or Call."), f"cta type {kind[:20]!r}")
    if kind == "CALL":
        return {"actionType": "CALL"}  # Google calls the location's phone number
    return {"actionType": kind, "url": _web_url(
        cta.get("url"), _("The Google button's link must be a web address starting with "
                          "http:// or https://."), "cta url")}


def _moment(value: Any, *, end: bool) -> datetime:
    text = str(value or "").strip()
    try:
        if len(text) == 10:  # a date alone: the whole day
            day = date.fromisoformat(text)
            return datetime.combine(day, time(23, 59) if end else time(0, 0))
        return datetime.fromisoformat(text).replace(tzinfo=None)  # wall-clock, as written
    except ValueError:
        reason = (_("The end date for Google is not a date (write it like 2030-06-21 or "
                    "2030-06-21T19:00).") if end else
                  _("The start date for Google is not a date (write it like 2030-06-21 or "
                    "2030-06-21T19:00)."))
        raise _refuse(reason, "event date") from None


def _event(options: dict, topic: str, now: datetime) -> dict | None:
    event = _section(options, "event")
    if topic == "STANDARD":
        return None
    is_event = topic == "EVENT"
    title = " ".join(str(event.get("title") or "").split())
    if not title or not event.get("start") or not event.get("end"):
        raise _refuse(_("A Google event needs a title, a start and an end. Edit the post to "
                        "add them.") if is_event else
                      _("A Google offer needs a title, a start and an end. Edit the post to "
                        "add them."), "event incomplete")
    start, finish = _moment(event["start"], end=False), _moment(event["end"], end=True)
    if finish <= start:
        raise _refuse(_("The Google event ends before it starts. Edit its dates.") if is_event
                      else _("The Google offer ends before it starts. Edit its dates."),
                      "event end before start")
    # Wall-clock times of an unknown zone: a day's slack before calling it over.
    if finish < now.astimezone(UTC).replace(tzinfo=None) - timedelta(days=1):
        raise _refuse(_("The Google event is already over. Edit its dates.") if is_event
                      else _("The Google offer is already over. Edit its dates."), "event over")
    return {"title": title, "schedule": {
        "startDate": {"year": start.year, "month": start.month, "day": start.day},
        "startTime": {"hours": start.hour, "minutes": start.minute, "seconds": 0, "nanos": 0},
        "endDate": {"year": finish.year, "month": finish.month, "day": finish.day},
        "endTime": {"hours": finish.hour, "minutes": finish.minute, "seconds": 0, "nanos": 0},
    }}


def _offer(options: dict, topic: str) -> dict | None:
    offer = _section(options, "offer")
    if topic != "OFFER":
        return None
    body = {}
    for field, names in _OFFER_FIELDS:
        value = next((offer[n] for n in names if offer.get(n)), "")
        value = str(value).strip()
        if value:
            body[field] = value if field != "redeemOnlineUrl" else _web_url(
                value, _("The offer's link on Google must be a web address starting with "
                         "http:// or https://."), "offer url")
    return body


def _media(outgoing: Outgoing) -> list[dict]:
    if not outgoing.media:
        return []
    if len(outgoing.media) > 1 or outgoing.media[0].kind != "image":
        raise _refuse(_("A Google Business Profile post takes one photo, and no video. "
                        "Keep a single photo."), "media")
    url = outgoing.media[0].url
    if not url:
        raise _refuse(_("Google fetches the photo from Relais itself, so Relais needs its "
                        "public address: the administrator must set PUBLIC_URL. Until then, "
                        "publish this post without its photo."), "no PUBLIC_URL")
    return [{"mediaFormat": "PHOTO", "sourceUrl": url}]


def local_post(outgoing: Outgoing, now: datetime | None = None) -> dict:
    """The ``LocalPost`` to create for ``outgoing``; ``PermanentError`` if its options or
    media cannot make one."""
    now = now or datetime.now(UTC)
    options = outgoing.options if isinstance(outgoing.options, dict) else {}
    topic = topic_of(options)
    if topic not in TOPICS:
        raise _refuse(_("A Google post is news, an event or an offer: choose one of these."),
                      f"topic {topic[:20]!r}")
    body: dict[str, Any] = {"languageCode": language_of(options), "topicType": topic}
    if outgoing.text.strip():
        body["summary"] = outgoing.text
    media = _media(outgoing)
    if media:
        body["media"] = media
    if topic == "STANDARD" and not (outgoing.text.strip() or media):
        raise _refuse(_("A Google post needs a text or a photo."), "empty")
    for key, value in (("callToAction", _call_to_action(options, topic)),
                       ("event", _event(options, topic, now)),
                       ("offer", _offer(options, topic))):
        if value is not None:
            body[key] = value
    return body

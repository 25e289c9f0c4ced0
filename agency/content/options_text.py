"""A post's per-network options in plain words, for the person who approves it (the
previews of the portal, the client area and the post page) and for the revision diff.

Dates are read as stored: in the client's own time zone (agency/content/options.py puts
them there), so "valid until 12 March" is the business's 12 March. Needs an app context
(the words are translated into the reader's language).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask_babel import format_date, format_datetime
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

CTA_LABELS = {  # as Google Business Profile labels its buttons
    "BOOK": _l("Book"), "ORDER": _l("Order online"), "SHOP": _l("Buy"),
    "LEARN_MORE": _l("Learn more"), "SIGN_UP": _l("Sign up"), "CALL": _l("Call now"),
}
LANGUAGE_NAMES = {"fr": _l("French"), "en": _l("English")}


@dataclass
class OptionWords:
    lines: list[str] = field(default_factory=list)
    thread: list[str] = field(default_factory=list)  # an X thread's further posts, in order

    def __bool__(self) -> bool:
        return bool(self.lines or self.thread)


def own_places(accounts, address: str = "") -> dict[str, str]:
    """{Page id: its address} of the accounts whose Page is a place (their settings say
    ``has_location``): the place their posts are tagged with unless a person chose
    another. ``address`` (the client's) is preferred to the one the Page gave."""
    places = {}
    for account in accounts:
        settings = account.settings or {}
        page_id = str(settings.get("page_id") or "")
        if settings.get("has_location") is True and page_id:
            places.setdefault(page_id, address or str(settings.get("address") or ""))
    return places


def _moment(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None


def _day(moment: datetime, now: datetime) -> str:
    return format_date(moment.date(), "d MMMM" if moment.year == now.year else "d MMMM yyyy")


def _clock(moment: datetime) -> str:
    return format_datetime(moment, "HH:mm", rebase=False)


def _place(place: str, places: dict[str, str] | None) -> str:
    if places is None:  # not known here (the API's diff): no judgement on whose place
        return _("At the place of Facebook Page %(id)s", id=place)
    if place in places:
        if places[place]:
            return _("At %(address)s (your Page's place)", address=places[place])
        return _("At your Page's place")
    return _("At another place (Facebook Page %(id)s)", id=place)


def _event_words(topic: str, event: dict, offer: dict, now: datetime) -> list[str]:
    start, end = _moment(event.get("start")), _moment(event.get("end"))
    title = event.get("title") or ""
    if start is None or end is None:
        return [_("Offer: %(title)s", title=title) if topic == "OFFER"
                else _("Event: %(title)s", title=title)]
    if topic == "OFFER":
        period = (_("valid until %(end)s", end=_day(end, now))
                  if start.date() <= now.astimezone(start.tzinfo).date()
                  else _("valid from %(start)s to %(end)s", start=_day(start, now),
                         end=_day(end, now)))
        code = offer.get("coupon_code")
        lines = [_("Offer: %(title)s with the code %(code)s, %(period)s", title=title,
                   code=code, period=period) if code
                 else _("Offer: %(title)s, %(period)s", title=title, period=period)]
        if offer.get("redeem_url"):
            lines.append(_("To use it online: %(url)s", url=offer["redeem_url"]))
        if offer.get("terms"):
            lines.append(_("Conditions: %(terms)s", terms=offer["terms"]))
        return lines
    if start.date() == end.date():
        return [_("Event: %(title)s, %(day)s from %(start)s to %(end)s", title=title,
                  day=_day(start, now), start=_clock(start), end=_clock(end))]
    begins, ends = f"{_day(start, now)} {_clock(start)}", f"{_day(end, now)} {_clock(end)}"
    return [_("Event: %(title)s, from %(start)s to %(end)s", title=title, start=begins,
              end=ends)]


def describe(network: str, options: dict | None, *, places: dict[str, str] | None = None,
             now: datetime | None = None, with_language: bool = False) -> OptionWords:
    """What ``options`` (one network's) will do, in words. ``places`` as ``own_places``
    gives (None: not known, a place is then named by its id only); ``with_language``
    also names Google's language (the diff wants it, the owner's preview does not)."""
    options, now = options or {}, now or datetime.now(UTC)
    words = OptionWords()
    if network == "google_business":
        topic = options.get("topic") or "STANDARD"
        if topic in ("EVENT", "OFFER"):
            words.lines += _event_words(topic, options.get("event") or {},
                                        options.get("offer") or {}, now)
        cta = options.get("cta") or {}
        if cta.get("type") == "CALL":
            words.lines.append(_("Button “%(label)s”: it calls the phone number of your "
                                 "Google profile", label=CTA_LABELS["CALL"]))
        elif cta.get("type"):
            label = CTA_LABELS.get(cta["type"], cta["type"])
            words.lines.append(_("Button “%(label)s”, opening %(url)s", label=label,
                                 url=cta.get("url") or ""))
        if with_language and options.get("language"):
            words.lines.append(_("Language on Google: %(language)s", language=LANGUAGE_NAMES.get(
                options["language"], options["language"])))
    elif network == "instagram":
        if options.get("kind") == "reel":
            words.lines.append(_("Published as a reel"))
        if options.get("location_id"):
            words.lines.append(_place(str(options["location_id"]), places))
    elif network == "facebook":
        if options.get("place_id"):
            words.lines.append(_place(str(options["place_id"]), places))
    elif network == "x":
        thread = [str(part) for part in options.get("thread") or []]
        if thread:
            words.lines.append(_("Thread of %(n)d posts", n=len(thread) + 1))
            words.thread = thread
    return words


def as_text(options: dict | None, *, places: dict[str, str] | None = None,
            now: datetime | None = None) -> list[str]:
    """Every network's options as lines ("[Google Business Profile] Offer: …"), for the
    revision diff; the thread's posts are numbered as they go out (the post itself is 1)."""
    from agency.networks.rules import NETWORKS, rules_for

    lines = []
    for network, value in sorted((options or {}).items()):
        name = str(rules_for(network).display_name) if network in NETWORKS else network
        words = describe(network, value, places=places, now=now, with_language=True)
        lines += [f"[{name}] {line}" for line in words.lines]
        lines += [f"[{name}] " + _("Post %(n)d: %(text)s", n=n, text=text)
                  for n, text in enumerate(words.thread, start=2)]
    return lines


def post_options(post, network: str, client=None) -> OptionWords:
    """For the previews: what ``post`` does on ``network`` beyond its text, as of the day
    it goes out ("valid until 30 June" for an offer already running then)."""
    accounts = [t.account for t in post.targets if t.account.network == network]
    places = own_places(accounts, getattr(client, "address", "") if client else "")
    # Said as the post's readers will read it: on the day it goes out.
    when = post.scheduled_at
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # SQLite hands back naive UTC
    return describe(network, (post.options or {}).get(network), places=places, now=when)

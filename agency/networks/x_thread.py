"""What an X publication posts, in order, and how to recognise those posts on the
account's timeline.

A publication posts its text (with the media), then each part of the post's thread
option as a reply to the previous post, then its first comment as a final reply:
``parts(outgoing)``. The thread option is ``options["thread"]``, a list of texts
(``thread_problems`` says what is wrong with one; rules.py has no per-option check, so
the composer should call it before accepting a thread).

Finding posts again (``find`` and the retry after an unknown outcome) reads ``GET
/2/users/{id}/tweets`` and compares texts the way X gives them back: links shortened to
t.co, an attached media's link appended, ``&``, ``<`` and ``>`` as HTML entities (the v2
``text`` field). So both sides are compared without their links, entities decoded and
spaces collapsed. Replies are matched on ``referenced_tweets`` (``replied_to``) too.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask_babel import gettext as _

from .base import Outgoing
from .rules import measure

# Our own cap, not X's: a longer thread is more likely a mistake than a plan, and each
# part costs one call against the account's 15-minute budget.
MAX_THREAD_PARTS = 25
CLOCK_SKEW = timedelta(minutes=5)
TIMELINE_PAGES = 3  # 100 posts each: far more than one publication makes
_URL = re.compile(r"https?://\S+")


def thread_problems(options: dict | None) -> list[str]:
    """Why ``options["thread"]`` cannot be posted (reasons fit to show); [] when fine."""
    raw = (options or {}).get("thread")
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(part, str) for part in raw):
        return [_("The X thread must be a list of texts.")]
    parts = [part for part in raw if part.strip()]
    problems = []
    if len(parts) > MAX_THREAD_PARTS:
        problems.append(_("An X thread takes at most %(limit)d parts after the first post, "
                          "not %(count)d.", limit=MAX_THREAD_PARTS, count=len(parts)))
    for number, part in enumerate(parts, start=2):
        size = measure("x", part)
        if size.length > size.limit:
            problems.append(_("Post %(number)d of the X thread is too long: %(length)d "
                              "characters out of %(limit)d.", number=number,
                              length=size.length, limit=size.limit))
    return problems


def thread(options: dict | None) -> list[str]:
    """The thread's parts to post (blank ones dropped); assumes ``thread_problems`` is []."""
    raw = (options or {}).get("thread") or []
    return [part for part in raw if isinstance(part, str) and part.strip()]


def parts(outgoing: Outgoing) -> list[str]:
    """Everything the publication posts, in order (the first comment last)."""
    comment = [outgoing.first_comment] if (outgoing.first_comment or "").strip() else []
    return [outgoing.text or "", *thread(outgoing.options), *comment]


def comparable(text: str) -> str:
    return " ".join(_URL.sub(" ", html.unescape(text or "")).split())


def x_time(moment: datetime) -> str:
    """X's ``start_time`` form: YYYY-MM-DDTHH:mm:ssZ."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def timeline(call: Callable[..., Any], user_id: str, since: datetime) -> list[dict]:
    """The account's posts since ``since`` (less the clock skew), newest first."""
    earliest = since - CLOCK_SKEW
    latest = datetime.now(UTC) - timedelta(seconds=30)  # X refuses a start in the future
    params: dict[str, Any] = {
        "start_time": x_time(min(earliest, latest)), "max_results": 100,
        "tweet.fields": "created_at,text,referenced_tweets"}
    found: list[dict] = []
    for _page in range(TIMELINE_PAGES):
        answer = call("GET", f"/2/users/{user_id}/tweets", params=params)
        data = answer.get("data") if isinstance(answer, dict) else None
        found += [t for t in (data if isinstance(data, list) else [])
                  if isinstance(t, dict) and not _before(t, earliest)]
        token = ((answer or {}).get("meta") or {}).get("next_token")
        if not token:
            break
        params = {**params, "pagination_token": token}
    return found


def _before(post: dict, moment: datetime) -> bool:
    try:
        created = datetime.fromisoformat(str(post.get("created_at")).replace("Z", "+00:00"))
    except ValueError:
        return False  # no date: the start_time already bounded it
    return created < moment


def _replies_to(post: dict) -> str:
    for ref in post.get("referenced_tweets") or []:
        if isinstance(ref, dict) and ref.get("type") == "replied_to":
            return str(ref.get("id") or "")
    return ""


def chain(posts: list[dict], texts: list[str], posted: list[str]) -> list[str]:
    """``posted`` followed by the ids of the next ``texts`` found in ``posts``, each a
    reply to the one before (the first, when ``posted`` is empty, a post of its own);
    stops at the first text not found."""
    ids = list(posted)
    oldest_first = sorted(posts, key=lambda p: (str(p.get("created_at") or ""), str(p.get("id"))))
    for text in texts[len(posted):]:
        wanted = comparable(text)
        if not wanted:
            break  # a post of links or media only: nothing to recognise it by
        parent = ids[-1] if ids else ""
        match = next((p for p in oldest_first
                      if str(p.get("id")) not in ids and comparable(str(p.get("text") or ""))
                      == wanted and _replies_to(p) == parent), None)
        if match is None:
            break
        ids.append(str(match["id"]))
    return ids

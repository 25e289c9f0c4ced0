"""Each network's counters, mapped onto the columns every reading shares.

The keys are what each adapter's ``fetch_metrics`` returns (agency/networks/<network>.py;
the adapters already give the network's own names shorter, common forms: Mastodon's
``favourites_count`` is ``likes``, X's ``retweet_count`` is ``reposts``…). A column lists
the keys it adds up (a repost and a quote are both a share); a column none of whose keys
the network reported stays NULL: "not counted there" is not "none".
"""

from __future__ import annotations

from agency.results.models import POST_COUNTERS

NAMES: dict[str, dict[str, tuple[str, ...]]] = {
    # Every column under its own name (agency/results/sandbox_figures.py).
    "sandbox": {column: (column,) for column in POST_COUNTERS},
    # Statuses: favourites, boosts, replies (no views or clicks on Mastodon).
    "mastodon": {"reactions": ("likes",), "shares": ("reposts",), "comments": ("replies",)},
    # Posts: likeCount, repostCount + quoteCount, replyCount.
    "bluesky": {"reactions": ("likes",), "shares": ("reposts", "quotes"),
                "comments": ("replies",)},
    # A Page post's reactions and comments summaries, and its shares (a video has none).
    "facebook": {"reactions": ("reactions",), "comments": ("comments",),
                 "shares": ("shares",)},
    # Media insights: views, reach, likes, comments, shares, saved (as ``saves``).
    "instagram": {"impressions": ("views",), "reach": ("reach",), "reactions": ("likes",),
                  "comments": ("comments",), "shares": ("shares",), "saves": ("saves",)},
    # public_metrics and, for the account's own recent posts, non_public_metrics.
    "x": {"impressions": ("impressions",), "reactions": ("likes",), "comments": ("replies",),
          "shares": ("reposts", "quotes"), "clicks": ("url_link_clicks",),
          "saves": ("bookmarks",)},
    # An organisation's share statistics; a member's post has likes and comments only.
    "linkedin": {"impressions": ("impressions",), "reach": ("reach",),
                 "reactions": ("likes",), "comments": ("comments",), "shares": ("shares",),
                 "clicks": ("clicks",)},
    # Google reports nothing per post (agency/networks/google_business.py).
    "google_business": {},
}


def columns(network: str, metrics: dict) -> dict[str, int | None]:
    """The reading's columns from what ``network`` reported: each a sum of the integer
    counters it names, or None when the network reported none of them."""
    names = NAMES.get(network, {})
    out: dict[str, int | None] = {}
    for column in POST_COUNTERS:
        values = [metrics[key] for key in names.get(column, ())
                  if isinstance(metrics.get(key), int) and not isinstance(metrics[key], bool)]
        out[column] = sum(values) if values else None
    return out


def followers(metrics: dict) -> int | None:
    """The account's followers from ``fetch_account_metrics`` (None: not reported)."""
    value = metrics.get("followers")
    return value if isinstance(value, int) and not isinstance(value, bool) else None

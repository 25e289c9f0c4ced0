"""Google Business Profile: local posts (what's new, events, offers) on a business's
location, through the v4 API that still carries them.

Each account is one location: ``settings["account"]`` ("accounts/…") and
``settings["location"]`` ("locations/…"), chosen in the OAuth connect flow
(google_oauth.py, ``GoogleBusinessProvider``); sealed, the person's tokens
``{"access_token", "refresh_token", "expires_at", "refreshable": True}``.

What the engine can rely on:

- **Publishing.** One call: ``POST {GOOGLE_LOCAL_POSTS_URL}/{account}/{location}/localPosts``
  with the ``LocalPost`` of google_posts.py (its options, their checks, the one photo
  Google fetches from ``OutgoingMedia.url``). The answer's ``name`` is the external id and
  its ``searchUrl`` the link. A post Google answers as ``REJECTED`` (content policy) is a
  ``PermanentError``.
- **No idempotency.** The API takes no request id: ``idempotent_publish`` is False, so a
  lost answer is settled by ``find`` or by a person.
- **find** lists the location's local posts (``pageSize``/``pageToken``, a few pages) and
  matches the exact summary and topic, created after the scheduled time less five minutes
  of clock skew. Finding nothing proves nothing: ``authoritative_find = False``.
- **Tokens.** Access tokens last an hour. One at its end is renewed before the call, and
  a 401 renews it once and tries again; the renewed credentials come out of
  ``credentials_after_use`` for the engine to store. ``refresh`` renews them for
  token_health.py (``grant_type=refresh_token``); Google does not rotate refresh tokens,
  so the old one is kept unless a new one comes back, and a refresh done here at the
  same time as token_health's cannot invalidate the other's.
- **Errors and rate limits**: google_api.py (``AuthExpiredError`` for lost access,
  ``RetryableError`` with Google's delay for quotas, ``PermanentError`` quoting Google).
  ``rate_limited_until`` (UTC datetime) is set when Google says the quota is spent.
- **Metrics**: none. The per-post insights call (``localPosts:reportInsights``,
  LOCAL_POST_VIEWS_SEARCH, LOCAL_POST_ACTIONS_CALL_TO_ACTION) was removed by Google
  (Business Profile Performance API change log, "Removal of
  accounts.locations.localPosts.reportInsights endpoint"; sunset 2023-02-20), and its
  replacement reports per location and per day, not per post. ``fetch_metrics`` returns
  ``{}`` without calling anyone rather than inventing a count.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import gettext as _

from .base import (
    AuthExpiredError,
    Network,
    OutcomeUnknown,
    Outgoing,
    PermanentError,
    Published,
    RetryableError,
)
from .google_api import GoogleApi, refresh_credentials
from .google_posts import local_post, topic_of
from .http import NetworkClient

FIND_CLOCK_SKEW = timedelta(minutes=5)
FIND_PAGE_SIZE = 100  # the documented maximum
FIND_MAX_PAGES = 5


def _parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp ("2014-10-02T15:01:23.045123456Z"), or None."""
    try:
        moment = datetime.fromisoformat(str(value or ""))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class GoogleBusinessNetwork(Network):
    key = "google_business"
    idempotent_publish = False  # localPosts.create takes no request id
    authoritative_find = False  # a listing only ever proves presence

    def __init__(self) -> None:
        # When Google's quota for the project runs out (UTC), as its last refusal said.
        self.rate_limited_until: datetime | None = None
        self._renewed: dict | None = None

    # --- publishing -----------------------------------------------------------------------

    def publish(self, outgoing: Outgoing) -> Published:
        parent = self._parent(outgoing)
        body = local_post(outgoing)  # checked before anything is sent
        with self._api(outgoing) as api:
            try:
                post = api.call("POST", f"{self._base()}/{parent}/localPosts", creates=True,
                                json=body)
            finally:
                self._after(api)
        name = str(post.get("name") or "")
        if not name:
            raise OutcomeUnknown(_("Google gave an unreadable answer: the post may or may "
                                   "not be out. Relais checks before trying again."),
                                 detail="no name in the localPosts answer")
        if post.get("state") == "REJECTED":
            raise PermanentError(_("Google rejected the post under its content policies. "
                                   "Change the text or the photo, then publish again."),
                                 detail=f"{name}: state REJECTED")
        return Published(external_id=name, url=self._link(post, outgoing))

    # --- reconciliation and results -------------------------------------------------------

    def find(self, outgoing: Outgoing) -> Published | None:
        if outgoing.scheduled_at is None:
            return None  # nothing to bound the search by
        parent = self._parent(outgoing)
        moment = outgoing.scheduled_at
        since = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)) - FIND_CLOCK_SKEW
        topic, text = topic_of(outgoing.options), outgoing.text.strip()
        with self._api(outgoing) as api:
            try:
                page_token = ""
                for _page in range(FIND_MAX_PAGES):
                    params: dict[str, Any] = {"pageSize": FIND_PAGE_SIZE}
                    if page_token:
                        params["pageToken"] = page_token
                    try:
                        body = api.call("GET", f"{self._base()}/{parent}/localPosts",
                                        params=params)
                    except PermanentError as error:  # the reconciliation asks again later
                        raise RetryableError(error.reason, detail=error.detail) from None
                    for post in body.get("localPosts") or []:
                        if self._matches(post, text, topic, since):
                            return Published(external_id=str(post["name"]),
                                             url=self._link(post, outgoing))
                    page_token = str(body.get("nextPageToken") or "")
                    if not page_token:
                        break
            finally:
                self._after(api)
        return None

    @staticmethod
    def _matches(post: Any, text: str, topic: str, since: datetime) -> bool:
        if not isinstance(post, dict) or not post.get("name"):
            return False
        if str(post.get("summary") or "").strip() != text:
            return False
        if str(post.get("topicType") or topic) != topic:
            return False
        created = _parse_time(post.get("createTime"))
        return created is not None and created >= since

    def fetch_metrics(self, outgoing: Outgoing, external_id: str) -> dict[str, int]:
        # Google removed per-post insights (see the module's docstring): nothing to report.
        return {}

    def fetch_account_metrics(self, outgoing: Outgoing) -> dict[str, int]:
        # A Business Profile has no followers to count: Google's APIs expose none (the
        # Business Profile Performance API reports a location's daily impressions, calls
        # and direction requests, which are not an audience). Nothing to report.
        return {}

    # --- tokens ---------------------------------------------------------------------------

    def credentials_after_use(self) -> dict[str, Any] | None:
        return self._renewed

    def refresh(self, credentials: dict[str, Any]) -> dict[str, Any] | None:
        if not credentials.get("refresh_token"):
            return None  # a person must reconnect: token_health warns in time
        with NetworkClient() as client:
            return refresh_credentials(client, credentials)

    # --- helpers --------------------------------------------------------------------------

    @staticmethod
    def _base() -> str:
        return current_app.config["GOOGLE_LOCAL_POSTS_URL"].rstrip("/")

    @staticmethod
    def _parent(outgoing: Outgoing) -> str:
        settings = outgoing.settings or {}
        account = str(settings.get("account") or "")
        location = str(settings.get("location") or "")
        if not (account.startswith("accounts/") and location.startswith("locations/")):
            raise AuthExpiredError(_("This Google location is missing its ids. Reconnect the "
                                     "location to publish again."),
                                   detail="no account/location in settings")
        return f"{account}/{location}"

    def _api(self, outgoing: Outgoing) -> GoogleApi:
        credentials = outgoing.credentials or {}
        if not (credentials.get("access_token") or credentials.get("refresh_token")):
            raise AuthExpiredError(_("This Google location is missing its access. Reconnect "
                                     "the location to publish again."),
                                   detail="no access_token")
        return GoogleApi(self._renewed or credentials)

    def _after(self, api: GoogleApi) -> None:
        if api.renewed is not None:
            self._renewed = api.renewed
        if api.rate_limited_until is not None:
            self.rate_limited_until = api.rate_limited_until

    @staticmethod
    def _link(post: dict, outgoing: Outgoing) -> str:
        return str(post.get("searchUrl") or (outgoing.settings or {}).get("maps_uri") or "")


ADAPTER = GoogleBusinessNetwork

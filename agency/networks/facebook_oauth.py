"""Facebook's side of the OAuth connection (oauth.py): the Pages a person administers,
each with a Page access token that does not expire.

``choices`` reads ``GET /me/accounts`` page after page through ``paging.next`` (Graph API
"Paginated Results"), at most ``ACCOUNTS_MAX_PAGES`` pages of ``ACCOUNTS_PAGE_SIZE``, and
keeps the Pages whose role can publish (``CREATE_CONTENT`` among their ``tasks``). Each
Page's ``location`` field (present on Pages that are places) gives its settings
``has_location`` (the adapter then tags posts with the Page itself) and ``address``, one
line "street, zip city".
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .base import AuthExpiredError, NetworkError, PermanentError
from .facebook_graph import AppSecretRefused, FacebookGraph
from .oauth import Choice, OAuthError, Provider

log = logging.getLogger(__name__)

ACCOUNTS_PAGE_SIZE = 100
ACCOUNTS_MAX_PAGES = 10
ACCOUNT_FIELDS = "id,name,username,access_token,tasks,link,location"


def address_line(location: Any) -> str:
    """A Page's ``location`` as one line: "12 rue des Lilas, 75011 Paris"."""
    if not isinstance(location, dict):
        return ""
    street = " ".join(str(location.get("street") or "").split())
    town = " ".join(" ".join(str(location.get(k) or "") for k in ("zip", "city")).split())
    return ", ".join(part for part in (street, town) if part)[:300]


def is_place(location: Any) -> bool:
    """Whether a Page's ``location`` makes it a place posts can be tagged with."""
    return isinstance(location, dict) and bool(
        location.get("street") or location.get("city")
        or (location.get("latitude") is not None and location.get("longitude") is not None))


class FacebookProvider(Provider):
    key = "facebook"
    display_name = "Facebook"
    needs = _l("a Facebook Page you administer (you can publish as the Page)")
    # Listing the person's Pages, and publishing and reading results as them.
    scopes = ("pages_show_list", "pages_read_engagement", "pages_manage_posts")
    # Facebook authenticates the exchange with the app secret (a confidential client).
    uses_pkce = False
    config_keys = ("FACEBOOK_APP_ID", "FACEBOOK_APP_SECRET")

    def authorize_url(self, redirect_uri: str, state: str, code_challenge: str | None) -> str:
        query = {"client_id": current_app.config["FACEBOOK_APP_ID"],
                 "redirect_uri": redirect_uri, "state": state, "response_type": "code",
                 "scope": ",".join(self.scopes)}
        if code_challenge:
            query |= {"code_challenge": code_challenge, "code_challenge_method": "S256"}
        return f"{current_app.config['FACEBOOK_DIALOG_URL']}?{urlencode(query)}"

    def exchange_code(self, code: str, redirect_uri: str, verifier: str | None) -> dict:
        """The person's long-lived user token: Pages listed with it get Page tokens that
        do not expire (they stop only if the person loses the Page or revokes Relais)."""
        config = current_app.config
        app = {"client_id": config["FACEBOOK_APP_ID"],
               "client_secret": config["FACEBOOK_APP_SECRET"]}
        with FacebookGraph() as graph:
            try:
                short = graph.call("GET", "/oauth/access_token", params={
                    **app, "redirect_uri": redirect_uri, "code": code,
                    **({"code_verifier": verifier} if verifier else {})})
                token = str((short or {}).get("access_token") or "")
                if not token:
                    raise OAuthError(_("Facebook gave an unreadable answer. Start again."), 502)
                long = graph.call("GET", "/oauth/access_token", params={
                    **app, "grant_type": "fb_exchange_token", "fb_exchange_token": token})
            except (PermanentError, AuthExpiredError):
                raise OAuthError(_("Facebook did not accept this sign-in (it may have "
                                   "expired or been used already). Start again.")) from None
            except NetworkError:
                raise OAuthError(_("Could not reach Facebook. Try again in a moment."),
                                 502) from None
        return {"access_token": str((long or {}).get("access_token") or token)}

    def choices(self, tokens: dict) -> list[Choice]:
        pages: list[dict] = []
        with FacebookGraph(str(tokens.get("access_token") or "")) as graph:
            try:
                for batch in graph.pages("/me/accounts", max_pages=ACCOUNTS_MAX_PAGES,
                                         params={"fields": ACCOUNT_FIELDS,
                                                 "limit": ACCOUNTS_PAGE_SIZE}):
                    pages.extend(batch)
            except AuthExpiredError:
                raise OAuthError(_("Facebook did not let Relais list your Pages. Start again "
                                   "and allow access to your Pages.")) from None
            except AppSecretRefused as error:
                raise OAuthError(error.reason, 502) from None
            except NetworkError:
                raise OAuthError(_("Could not reach Facebook. Try again in a moment."),
                                 502) from None
        if len(pages) >= ACCOUNTS_PAGE_SIZE * ACCOUNTS_MAX_PAGES:
            log.warning("facebook: a person administers at least %d Pages; only those "
                        "are offered", len(pages))
        found, seen = [], set()
        for page in pages:
            if not page.get("id") or not page.get("access_token") or page["id"] in seen:
                continue
            tasks = page.get("tasks")
            if isinstance(tasks, list) and "CREATE_CONTENT" not in tasks:
                continue  # a role on the Page that cannot publish
            seen.add(page["id"])
            name = (str(page.get("name") or "").strip() or str(page["id"]))[:120]
            username = str(page.get("username") or "")
            location = page.get("location")
            found.append(Choice(
                external_id=str(page["id"]), display_name=name,
                handle=f"@{username}" if username else "",
                credentials={"page_access_token": str(page["access_token"])},
                settings={"page_id": str(page["id"]), "page_name": name,
                          "link": str(page.get("link") or ""),
                          "has_location": is_place(location),
                          "address": address_line(location)}))
        return found

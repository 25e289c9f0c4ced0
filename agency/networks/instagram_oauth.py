"""Instagram's side of the OAuth connection (oauth.py): the Instagram professional
accounts linked to the Facebook Pages a person administers, through Facebook Login.

The sign-in is Facebook's (same app, ``FACEBOOK_APP_ID``/``FACEBOOK_APP_SECRET``, same
dialog) with the Instagram permissions; the code becomes a long-lived user token exactly
as for Facebook Pages. Each Page of ``/me/accounts`` (every page of it, following
``paging.next``) that has an ``instagram_business_account`` gives one choice: publishing
goes through that Page's access token, which does not expire (it stops only if the
person loses the Page or revokes Relais), so nothing needs refreshing.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .base import AuthExpiredError, NetworkError, PermanentError
from .facebook_oauth import FacebookProvider
from .instagram_graph import AppSecretRefused, InstagramGraph
from .oauth import Choice, OAuthError, Provider

# A person rarely administers more; the bound only stops a paging loop that never ends.
MAX_PAGES_OF_PAGES = 20
PAGE_FIELDS = "id,name,access_token,tasks,instagram_business_account{id,username,name}"


class InstagramProvider(Provider):
    key = "instagram"
    display_name = "Instagram"
    needs = _l("an Instagram professional account (business or creator) linked to a "
               "Facebook Page you administer")
    # Content Publishing with Facebook Login: instagram_basic and
    # instagram_content_publish to publish, instagram_manage_comments for the first
    # comment, instagram_manage_insights for results; pages_show_list and
    # pages_read_engagement to find the Pages and their accounts; business_management
    # where the Page is owned through a Business Manager.
    scopes = ("instagram_basic", "instagram_content_publish", "instagram_manage_comments",
              "instagram_manage_insights", "pages_show_list", "pages_read_engagement",
              "business_management")
    uses_pkce = False  # Facebook authenticates the exchange with the app secret
    config_keys = ("FACEBOOK_APP_ID", "FACEBOOK_APP_SECRET")

    def authorize_url(self, redirect_uri: str, state: str, code_challenge: str | None) -> str:
        query = {"client_id": current_app.config["FACEBOOK_APP_ID"],
                 "redirect_uri": redirect_uri, "state": state, "response_type": "code",
                 "scope": ",".join(self.scopes)}
        return f"{current_app.config['FACEBOOK_DIALOG_URL']}?{urlencode(query)}"

    def exchange_code(self, code: str, redirect_uri: str, verifier: str | None) -> dict:
        """The person's long-lived user token, as for Facebook Pages (the same sign-in)."""
        return FacebookProvider().exchange_code(code, redirect_uri, verifier)

    def choices(self, tokens: dict) -> list[Choice]:
        found: dict[str, Choice] = {}
        for page in self._pages(str(tokens.get("access_token") or "")):
            account = page.get("instagram_business_account")
            if not isinstance(account, dict) or not account.get("id"):
                continue  # a Page without an Instagram professional account
            if not page.get("id") or not page.get("access_token"):
                continue
            tasks = page.get("tasks")
            if isinstance(tasks, list) and "CREATE_CONTENT" not in tasks:
                continue  # a role on the Page that cannot publish
            ig_user = str(account["id"])
            username = str(account.get("username") or "").strip()
            name = (str(account.get("name") or "").strip() or username or ig_user)[:120]
            found.setdefault(ig_user, Choice(
                external_id=ig_user, display_name=name,
                handle=f"@{username}" if username else "",
                credentials={"page_access_token": str(page["access_token"])},
                settings={"ig_user_id": ig_user, "page_id": str(page["id"]),
                          "username": username}))
        return list(found.values())

    @staticmethod
    def _pages(token: str) -> list[dict]:
        pages: list[dict] = []
        after = ""
        with InstagramGraph(token) as graph:
            for _page in range(MAX_PAGES_OF_PAGES):
                params = {"fields": PAGE_FIELDS, "limit": 100} | ({"after": after} if after
                                                                   else {})
                try:
                    body = graph.call("GET", "/me/accounts", params=params)
                except AuthExpiredError:
                    raise OAuthError(_("Facebook did not let Relais list your Pages and their "
                                       "Instagram accounts. Start again and allow access to "
                                       "them.")) from None
                except AppSecretRefused as error:
                    raise OAuthError(error.reason, 502) from None
                except PermanentError:
                    raise OAuthError(_("Facebook refused to list your Pages. Start again; if "
                                       "it happens again, tell the administrator."),
                                     502) from None
                except NetworkError:
                    raise OAuthError(_("Could not reach Facebook. Try again in a moment."),
                                     502) from None
                body = body if isinstance(body, dict) else {}
                data = body.get("data")
                pages.extend(p for p in (data if isinstance(data, list) else [])
                             if isinstance(p, dict))
                after = _next_cursor(body.get("paging"))
                if not after:
                    break
        return pages


def _next_cursor(paging) -> str:
    """The ``after`` cursor of the next page; "" on the last page (no ``next``). The
    cursor is sent to our own base URL rather than following ``next`` as given, which
    names Facebook's host and carries the token in the clear."""
    if not isinstance(paging, dict) or not paging.get("next"):
        return ""
    cursors = paging.get("cursors") if isinstance(paging.get("cursors"), dict) else {}
    after = cursors.get("after") or (parse_qs(urlsplit(str(paging["next"])).query)
                                     .get("after") or [""])[0]
    return str(after or "")

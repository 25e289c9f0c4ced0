"""Google's side of the OAuth connection (oauth.py): every Business Profile location the
person manages, each an account Relais can publish local posts to.

- Authorization (OAuth 2.0 for web server applications,
  https://developers.google.com/identity/protocols/oauth2/web-server): ``GOOGLE_AUTH_URL``
  with ``response_type=code``, the ``business.manage`` scope, ``access_type=offline`` (a
  refresh token, since access tokens last an hour), ``prompt=consent`` (so the refresh
  token comes back even when the person approved Relais before),
  ``include_granted_scopes=true`` and PKCE (S256), which Google supports for web clients.
- Exchange at ``GOOGLE_TOKEN_URL`` (``grant_type=authorization_code``, the verifier, the
  client secret). A grant without a refresh token, or without the ``business.manage``
  scope (Google lets people untick it), is refused with what to do.
- Choices: ``GET {GOOGLE_ACCOUNTS_URL}/accounts`` (Account Management API, 20 a page),
  then for each account ``GET {GOOGLE_BUSINESS_INFO_URL}/{account}/locations`` (Business
  Information API, ``readMask=name,title,storefrontAddress,websiteUri,metadata``, 100 a
  page), following ``nextPageToken``. A location reachable through several accounts (the
  personal one and a location group) is offered once; one whose ``metadata`` says
  ``canOperateLocalPost: false`` is not offered (Relais could not post there).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .base import AuthExpiredError, NetworkError
from .google_api import GoogleApi, TokenRefused, credentials_from, token_request
from .http import NetworkClient
from .oauth import Choice, OAuthError, Provider

SCOPE = "https://www.googleapis.com/auth/business.manage"
LOCATION_FIELDS = "name,title,storefrontAddress,websiteUri,metadata"
ACCOUNTS_PAGE_SIZE = 20  # the documented maximum
LOCATIONS_PAGE_SIZE = 100  # the documented maximum
MAX_PAGES = 50  # a loop guard: 1,000 accounts, 5,000 locations per account


def one_line_address(address: Any) -> str:
    """A ``PostalAddress`` as one line: "12 rue de la Paix, 75002 Paris"."""
    if not isinstance(address, dict):
        return ""
    lines = [str(line).strip() for line in address.get("addressLines") or [] if str(line).strip()]
    town = " ".join(str(address.get(k) or "").strip() for k in ("postalCode", "locality"))
    return ", ".join([*lines, *([town.strip()] if town.strip() else [])])


class GoogleBusinessProvider(Provider):
    key = "google_business"
    display_name = "Google Business Profile"
    needs = _l("a Google Business Profile location you own or manage (sign in with the "
               "Google account that manages it)")
    scopes = (SCOPE,)
    uses_pkce = True
    config_keys = ("GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET")

    def authorize_url(self, redirect_uri: str, state: str, code_challenge: str | None) -> str:
        query = {"response_type": "code", "client_id": current_app.config["GOOGLE_CLIENT_ID"],
                 "redirect_uri": redirect_uri, "scope": " ".join(self.scopes),
                 "state": state, "access_type": "offline", "prompt": "consent",
                 "include_granted_scopes": "true"}
        if code_challenge:
            query |= {"code_challenge": code_challenge, "code_challenge_method": "S256"}
        return f"{current_app.config['GOOGLE_AUTH_URL']}?{urlencode(query)}"

    def exchange_code(self, code: str, redirect_uri: str, verifier: str | None) -> dict:
        grant = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if verifier:
            grant["code_verifier"] = verifier
        with NetworkClient() as client:
            try:
                body = token_request(client, grant)
            except TokenRefused as refused:
                if refused.error in ("invalid_client", "unauthorized_client"):
                    raise OAuthError(_("Google refused Relais's app credentials: the "
                                       "administrator must check GOOGLE_CLIENT_ID and "
                                       "GOOGLE_CLIENT_SECRET."), 502) from None
                raise OAuthError(_("Google did not accept this sign-in (it may have expired "
                                   "or been used already). Start again.")) from None
            except NetworkError:
                raise OAuthError(_("Could not reach Google. Try again in a moment."),
                                 502) from None
        if SCOPE not in str(body.get("scope") or "").split():
            raise OAuthError(_("Google did not give Relais access to your Business Profile. "
                               "Start again and tick the box that lets Relais manage it."))
        if not body.get("refresh_token"):
            raise OAuthError(_("Google did not give Relais lasting access (no refresh token). "
                               "Start again and approve every step."))
        return credentials_from(body)

    def choices(self, tokens: dict) -> list[Choice]:
        config = current_app.config
        found: dict[str, Choice] = {}
        with GoogleApi(tokens) as api:
            try:
                accounts = self._all(api, f"{config['GOOGLE_ACCOUNTS_URL']}/accounts",
                                     "accounts", {"pageSize": ACCOUNTS_PAGE_SIZE})
                for account in accounts:
                    name = str(account.get("name") or "")
                    if not name.startswith("accounts/"):
                        continue
                    locations = self._all(
                        api, f"{config['GOOGLE_BUSINESS_INFO_URL']}/{name}/locations",
                        "locations", {"readMask": LOCATION_FIELDS,
                                      "pageSize": LOCATIONS_PAGE_SIZE})
                    for location in locations:
                        choice = self._choice(name, location, api.credentials)
                        if choice is not None and choice.external_id not in found:
                            found[choice.external_id] = choice
            except AuthExpiredError:
                raise OAuthError(_("Google did not let Relais list your business locations. "
                                   "Start again and allow access to your Business "
                                   "Profile.")) from None
            except NetworkError as error:
                raise OAuthError(_("Google could not list your business locations: "
                                   "%(reason)s", reason=error.reason), 502) from None
        return sorted(found.values(), key=lambda c: c.display_name.casefold())

    @staticmethod
    def _all(api: GoogleApi, url: str, key: str, params: dict) -> list[dict]:
        items: list[dict] = []
        page_token = ""
        for _page in range(MAX_PAGES):
            body = api.call("GET", url, params={**params, **(
                {"pageToken": page_token} if page_token else {})})
            items.extend(i for i in body.get(key) or [] if isinstance(i, dict))
            page_token = str(body.get("nextPageToken") or "")
            if not page_token:
                break
        return items

    @staticmethod
    def _choice(account: str, location: dict, credentials: dict) -> Choice | None:
        name = str(location.get("name") or "")
        if not name.startswith("locations/"):
            return None
        metadata = location.get("metadata") if isinstance(location.get("metadata"), dict) \
            else {}
        if metadata.get("canOperateLocalPost") is False:
            return None  # Google says posts cannot be managed there
        title = " ".join(str(location.get("title") or "").split()) or name
        address = location.get("storefrontAddress")
        city = str(address.get("locality") or "").strip() if isinstance(address, dict) else ""
        settings = {"account": account, "location": name, "title": title,
                    "address": one_line_address(address)}
        if metadata.get("mapsUri"):
            settings["maps_uri"] = str(metadata["mapsUri"])
        if location.get("websiteUri"):
            settings["website"] = str(location["websiteUri"])
        display = f"{title} ({city})" if city else title
        return Choice(external_id=name, display_name=display[:120],
                      handle=settings["address"][:120],
                      credentials={k: credentials[k] for k in (
                          "access_token", "refresh_token", "expires_at", "refreshable")
                          if k in credentials},
                      settings=settings)

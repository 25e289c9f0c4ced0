"""LinkedIn's side of the OAuth connection (oauth.py): the member who signs in and the
LinkedIn Pages they may post for, all with the member's own token.

- Authorization: ``{LINKEDIN_OAUTH_URL}/authorization`` with ``response_type=code`` and the
  scopes below, space-separated; the code is exchanged at ``/accessToken`` with the client
  secret in the form body (linkedin_tokens.py). A confidential web client: no PKCE.
- Choices (https://learn.microsoft.com/en-us/linkedin/consumer/integrations/self-serve/sign-in-with-linkedin-v2,
  https://learn.microsoft.com/en-us/linkedin/marketing/community-management/organizations/organization-access-control-by-role):
  the member, from ``GET /v2/userinfo`` (OpenID Connect: ``sub`` → ``urn:li:person:{sub}``);
  and each organisation where their role is APPROVED and is ``ADMINISTRATOR`` or
  ``CONTENT_ADMINISTRATOR`` (the roles that may post), from
  ``GET /rest/organizationAcls?q=roleAssignee&state=APPROVED``, named by
  ``GET /rest/organizations/{id}`` (one by one: BATCH_GET is closed to apps on the
  Community Management development tier). If LinkedIn will not list the Pages (an app
  without the Community Management product), the member alone is offered.
- Each choice carries the member's credentials (access token, ``expires_at``, refresh
  token and ``refreshable`` per linkedin_tokens.py) and the settings the adapter reads:
  ``author_urn``, ``kind`` ("organization" | "member"), ``vanity_name``.
"""

from __future__ import annotations

import logging
from urllib.parse import quote, urlencode

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .base import AuthExpiredError, NetworkError, PermanentError
from .oauth import Choice, OAuthError, Provider

log = logging.getLogger(__name__)

POSTING_ROLES = ("ADMINISTRATOR", "CONTENT_ADMINISTRATOR")
ACL_PAGE = 100
ACL_MAX_PAGES = 10


class LinkedInProvider(Provider):
    key = "linkedin"
    display_name = "LinkedIn"
    needs = _l("a LinkedIn account; to publish as a LinkedIn Page, the Super admin or "
               "Content admin role on that Page")
    # Sign-in (OpenID Connect), posting as the member, posting as and reading the Pages
    # they administer, and the Pages' names and statistics.
    scopes = ("openid", "profile", "w_member_social", "w_organization_social",
              "r_organization_social", "rw_organization_admin")
    uses_pkce = False  # a confidential client: the secret authenticates the exchange
    config_keys = ("LINKEDIN_CLIENT_ID", "LINKEDIN_CLIENT_SECRET")

    def authorize_url(self, redirect_uri: str, state: str, code_challenge: str | None) -> str:
        params = {"response_type": "code", "client_id": current_app.config["LINKEDIN_CLIENT_ID"],
                  "redirect_uri": redirect_uri, "state": state, "scope": " ".join(self.scopes)}
        base = current_app.config["LINKEDIN_OAUTH_URL"].rstrip("/")
        return f"{base}/authorization?{urlencode(params, quote_via=quote)}"

    def exchange_code(self, code: str, redirect_uri: str, verifier: str | None) -> dict:
        from .linkedin_tokens import credentials, token_request

        try:
            body = token_request({"grant_type": "authorization_code", "code": code,
                                  "redirect_uri": redirect_uri})
        except AuthExpiredError:
            raise OAuthError(_("LinkedIn did not accept this sign-in (it may have expired or "
                               "been used already). Start again.")) from None
        except PermanentError as error:
            raise OAuthError(error.reason, 502) from None
        except NetworkError:
            raise OAuthError(_("Could not reach LinkedIn. Try again in a moment."), 502) from None
        return credentials(body)

    def choices(self, tokens: dict) -> list[Choice]:
        from .linkedin_api import LinkedInAPI

        with LinkedInAPI(str(tokens.get("access_token") or ""), kind="member") as api:
            try:
                me = api.json(api.call("GET", "/v2/userinfo", versioned=False))
            except AuthExpiredError:
                raise OAuthError(_("LinkedIn did not let Relais read your profile. Start "
                                   "again and allow access.")) from None
            except NetworkError:
                raise OAuthError(_("Could not reach LinkedIn. Try again in a moment."),
                                 502) from None
            sub = str((me or {}).get("sub") or "") if isinstance(me, dict) else ""
            if not sub:
                raise OAuthError(_("LinkedIn gave an unreadable answer. Start again."), 502)
            person = f"urn:li:person:{sub}"
            name = (str(me.get("name") or "").strip() or " ".join(
                str(me.get(k) or "") for k in ("given_name", "family_name")).strip()
                or _("My LinkedIn profile"))[:120]
            found = [Choice(external_id=person, display_name=name, credentials=dict(tokens),
                            settings={"author_urn": person, "kind": "member",
                                      "vanity_name": "", "name": name})]
            for organization in self._organizations(api):
                found.append(self._organization_choice(api, organization, tokens))
        return found

    @staticmethod
    def _organizations(api) -> list[str]:
        """The organisation URNs where the member holds a posting role, in order."""
        from .linkedin_api import query

        found: list[str] = []
        for page in range(ACL_MAX_PAGES):
            path = "/rest/organizationAcls?" + query({
                "q": "roleAssignee", "state": "APPROVED", "start": str(page * ACL_PAGE),
                "count": str(ACL_PAGE)})
            try:
                body = api.json(api.call("GET", path, finder=True))
            except AuthExpiredError as error:
                # No Community Management product (or no Page role): the member only.
                log.info("linkedin: organisations not listed: %s", error.detail)
                return found
            except NetworkError:
                raise OAuthError(_("Could not reach LinkedIn. Try again in a moment."),
                                 502) from None
            elements = (body or {}).get("elements") if isinstance(body, dict) else None
            elements = elements if isinstance(elements, list) else []
            for acl in elements:
                if not isinstance(acl, dict) or acl.get("role") not in POSTING_ROLES \
                        or acl.get("state", "APPROVED") != "APPROVED":
                    continue
                urn = str(acl.get("organization") or acl.get("organizationalTarget") or "")
                if urn.startswith("urn:li:organization:") and urn not in found:
                    found.append(urn)
            if len(elements) < ACL_PAGE:
                break
        return found

    @staticmethod
    def _organization_choice(api, urn: str, tokens: dict) -> Choice:
        from .linkedin_api import encode

        organization_id = urn.rsplit(":", 1)[-1]
        try:
            body = api.json(api.call("GET", f"/rest/organizations/{encode(organization_id)}"))
        except NetworkError as error:
            if not isinstance(error, AuthExpiredError | PermanentError):
                raise OAuthError(_("Could not reach LinkedIn. Try again in a moment."),
                                 502) from None
            body = {}  # named by its id: the Page can still be added
        body = body if isinstance(body, dict) else {}
        localized = (body.get("name") or {}).get("localized") if isinstance(
            body.get("name"), dict) else None
        name = (str(body.get("localizedName") or "").strip()
                or next((str(v) for v in (localized or {}).values() if v), "")
                or _("LinkedIn Page %(id)s", id=organization_id))[:120]
        vanity = str(body.get("vanityName") or "")
        return Choice(external_id=urn, display_name=name, handle=vanity,
                      credentials=dict(tokens),
                      settings={"author_urn": urn, "kind": "organization",
                                "vanity_name": vanity, "name": name})

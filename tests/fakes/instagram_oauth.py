"""The fake Instagram's sign-in side (mixed into FakeInstagram): Facebook Login's code
exchange, shared with the fake Facebook (facebook_oauth.FakeOAuth), and the person's
Pages with their Instagram professional accounts.

    GET /oauth/access_token   the code → a short-lived user token; fb_exchange_token → the
                              long-lived one
    GET /me/accounts          fields, limit, after → the Pages, ``page_size`` per page, each
                              with access_token, tasks and instagram_business_account{...}
"""

from __future__ import annotations

import base64
from typing import Any

from werkzeug.wrappers import Request, Response

from .facebook_oauth import FakeOAuth


class FakeInstagramOAuth(FakeOAuth):
    """Needs from the fake what FakeOAuth needs, and ``page_size`` and ``url``."""

    def _accounts(self, request: Request, token: str) -> Response:
        if token not in self.user_pages:
            return self._error(400, 100, "(#100) Tried accessing nonexisting field "
                               "(accounts) on node type (Page)", kind="GraphMethodException")
        ids = self.user_pages[token]
        limit = min(int(request.args.get("limit") or 25), self.page_size)
        after = request.args.get("after")
        start = int(base64.urlsafe_b64decode(after).decode()) if after else 0
        chunk = ids[start:start + limit]
        wanted = request.args.get("fields", "")
        data = []
        for page in (self.pages[i] for i in chunk):
            row: dict[str, Any] = {"id": page.id, "name": page.name,
                                   "access_token": page.token, "tasks": page.tasks}
            if page.instagram is not None and "instagram_business_account" in wanted:
                ig = page.instagram
                row["instagram_business_account"] = {"id": ig.id, "username": ig.username,
                                                     "name": ig.name}
            data.append(row)
        cursor = lambda n: base64.urlsafe_b64encode(str(n).encode()).decode()  # noqa: E731
        paging: dict[str, Any] = {"cursors": {"before": cursor(start),
                                              "after": cursor(start + len(chunk))}}
        if start + len(chunk) < len(ids):
            paging["next"] = (f"{self.url}/v21.0/me/accounts?access_token={token}&limit={limit}"
                              f"&after={cursor(start + len(chunk))}")
        return self._json({"data": data, "paging": paging})

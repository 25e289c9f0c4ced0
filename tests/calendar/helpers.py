"""Helpers for the calendar tests: a world with one sandbox account per client, posts
made through ``create_post``, and reading which day of the page a post is shown on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

from sqlalchemy import select

from agency.content.models import Post, Revision
from agency.content.services import create_post
from agency.networks.models import AccountStatus, SocialAccount
from agency.networks.services import add_account
from tenants.context import tenant_scope
from tests.factories import World, make_world

NEXT_YEAR = datetime.now(UTC).year + 1


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@dataclass
class Cal:
    app: object
    db: object
    world: World
    account: SocialAccount  # the assigned client's sandbox account
    other_account: SocialAccount  # the other client's

    @property
    def agency_id(self):
        return self.world.agency.id

    def post(self, client=None, when: datetime | None = None, text: str = "Fresh bread",
             accounts=None, labels=(), author=None) -> Post:
        """A post made through the service (``when`` must be in the future)."""
        client = client or self.world.client
        if accounts is None:
            accounts = [self.account if client.id == self.world.client.id
                        else self.other_account]
        author_id = (author or self.world.owner).user_id
        with self.app.test_request_context(), tenant_scope(self.agency_id):
            post = create_post(client, {"text": text, "target_ids": [a.id for a in accounts],
                                        "labels": list(labels), "scheduled_at": when},
                               author_id)
            self.db.session.flush()
            return post

    def set_time(self, post: Post, when: datetime | None) -> None:
        """Place a post anywhere in time, past included (the service only takes futures)."""
        with tenant_scope(self.agency_id):
            post.scheduled_at = when
            self.db.session.flush()

    def account_on(self, client, network: str) -> SocialAccount:
        # Only sandbox accounts can be added by hand; other networks are made directly.
        with tenant_scope(self.agency_id):
            account = SocialAccount(client_id=client.id, network=network,
                                    display_name=f"{network} account",
                                    status=AccountStatus.CONNECTED)
            self.db.session.add(account)
            self.db.session.flush()
            return account

    def reload(self, post: Post) -> Post:
        """The post as stored now. Only this object is refreshed: expiring the others would
        have them reload lazily later, outside any tenant, and come back without rows."""
        with tenant_scope(self.agency_id):
            return self.db.session.scalars(
                select(Post).where(Post.id == post.id)
                .execution_options(populate_existing=True)
            ).one()

    def revisions(self, post: Post) -> list[Revision]:
        with tenant_scope(self.agency_id):
            return list(self.db.session.scalars(
                select(Revision).where(Revision.post_id == post.id).order_by(Revision.number)
            ))

    def update(self, obj, **values) -> None:
        with tenant_scope(self.agency_id):
            for key, value in values.items():
                setattr(obj, key, value)
            self.db.session.flush()


def build(app, db) -> Cal:
    world = make_world()
    with app.test_request_context(), tenant_scope(world.agency.id):
        account = add_account(world.client, "sandbox", "Boulangerie sandbox")
        other = add_account(world.other_client, "sandbox", "Garage sandbox")
        db.session.flush()
    return Cal(app, db, world, account, other)


def in_days(days: float) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
         "source", "track", "wbr"}


class _DayFinder(HTMLParser):
    """Maps each ``data-post-id`` to the ``data-date`` of the day that contains it."""

    def __init__(self):
        super().__init__()
        self.stack: list[tuple[str, str | None]] = []
        self.days: dict[str, list[str | None]] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        date = attrs.get("data-date")
        if "data-post-id" in attrs:
            enclosing = next((d for _, d in reversed(self.stack) if d), None)
            self.days.setdefault(attrs["data-post-id"], []).append(enclosing)
        if tag not in _VOID:
            self.stack.append((tag, date))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return


def days_of(response) -> dict[str, list[str | None]]:
    """Post id → the days (``YYYY-MM-DD``, or ``None`` outside any day) it is shown on."""
    finder = _DayFinder()
    finder.feed(response.get_data(as_text=True))
    return finder.days


def shown_on(response, post: Post) -> list[str | None]:
    return days_of(response).get(str(post.id), [])


def page(response) -> str:
    return response.get_data(as_text=True)

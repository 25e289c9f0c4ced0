"""Helpers for the results tests (no tests here): published publications, readings and
follower days written directly, as the publishing engine and the collection job would
have left them, so each test states exactly the figures it computes from."""

from __future__ import annotations

import hashlib
import itertools
import uuid
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from sqlalchemy import event

from agency.content.models import Post, PostStatus, Revision
from agency.content.revisions import canonical_content, content_hash
from agency.content.slot_models import TimeSlot
from agency.extensions import db
from agency.media.models import Media, MediaKind
from agency.networks.models import SocialAccount
from agency.publishing.models import Publication, PublicationState
from agency.results.models import AccountMetricDay, PostMetricSnapshot
from tenants.context import tenant_scope

_numbers = itertools.count(1)
PARIS = ZoneInfo("Europe/Paris")
AS_OF = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)  # the time a report is made at


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


class Data:
    """Writes one client's results data inside its agency; every method flushes."""

    def __init__(self, agency_id, client_id):
        self.agency_id = agency_id
        self.client_id = client_id

    def account(self, network: str, name: str | None = None) -> uuid.UUID:
        with tenant_scope(self.agency_id):
            account = SocialAccount(client_id=self.client_id, network=network,
                                    display_name=name or f"{network} {next(_numbers)}")
            db.session.add(account)
            db.session.flush()
            return account.id

    def media(self, kind: str = MediaKind.IMAGE) -> tuple[uuid.UUID, str]:
        """A library file (id, sha256); its bytes are never read by the results."""
        sha = hashlib.sha256(f"file {next(_numbers)}".encode()).hexdigest()
        with tenant_scope(self.agency_id):
            media = Media(client_id=self.client_id, kind=kind,
                          mime="image/png" if kind == MediaKind.IMAGE else "video/mp4",
                          size=10, sha256=sha, storage_key=f"k/{sha}",
                          thumb_key=f"t/{sha}" if kind == MediaKind.IMAGE else None)
            db.session.add(media)
            db.session.flush()
            return media.id, sha

    def post(self, accounts: dict[uuid.UUID, str], when: datetime, text: str = "Bonjour",
             *, variants: dict | None = None, media: list[str] = (),
             state: PublicationState = PublicationState.PUBLISHED) -> list[uuid.UUID]:
        """One approved post published at ``when`` on each account ({id: network});
        returns its publications' ids in the order of ``accounts``."""
        when = when.astimezone(UTC)
        with tenant_scope(self.agency_id):
            content = canonical_content(text=text, variants=variants or {}, first_comment="",
                                        media_checksums=list(media),
                                        target_ids=list(accounts), scheduled_at=when)
            digest = content_hash(content)
            post = Post(client_id=self.client_id, status=PostStatus.APPROVED, text=text,
                        variants=variants or {}, scheduled_at=when, revision_number=1,
                        content_hash=digest)
            db.session.add(post)
            db.session.flush()
            revision = Revision(post_id=post.id, number=1, content=content,
                                content_hash=digest)
            db.session.add(revision)
            db.session.flush()
            ids = []
            for account_id, network in accounts.items():
                number = next(_numbers)
                publication = Publication(
                    client_id=self.client_id, post_id=post.id, social_account_id=account_id,
                    revision_id=revision.id, content_hash=digest, network=network,
                    state=state, scheduled_at=when, due_at=when,
                    idempotency_key=uuid.uuid4().hex,
                    published_at=when if state == PublicationState.PUBLISHED else None,
                    external_url=(f"https://{network}.example/p/{number}"
                                  if state == PublicationState.PUBLISHED else ""))
                db.session.add(publication)
                db.session.flush()
                ids.append(publication.id)
            return ids

    def reading(self, publication_id: uuid.UUID, network: str, taken_at: datetime,
                **counters) -> None:
        with tenant_scope(self.agency_id):
            db.session.add(PostMetricSnapshot(
                client_id=self.client_id, publication_id=publication_id, network=network,
                taken_at=taken_at.astimezone(UTC), raw={}, **counters))
            db.session.flush()

    def followers(self, account_id: uuid.UUID, network: str, day: date, count: int | None,
                  taken_at: datetime | None = None) -> None:
        taken_at = taken_at or datetime(day.year, day.month, day.day, 21, 0, tzinfo=UTC)
        with tenant_scope(self.agency_id):
            db.session.add(AccountMetricDay(
                client_id=self.client_id, social_account_id=account_id, network=network,
                day=day, followers=count, taken_at=taken_at, raw={}))
            db.session.flush()

    def slot(self, weekday: int, clock: str) -> None:
        with tenant_scope(self.agency_id):
            db.session.add(TimeSlot(client_id=self.client_id, weekday=weekday,
                                    time_of_day=clock))
            db.session.flush()


@contextmanager
def counting_statements():
    """Counts the SQL statements sent through the test's connection meanwhile."""
    seen: list[str] = []
    connection = db.session.connection()

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(connection, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(connection, "before_cursor_execute", count)


def october_scene(world) -> SimpleNamespace:
    """October 2026 against September, in Paris, on Instagram, Mastodon and Facebook."""
    data = Data(world.agency_id, world.client.id)
    ig, md, fb = data.account("instagram"), data.account("mastodon"), data.account("facebook")
    video = data.media(MediaKind.VIDEO)
    image_id, image = data.media()
    # Post A on Instagram and Mastodon (its own text there), a video then an image.
    p1, p2 = data.post({ig: "instagram", md: "mastodon"}, paris(2026, 10, 3, 10, 0),
                       "Nos croissants du dimanche", variants={"mastodon": "Texte Mastodon"},
                       media=[video[1], image])
    data.reading(p1, "instagram", paris(2026, 10, 3, 11, 0), impressions=100, reach=80,
                 reactions=5, comments=1, shares=0, saves=2, clicks=1)
    data.reading(p1, "instagram", paris(2026, 10, 4, 10, 0), impressions=500, reach=400,
                 reactions=20, comments=4, shares=1, saves=5, clicks=6)
    # Taken after the report's time: must not count.
    data.reading(p1, "instagram", AS_OF + timedelta(hours=1), impressions=900, reach=700,
                 reactions=30, comments=5, shares=2, saves=8, clicks=9)
    data.reading(p2, "mastodon", paris(2026, 10, 4, 10, 0), reactions=7, comments=2, shares=3)
    # Post B: 23:30 on the last evening of October (22:30 UTC) belongs to October.
    [p3] = data.post({ig: "instagram"}, paris(2026, 10, 31, 23, 30), "Dernier soir")
    data.reading(p3, "instagram", paris(2026, 11, 1, 23, 0), impressions=200, reach=150,
                 reactions=10, comments=0, shares=0, saves=0, clicks=4)
    # Post C: 00:30 on 1 November belongs to November.
    [p4] = data.post({fb: "facebook"}, paris(2026, 11, 1, 0, 30), "Novembre")
    data.reading(p4, "facebook", paris(2026, 11, 2, 0, 30), reactions=99)
    # Post D: 23:30 on 30 September (summer time) belongs to September.
    [p5] = data.post({ig: "instagram"}, paris(2026, 9, 30, 23, 30), "Septembre")
    data.reading(p5, "instagram", paris(2026, 10, 1, 23, 0), impressions=300, reach=200,
                 reactions=8, comments=2, shares=0, saves=0, clicks=1)
    # Post E: published, never measured. Post F: Facebook reports reactions only.
    [p6] = data.post({fb: "facebook"}, paris(2026, 10, 10, 12, 0), "Jamais mesuré")
    [p7] = data.post({fb: "facebook"}, paris(2026, 10, 12, 12, 0), "Facebook")
    data.reading(p7, "facebook", paris(2026, 10, 13, 12, 0), reactions=3)
    # Failed, and another client's: neither counts.
    data.post({fb: "facebook"}, paris(2026, 10, 14, 12, 0), "Raté",
              state=PublicationState.FAILED)
    other = Data(world.agency_id, world.other_client.id)
    other_ig = other.account("instagram")
    [foreign] = other.post({other_ig: "instagram"}, paris(2026, 10, 5, 9, 0), "Garage")
    other.reading(foreign, "instagram", paris(2026, 10, 6, 9, 0), impressions=10_000,
                  reach=9000, reactions=900)
    # Followers: Instagram misses days; Mastodon starts in October; one reading is
    # replaced after the report's time; Facebook reports no followers.
    for day, count in ((date(2026, 8, 20), 950), (date(2026, 9, 29), 1000),
                       (date(2026, 10, 15), 1100), (date(2026, 10, 31), 1180),
                       (date(2026, 11, 2), 1200)):
        data.followers(ig, "instagram", day, count)
    data.followers(md, "mastodon", date(2026, 10, 10), 200)
    data.followers(md, "mastodon", date(2026, 10, 20), 230)
    data.followers(md, "mastodon", date(2026, 10, 25), 400, taken_at=AS_OF + timedelta(days=1))
    data.followers(fb, "facebook", date(2026, 10, 5), None)
    other.followers(other_ig, "instagram", date(2026, 10, 31), 5000)
    # Tuesdays 10:00 and Fridays 18:00.
    data.slot(1, "10:00")
    data.slot(4, "18:00")
    return SimpleNamespace(world=world, ig=ig, md=md, fb=fb, image_id=image_id,
                           p1=p1, p2=p2, p3=p3, p5=p5, p6=p6, p7=p7)

"""Three months of past results for a demo client: its charts and its report compare a
whole month with the one before.

``seed_history(client, account, author_id)`` writes, for one sandbox account:

- about 95 days of posts already out (three or four a week, at varying hours of the
  client's day), each exactly as the engine leaves one: an approved post with its
  revision and target, the post the sandbox stored (so its feed shows it and its later
  readings find it), and the publication ``published`` with the sandbox's id and link;
- for each, the readings the collection would have taken (an hour, a day, a week, a
  month after publishing, those already past), figures from sandbox_figures.py, the
  same the sandbox answers for that post at that age;
- the account's followers for each of the past 100 days (today is left to the live
  collection).

Idempotent: ids are derived from the account and the day, so a second run adds only
what is missing (new days; a post whose day has come), and readings are written only
with their post: after that, the collection takes over. Bulk inserts: a few hundred rows
per client in a handful of statements.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select

from agency.content.models import Post, PostStatus, PostTarget, Revision
from agency.content.revisions import canonical_content, content_hash
from agency.extensions import db
from agency.networks.sandbox import feed_url
from agency.networks.sandbox_models import SandboxPost
from agency.publishing.models import Publication, PublicationState
from agency.publishing.services import idempotency_key

from .models import AccountMetricDay, PostMetricSnapshot
from .sandbox_figures import account_figures, post_figures
from .schedule import AGES

POST_DAYS = 95  # the month before last is whole: a report compares with it
FOLLOWER_DAYS = 100
# Fixed: the same account and day give the same ids on every run.
NAMESPACE = uuid.UUID("6f1d0c1e-2b7a-4c55-9d0e-7e2f1a6b9c3d")
LABEL = "Démo"

TEXTS = {
    "Boulangerie Martin": [
        "Le pain au levain du jour est sorti du four. Venez le chercher encore tiède !",
        "Nouveau cette semaine : la tarte aux pralines roses. #faitmaison",
        "Croissants au beurre AOP dès 7 h, pour bien commencer la journée.",
        "Notre baguette tradition, farine du moulin voisin et longue fermentation.",
        "Brioches feuilletées du week-end : pensez à réserver !",
        "Merci à vous tous pour vos messages après la fête du quartier.",
        "Le pain aux noix revient pour l'automne. #boulangerie #lyon",
    ],
    "Garage Dupont": [
        "Contrôle gratuit de vos pneus toute la semaine, sans rendez-vous.",
        "Vidange, filtres, niveaux : votre entretien en une heure. Devis gratuit.",
        "Un voyant allumé ? Passez nous voir, on vous explique tout. #entretienauto",
        "Nos conseils pour préparer votre voiture avant les vacances.",
        "Climatisation : recharge et contrôle à prix doux ce mois-ci.",
        "Freins qui grincent ? Diagnostic offert jusqu'à vendredi.",
    ],
    "Fleurs de Léa": [
        "Les pivoines sont arrivées ! Bouquets composés à la demande. 🌸",
        "Atelier couronne de fleurs samedi matin : il reste trois places.",
        "Un bouquet de saison pour dire merci, livré dans la journée.",
        "Renoncules, anémones et mimosa : la vitrine change de couleurs.",
        "Nos fleurs viennent de producteurs de la région. #fleursdesaison",
        "Mariage en vue ? Prenez rendez-vous pour composer votre décor.",
    ],
}
FALLBACK_TEXTS = ["Nouvelles de la semaine : merci de votre fidélité !",
                  "À découvrir en boutique dès aujourd'hui."]
# Post days (Monday 0 … Sunday 6) and the local hour of each.
POST_WEEKDAYS = {0: 8, 2: 12, 4: 17, 5: 10}


def _id(kind: str, *parts: object) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, ":".join([kind, *map(str, parts)]))


def _wobble(seconds: int, *parts: object) -> timedelta:
    """A fixed delay in [0, seconds): real posts and readings do not land on the minute."""
    return timedelta(seconds=_id("wobble", *parts).int % max(1, seconds))


def seed_history(client, account, author_id: uuid.UUID | None,
                 now: datetime | None = None, *, post_days: int = POST_DAYS,
                 follower_days: int = FOLLOWER_DAYS,
                 weekdays: dict[int, int] = POST_WEEKDAYS) -> int:
    """Write what is missing of ``account``'s past results (see the module): posts on
    ``weekdays`` (weekday → local hour) over the last ``post_days`` days, followers over
    the last ``follower_days``. Returns how many posts were added. Runs in the current
    agency's transaction; never commits. (The benchmark asks for two years.)"""
    if account.network != "sandbox":
        return 0  # its posts are the sandbox's: another network's ids would be made up
    now = now or datetime.now(UTC)
    zone = ZoneInfo(client.timezone)
    today = now.astimezone(zone).date()
    added = _posts(client, account, author_id, zone, today, now,
                   _post_days(zone, today, now, post_days, weekdays))
    _follower_days(client, account, zone, today, follower_days)
    db.session.flush()
    return added


def _post_days(zone: ZoneInfo, today: date, now: datetime, post_days: int,
               weekdays: dict[int, int]) -> list[tuple[date, datetime]]:
    days = []
    for back in range(post_days, 0, -1):
        day = today - timedelta(days=back)
        hour = weekdays.get(day.weekday())
        if hour is None:
            continue
        at = datetime.combine(day, time(hour), zone).astimezone(UTC)
        if at + AGES[0] <= now:  # old enough to have been read at least once
            days.append((day, at))
    return days


def _posts(client, account, author_id, zone, today, now, days) -> int:
    wanted = {_id("publication", account.id, day): (day, at) for day, at in days}
    there = set(db.session.scalars(select(Publication.id).where(
        Publication.id.in_(list(wanted)))))
    texts = TEXTS.get(client.name, FALLBACK_TEXTS)
    rows: dict[type, list[dict]] = {model: [] for model in (
        Post, Revision, PostTarget, SandboxPost, Publication, PostMetricSnapshot)}
    agency = {"agency_id": client.agency_id}
    for publication_id, (day, scheduled) in wanted.items():
        if publication_id in there:
            continue
        post_id, revision_id = _id("post", account.id, day), _id("revision", account.id, day)
        sandbox_id = _id("sandbox", account.id, day)
        text = texts[day.toordinal() % len(texts)]
        content = canonical_content(text=text, variants={}, first_comment="",
                                    media_checksums=[], target_ids=[account.id],
                                    scheduled_at=scheduled)
        digest = content_hash(content)
        written = scheduled - timedelta(days=3) + _wobble(3 * 3600, post_id)
        published = scheduled + _wobble(40, publication_id)
        key = idempotency_key(publication_id)
        rows[Post].append({
            **agency, "id": post_id, "client_id": client.id, "author_user_id": author_id,
            "status": PostStatus.APPROVED, "text": text, "variants": {}, "first_comment": "",
            "options": {}, "labels": [LABEL], "scheduled_at": scheduled,
            "revision_number": 1, "content_hash": digest, "created_at": written,
            "updated_at": written})
        rows[Revision].append({
            **agency, "id": revision_id, "post_id": post_id, "number": 1,
            "content": content, "content_hash": digest, "author_user_id": author_id,
            "created_at": written})
        rows[PostTarget].append({**agency, "id": _id("target", account.id, day),
                                 "post_id": post_id, "social_account_id": account.id})
        rows[SandboxPost].append({
            **agency, "id": sandbox_id, "social_account_id": account.id,
            "idempotency_key": key, "text": text, "first_comment": "", "media": [],
            "created_at": published})
        rows[Publication].append({
            **agency, "id": publication_id, "client_id": client.id, "post_id": post_id,
            "social_account_id": account.id, "revision_id": revision_id,
            "content_hash": digest, "network": account.network,
            "state": PublicationState.PUBLISHED, "scheduled_at": scheduled,
            "due_at": scheduled, "idempotency_key": key, "attempts": 1, "dispatches": 1,
            "queued_at": scheduled, "sent_at": scheduled, "held_reason": "",
            "external_id": str(sandbox_id), "external_url": feed_url(account.id, sandbox_id),
            "published_at": published, "last_error": "", "error_code": "", "progress": {},
            "created_at": written, "updated_at": published})
        rows[PostMetricSnapshot] += _readings(client, account, publication_id, sandbox_id,
                                              published, now)
    for model, values in rows.items():  # in this order: parents first
        if values:
            db.session.execute(insert(model), values)
    return len(rows[Publication])


def _readings(client, account, publication_id, sandbox_id, published: datetime,
              now: datetime) -> list[dict]:
    """The readings the hourly collection would have taken of this post by ``now``."""
    readings = []
    for index, age in enumerate(AGES):
        taken = published + age + _wobble(3600, publication_id, index)
        if taken > now:
            break
        figures = post_figures(sandbox_id, (taken - published).total_seconds())
        readings.append({
            "agency_id": client.agency_id, "id": _id("reading", publication_id, index),
            "client_id": client.id, "publication_id": publication_id,
            "network": account.network, "taken_at": taken, "raw": figures, **figures})
    return readings


def _follower_days(client, account, zone: ZoneInfo, today: date, count: int) -> None:
    days = [today - timedelta(days=back) for back in range(count, 0, -1)]
    there = set(db.session.scalars(select(AccountMetricDay.day).where(
        AccountMetricDay.social_account_id == account.id,
        AccountMetricDay.day >= days[0])))
    values = []
    for day in days:
        if day in there:
            continue
        figures = account_figures(account.id, day)
        taken = (datetime.combine(day, time(6), zone).astimezone(UTC)
                 + _wobble(3600, account.id, day))
        values.append({
            "agency_id": client.agency_id, "id": _id("day", account.id, day),
            "client_id": client.id, "social_account_id": account.id,
            "network": account.network, "day": day, "followers": figures["followers"],
            "taken_at": taken, "raw": figures})
    if values:
        db.session.execute(insert(AccountMetricDay), values)

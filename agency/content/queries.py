"""Reads for the post pages. Every query starts from tenant-scoped models and is limited
to one client (or one post), which the view has already checked the person may see."""

from __future__ import annotations

import difflib
import uuid
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import func, select

from agency.access import may_see_client
from agency.approvals.models import ApprovalRequest, Decision
from agency.approvals.services import approvers, link_for, pending_posts
from agency.auth.models import User
from agency.clients.models import Client
from agency.extensions import db
from agency.media.models import Media
from agency.networks.models import AccountStatus, SocialAccount
from agency.networks.rules import NETWORKS, MediaInfo, measure, rules_for, validate
from tenants.models import Membership
from tenants.scoping import tenant_get_or_none

from .models import Comment, Post, PostStatus, Revision
from .options_text import as_text as options_as_text
from .options_text import own_places
from .revisions import diff


def posts_of(client: Client, status: PostStatus | None = None) -> list[Post]:
    """The client's posts, soonest scheduled first, unscheduled ones last."""
    query = select(Post).where(Post.client_id == client.id)
    if status is not None:
        query = query.where(Post.status == status)
    return list(db.session.scalars(
        query.order_by(Post.scheduled_at.asc().nulls_last(), Post.created_at, Post.id)))


def status_counts(client: Client) -> dict[str, int]:
    rows = db.session.execute(select(Post.status, func.count(Post.id))
                              .where(Post.client_id == client.id).group_by(Post.status))
    return {PostStatus(status).value: n for status, n in rows}


def accounts_of(client: Client) -> list[SocialAccount]:
    return list(db.session.scalars(
        select(SocialAccount).where(SocialAccount.client_id == client.id)
        .order_by(SocialAccount.network, func.lower(SocialAccount.display_name))))


def choosable_accounts(client: Client, post: Post | None = None) -> list[SocialAccount]:
    """The accounts a post may be aimed at: the connected ones, plus any it already
    targets (so an expired connection stays visible instead of silently dropped)."""
    current = {t.social_account_id for t in post.targets} if post else set()
    return [a for a in accounts_of(client)
            if a.status == AccountStatus.CONNECTED or a.id in current]


@dataclass
class NetworkCheck:
    network: str
    name: str
    length: int
    limit: int
    problems: list[str]
    media_problems: list[str] = dataclass_field(default_factory=list)  # also in ``problems``


def network_checks(accounts: list[SocialAccount], target_ids: list[str], text: str,
                   variants: dict[str, str], first_comment: str,
                   media: list[Media] = ()) -> list[NetworkCheck]:
    """Per targeted network: the length as that network counts it, its limit, and every
    reason it would refuse the post (the same rules the services enforce on save)."""
    wanted = set(target_ids)
    networks = sorted({a.network for a in accounts if str(a.id) in wanted
                       and a.network in NETWORKS}, key=NETWORKS.index)
    infos = [MediaInfo(kind=m.kind, mime=m.mime, size=m.size) for m in media]
    checks = []
    for network in networks:
        body = variants.get(network) or text
        m = measure(network, body)
        problems = validate(network, body, infos, first_comment or None)
        checks.append(NetworkCheck(
            network, str(rules_for(network).display_name), m.length, m.limit,
            [str(p.message) for p in problems],
            [str(p.message) for p in problems if p.field == "media"]))
    return checks


def chosen_media(client: Client, media_ids: list[str]) -> list[Media]:
    """The client's files among ``media_ids``, in that order; other ids (unknown, foreign,
    malformed) are skipped: this is for showing, and saving refuses them."""
    wanted = []
    for media_id in media_ids:
        try:
            wanted.append(uuid.UUID(str(media_id)))
        except ValueError:
            continue
    wanted = list(dict.fromkeys(wanted))
    if not wanted:
        return []
    found = {m.id: m for m in db.session.scalars(
        select(Media).where(Media.id.in_(wanted), Media.client_id == client.id))}
    return [found[m] for m in wanted if m in found]


def media_library(client: Client, chosen: list[Media]) -> list[Media]:
    """What the composer's picker lists: the chosen files first, in their order, then the
    rest of the client's library, newest first."""
    ids = {m.id for m in chosen}
    rest = db.session.scalars(select(Media).where(Media.client_id == client.id)
                              .order_by(Media.created_at.desc(), Media.id.desc()))
    return [*chosen, *(m for m in rest if m.id not in ids)]


@dataclass
class Preview:
    account: SocialAccount
    network_name: str
    text: str
    is_variant: bool
    first_comment: str


def previews(post: Post) -> list[Preview]:
    """How the post will look on each account it targets."""
    out = []
    for target in sorted(post.targets, key=lambda t: (t.account.network,
                                                      t.account.display_name.lower())):
        account = target.account
        known = account.network in NETWORKS
        variant = (post.variants or {}).get(account.network)
        comment = post.first_comment if known and rules_for(account.network).first_comment \
            else ""
        out.append(Preview(account, str(rules_for(account.network).display_name) if known
                           else account.network, variant or post.text, bool(variant), comment))
    return out


def names_of(user_ids) -> dict[uuid.UUID, str]:
    """Display names of the users who wrote or decided something on a post."""
    ids = {i for i in user_ids if i is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())


def revisions_of(post: Post) -> list[Revision]:
    return list(db.session.scalars(select(Revision).where(Revision.post_id == post.id)
                                   .order_by(Revision.number.desc())))


def decisions_of(post: Post) -> list[Decision]:
    return list(db.session.scalars(select(Decision).where(Decision.post_id == post.id)
                                   .order_by(Decision.created_at, Decision.id)))


def comments_of(post: Post) -> list[Comment]:
    return list(db.session.scalars(select(Comment).where(Comment.post_id == post.id)
                                   .order_by(Comment.created_at, Comment.id)))


def post_page(post: Post, tz_name: str, diff_from: int | None, diff_to: int | None) -> dict:
    """Everything the post page shows besides the post: previews, revisions (and a diff
    between two of them when both numbers are given), decisions, comments, names."""
    revisions = revisions_of(post)
    decisions = decisions_of(post)
    comments = comments_of(post)
    names = names_of([post.author_user_id, *(r.author_user_id for r in revisions),
                      *(d.user_id for d in decisions), *(c.author_user_id for c in comments)])
    changes = None
    if diff_from is not None and diff_to is not None:
        changes = revision_diff(post, revisions, diff_from, diff_to, tz_name)
    return {"previews": previews(post), "revisions": revisions, "decisions": decisions,
            "comments": comments, "names": names, "diff_from": diff_from,
            "diff_to": diff_to, "changes": changes}


def _display(field: str, value, account_names: dict[str, str], tz_name: str,
             media_names: dict[str, str] | None = None,
             places: dict[str, str] | None = None) -> str:
    if value is None:
        return ""
    if field == "options":  # in words, one line each (agency/content/options_text.py)
        return "\n".join(options_as_text(value, places=places))
    if field == "scheduled_at":  # stored as UTC ISO 8601; read in the client's timezone
        local = datetime.fromisoformat(value).astimezone(ZoneInfo(tz_name))
        return f"{local:%Y-%m-%d %H:%M} ({tz_name})"
    if field == "variants":
        return "\n".join(f"[{rules_for(k).display_name if k in NETWORKS else k}] {v}"
                         for k, v in sorted(value.items()))
    if field == "targets":
        return "\n".join(sorted(account_names.get(str(t), str(t)) for t in value))
    if field == "media":  # one line per file, in order: its name and a short checksum
        return "\n".join(f"{n}. {(media_names or {}).get(c) or _('(no longer in the library)')}"
                         f" · {c[:8]}" for n, c in enumerate(value, start=1))
    return str(value)


def revision_diff(post: Post, revisions: list[Revision], old_number: int,
                  new_number: int, tz_name: str = "UTC") -> list[dict] | None:
    """The changes between two of the post's revisions, each field as readable text with a
    line diff; ``None`` when either number is not one of the post's revisions."""
    by_number = {r.number: r for r in revisions}
    old, new = by_number.get(old_number), by_number.get(new_number)
    if old is None or new is None:
        return None
    accounts = list(db.session.scalars(
        select(SocialAccount).where(SocialAccount.client_id == post.client_id)))
    account_names = {str(a.id): f"{a.display_name} ({a.network})" for a in accounts}
    client = db.session.scalars(select(Client).where(Client.id == post.client_id)).one()
    places = own_places(accounts, client.address)
    checksums = {*(old.content.get("media") or []), *(new.content.get("media") or [])}
    media_names = dict(db.session.execute(select(Media.sha256, Media.original_name).where(
        Media.client_id == post.client_id, Media.sha256.in_(sorted(checksums)))).all()) \
        if checksums else {}
    media_names = {c: name or _("Untitled") for c, name in media_names.items()}
    changes = []
    for change in diff(old.content, new.content):
        before = _display(change["field"], change["before"], account_names, tz_name,
                          media_names, places)
        after = _display(change["field"], change["after"], account_names, tz_name,
                         media_names, places)
        # The options' words here know the client's own places, unlike diff()'s.
        lines = (None if change["field"] == "options" else change.get("lines")) or list(
            difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=2))[2:]
        changes.append({"field": change["field"], "before": before, "after": after,
                        "lines": lines})
    return changes


def posts_to_send(client: Client, within_days: int | None = None,
                  now: datetime | None = None) -> list[Post]:
    """Posts awaiting the client, soonest first; optionally only those due within a few
    days (unscheduled ones are then left out)."""
    posts = pending_posts(client)
    if within_days is None:
        return posts
    now = now or datetime.now(UTC)
    until = now + timedelta(days=within_days)
    return [p for p in posts if p.scheduled_at is not None
            and (p.scheduled_at if p.scheduled_at.tzinfo else
                 p.scheduled_at.replace(tzinfo=UTC)) <= until]


def client_posts_by_id(client: Client, ids: list[str]) -> list[Post] | None:
    """The posts named by ``ids``, in the order given, if every one is this client's;
    ``None`` if any is unknown, foreign or another client's."""
    try:
        wanted = [uuid.UUID(str(i)) for i in dict.fromkeys(ids)]
    except ValueError:
        return None
    found = {p.id: p for p in db.session.scalars(
        select(Post).where(Post.id.in_(wanted), Post.client_id == client.id))}
    if len(found) != len(wanted):
        return None
    return [found[i] for i in wanted]


def approval_links(client: Client, request_id) -> list[tuple[str, str]]:
    """(contact name, link) for each approving contact of one of the client's requests."""
    sent = tenant_get_or_none(ApprovalRequest, request_id)
    if sent is None or sent.client_id != client.id:
        return []
    return [(c.name, link_for(sent, c.id)) for c in approvers(client)]


def staff_to_notify(emails: set[str], client: Client, author_id) -> list[User]:
    """The agency's staff among ``emails`` who may see ``client``, except the author."""
    if not emails:
        return []
    rows = db.session.execute(
        select(User, Membership).join(Membership, Membership.user_id == User.id)
        .where(func.lower(User.email).in_(emails))
    ).all()
    return [user for user, membership in rows
            if user.id != author_id and may_see_client(membership, client)]

"""Post writes: create, edit (a new revision each time the content changes), submit,
delete a draft, comment. Services flush; the caller commits once."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from flask_babel import gettext as _
from sqlalchemy import delete, func, select

from agency.approvals.models import ApprovalPolicy
from agency.audit.services import record
from agency.auth.services import ServiceError
from agency.clients.models import Client
from agency.extensions import db
from agency.media.models import Media
from agency.networks.models import AccountStatus, SocialAccount

from . import options as post_options
from .allowance import check_monthly_posts
from .lifecycle import Event, InvalidTransition, next_status
from .models import (
    Comment,
    CommentVisibility,
    Post,
    PostMedia,
    PostStatus,
    PostTarget,
    Revision,
)
from .revisions import canonical_content, content_hash

POST_FIELDS = ("text", "variants", "first_comment", "labels", "scheduled_at", "target_ids",
               "media_ids", "options")
MAX_LABELS = 10
# More than any network takes (Instagram and LinkedIn carousels: 10; the sandbox: 10).
MAX_MEDIA = 10


class PostAction:
    CREATED = "post.created"
    EDITED = "post.edited"
    SUBMITTED = "post.submitted"
    DELETED = "post.deleted"


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)  # SQLite returns naive UTC
    return moment


def _targets_of_client(client: Client, target_ids: list) -> list[SocialAccount]:
    try:
        wanted = {uuid.UUID(str(t)) for t in target_ids}
    except ValueError:
        raise ServiceError(_("Unknown account."), field="target_ids") from None
    if not wanted:
        raise ServiceError(_("Choose at least one account to publish on."), field="target_ids")
    accounts = list(db.session.scalars(select(SocialAccount).where(
        SocialAccount.id.in_(wanted), SocialAccount.client_id == client.id,
    )))
    if len(accounts) != len(wanted):
        # Another client's (or agency's) account is refused like an unknown one.
        raise ServiceError(_("This account does not belong to this client."), field="target_ids")
    return accounts


def _media_of_client(client: Client, media_ids: list) -> list[Media]:
    """The client's library files with these ids, in the order given (duplicates dropped)."""
    try:
        wanted = list(dict.fromkeys(uuid.UUID(str(m)) for m in media_ids))
    except ValueError:
        raise ServiceError(_("Unknown media."), field="media_ids") from None
    if len(wanted) > MAX_MEDIA:
        raise ServiceError(_("At most %(n)d images or videos per post.", n=MAX_MEDIA),
                           field="media_ids")
    if not wanted:
        return []
    found = {m.id: m for m in db.session.scalars(select(Media).where(
        Media.id.in_(wanted), Media.client_id == client.id,
    ))}
    if len(found) != len(wanted):
        # Another client's file is refused like an unknown one.
        raise ServiceError(_("This file is not in this client's media library."),
                           field="media_ids")
    return [found[m] for m in wanted]


def _media_infos(media: list[Media]) -> list:
    from agency.networks.rules import MediaInfo

    return [MediaInfo(kind=m.kind, mime=m.mime, size=m.size) for m in media]


def _instance_limit(network: str, accounts: list[SocialAccount]) -> int | None:
    """A Mastodon instance sets its own length limit (saved when the account connects);
    with several accounts on the network, the smallest holds."""
    limits = [int(a.settings["max_characters"]) for a in accounts
              if a.network == network and (a.settings or {}).get("max_characters")]
    return min(limits) if limits else None


def _validate(client: Client, values: dict, accounts: list[SocialAccount], *,
              now: datetime, media: list[Media] = ()) -> None:
    scheduled = values.get("scheduled_at")
    if scheduled is not None and _aware(scheduled) <= now:
        raise ServiceError(_("Choose a time in the future."), field="scheduled_at")
    labels = values.get("labels") or []
    if len(labels) > MAX_LABELS or any(len(label) > 40 for label in labels):
        raise ServiceError(_("Up to %(n)d labels of 40 characters at most.", n=MAX_LABELS),
                           field="labels")
    networks = {a.network for a in accounts}
    unknown_variants = set(values.get("variants") or {}) - networks
    if unknown_variants:
        raise ServiceError(_("A variant was given for a network this post does not target."),
                           field="variants")
    from agency.networks import rules

    for network in sorted(networks):
        text = (values.get("variants") or {}).get(network) or values.get("text") or ""
        problems = rules.validate(network, text, _media_infos(list(media)),
                                  values.get("first_comment") or None,
                                  limit=_instance_limit(network, accounts))
        if problems:
            problem = problems[0]
            field = "media_ids" if problem.field == "media" else problem.field
            if field == "text" and (values.get("variants") or {}).get(network):
                field = f"variants.{network}"
            raise ServiceError(str(problem.message), field=field)


def _options(client: Client, raw, accounts: list[SocialAccount], media: list[Media], *,
             now: datetime, scheduled_at: datetime | None, check_dates: bool) -> dict:
    """The per-network options as stored: checked for the networks targeted, Google's
    language the client's (agency/content/options.py)."""
    cleaned = post_options.clean_options(
        raw, {a.network for a in accounts}, tz_name=client.timezone,
        language=client.language, media_kinds=[m.kind for m in media])
    if check_dates:
        post_options.check_dates(cleaned, now=now, publish_at=_aware(scheduled_at))
    return cleaned


def _snapshot(post: Post, accounts: list[SocialAccount], media: list[Media]) -> dict:
    return canonical_content(
        text=post.text, variants=post.variants or {}, first_comment=post.first_comment,
        media_checksums=[m.sha256 for m in media], target_ids=[a.id for a in accounts],
        scheduled_at=post.scheduled_at, options=post.options or {},
        networks={a.network for a in accounts},
    )


def _attach(post: Post, media: list[Media]) -> None:
    for position, item in enumerate(media):
        db.session.add(PostMedia(post_id=post.id, media_id=item.id, position=position))


def _new_revision(post: Post, content: dict, author_id: uuid.UUID | None) -> Revision:
    post.revision_number += 1
    post.content_hash = content_hash(content)
    revision = Revision(post_id=post.id, number=post.revision_number, content=content,
                        content_hash=post.content_hash, author_user_id=author_id)
    db.session.add(revision)
    return revision


def _clean(values: dict) -> dict:
    out = {k: v for k, v in values.items() if k in POST_FIELDS}
    if "text" in out:
        out["text"] = (out["text"] or "").strip()
    if "first_comment" in out:
        out["first_comment"] = (out["first_comment"] or "").strip()
    if "variants" in out:
        out["variants"] = {k: v.strip() for k, v in (out["variants"] or {}).items()
                           if v and v.strip()}
    if "media_ids" in out:
        out["media_ids"] = list(out["media_ids"] or [])
    if "labels" in out:
        seen, labels = set(), []
        for label in out["labels"] or []:
            label = label.strip()
            if label and label.lower() not in seen:
                seen.add(label.lower())
                labels.append(label)
        out["labels"] = labels
    if out.get("scheduled_at") is not None:
        out["scheduled_at"] = _aware(out["scheduled_at"]).astimezone(UTC)
    return out


def create_post(client: Client, values: dict, author_id: uuid.UUID | None,
                *, now: datetime | None = None) -> Post:
    """Create a draft with its first revision. Refuses (nothing written) on any bad field."""
    now = now or datetime.now(UTC)
    if client.archived_at is not None:
        raise ServiceError(_("This client is archived: restore it first."))
    values = _clean(values)
    accounts = _targets_of_client(client, values.get("target_ids") or [])
    media = _media_of_client(client, values.get("media_ids") or [])
    _validate(client, values, accounts, now=now, media=media)
    options = _options(client, values.get("options"), accounts, media, now=now,
                       scheduled_at=values.get("scheduled_at"), check_dates=True)
    post = Post(client_id=client.id, author_user_id=author_id, status=PostStatus.DRAFT,
                text=values.get("text", ""), variants=values.get("variants", {}),
                first_comment=values.get("first_comment", ""), options=options,
                labels=values.get("labels", []), scheduled_at=values.get("scheduled_at"))
    db.session.add(post)
    db.session.flush()
    for account in accounts:
        db.session.add(PostTarget(post_id=post.id, social_account_id=account.id))
    _attach(post, media)
    _new_revision(post, _snapshot(post, accounts, media), author_id)
    db.session.flush()
    record(PostAction.CREATED, post, details={"client": str(client.id)})
    return post


def update_post(post: Post, client: Client, values: dict, author_id: uuid.UUID | None,
                *, now: datetime | None = None) -> bool:
    """Apply an edit. If what would be published changed, a new revision is written and
    the post goes back to draft: decisions on the old content no longer count, and open
    approval links show it as changed. Returns whether the content changed."""
    now = now or datetime.now(UTC)
    values = _clean(values)
    current_ids = [t.social_account_id for t in post.targets]
    target_ids = values.get("target_ids", current_ids)
    accounts = _targets_of_client(client, target_ids)
    current_media = [a.media_id for a in post.attachments]
    media = _media_of_client(client, values.get("media_ids", current_media))
    merged = {
        "text": values.get("text", post.text),
        "variants": values.get("variants", post.variants or {}),
        "first_comment": values.get("first_comment", post.first_comment),
        "labels": values.get("labels", post.labels or []),
        "scheduled_at": values.get("scheduled_at", _aware(post.scheduled_at)),
    }
    schedule_changed = "scheduled_at" in values and values["scheduled_at"] != _aware(
        post.scheduled_at)
    _validate(client, {**merged, "scheduled_at": merged["scheduled_at"] if schedule_changed
                       else None}, accounts, now=now, media=media)
    networks = {a.network for a in accounts}
    # Not sent: the stored options stay, less those of networks no longer targeted.
    raw_options = values["options"] if "options" in values else {
        n: v for n, v in (post.options or {}).items() if n in networks}
    options = _options(client, raw_options, accounts, media, now=now,
                       scheduled_at=merged["scheduled_at"], check_dates=False)
    if schedule_changed or options != (post.options or {}):
        # An old post may keep an offer that has ended; a change must not set one up.
        post_options.check_dates(options, now=now, publish_at=merged["scheduled_at"])
    post.options = options
    post.text, post.variants = merged["text"], merged["variants"]
    post.first_comment, post.labels = merged["first_comment"], merged["labels"]
    post.scheduled_at = merged["scheduled_at"]
    if {a.id for a in accounts} != set(current_ids):
        db.session.execute(delete(PostTarget).where(PostTarget.post_id == post.id))
        for account in accounts:
            db.session.add(PostTarget(post_id=post.id, social_account_id=account.id))
    if [m.id for m in media] != current_media:
        db.session.execute(delete(PostMedia).where(PostMedia.post_id == post.id))
        db.session.flush()  # the positions are unique: the old rows go first
        _attach(post, media)
    content = _snapshot(post, accounts, media)
    if content_hash(content) == post.content_hash:
        db.session.flush()
        return False
    from agency.publishing.services import withdraw_for_edit

    withdraw_for_edit(post)
    _new_revision(post, content, author_id)
    post.status = next_status(post.status, Event.EDIT, ApprovalPolicy(client.approval_policy))
    db.session.flush()
    db.session.expire(post, ["targets", "attachments"])
    record(PostAction.EDITED, post, details={"revision": post.revision_number})
    return True


def submit_post(post: Post, client: Client) -> PostStatus:
    """Send a draft (or a post with changes requested) into its client's approval flow."""
    if not post.targets:
        raise ServiceError(_("Choose at least one account to publish on."), field="target_ids")
    if post.scheduled_at is None:
        raise ServiceError(_("Choose when it should go out."), field="scheduled_at")
    if any(t.account.status != AccountStatus.CONNECTED for t in post.targets):
        raise ServiceError(_("An account of this post needs to be reconnected first."))
    check_monthly_posts(post, client)
    try:
        post.status = next_status(post.status, Event.SUBMIT,
                                  ApprovalPolicy(client.approval_policy))
    except InvalidTransition:
        raise ServiceError(_("This post has already been submitted.")) from None
    db.session.flush()
    if post.status == PostStatus.APPROVED:  # the client's policy asks for no approval
        from agency.publishing.services import schedule_post

        schedule_post(post)
    record(PostAction.SUBMITTED, post, details={"status": post.status.value})
    return post.status


def delete_draft(post: Post) -> None:
    """Only drafts and posts sent back for changes can be deleted; nothing approved is."""
    if post.status not in (PostStatus.DRAFT, PostStatus.CHANGES_REQUESTED):
        raise ServiceError(_("Only a draft can be deleted."))
    record(PostAction.DELETED, post, details={"text": post.text[:80]})
    db.session.delete(post)
    db.session.flush()


MENTION = re.compile(r"(?<![\w@])@([\w.+-]+@[\w-]+(?:\.[\w-]+)+)")


def add_comment(post: Post, body: str, visibility: CommentVisibility, *,
                user_id: uuid.UUID | None = None, contact_id: uuid.UUID | None = None,
                author_label: str = "") -> Comment:
    """Add a comment. ``@person@example.com`` mentions of staff are notified by e-mail."""
    body = (body or "").strip()
    if not body:
        raise ServiceError(_("Write a comment first."), field="body")
    if len(body) > 5000:
        raise ServiceError(_("A comment has at most 5,000 characters."), field="body")
    comment = Comment(post_id=post.id, body=body, visibility=visibility, author_user_id=user_id,
                      author_contact_id=contact_id, author_label=author_label[:254])
    db.session.add(comment)
    db.session.flush()
    return comment


def mentioned_emails(body: str) -> set[str]:
    return {m.lower() for m in MENTION.findall(body or "")}


def count_posts(client: Client) -> int:
    return db.session.scalar(select(func.count()).select_from(Post)
                             .where(Post.client_id == client.id))

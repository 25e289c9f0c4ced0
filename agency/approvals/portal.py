"""The client's approval portal: public pages opened from a signed e-mail link.

The link is the principal. It names the agency (the tenant), the approval request and the
contact; nobody signs in. A staff member who opens a link is treated like anyone holding
it, so the page never shows their navigation nor makes them the author of a decision.
Pages speak the client's language and show times in the client's time zone.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext, refresh
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from sqlalchemy import select
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import AnyOf, Length, Regexp

from agency.auth.links import LinkError
from agency.auth.services import ServiceError
from agency.content.models import (
    Comment,
    CommentVisibility,
    Post,
    PostMedia,
    PostStatus,
    Revision,
)
from agency.extensions import db, login_manager
from agency.i18n import supported
from agency.media.models import Media
from agency.media.routes import serve

from .models import ApprovalItem, Decision, DecisionKind
from .services import (
    Conflict,
    PortalAccess,
    access_for_token,
    approve_all,
    client_time,
    decide,
    link_owner,
    notify_agency_of_decisions,
)

bp = Blueprint("portal", __name__)

# The token is in the URL: it must not leak through a Referer, a search engine or a cache.
PRIVATE_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "Cache-Control": "no-store",
}


class State:
    AWAITING = "awaiting"
    APPROVED = "approved"
    CHANGES = "changes"
    CHANGED = "changed"


class DecisionForm(FlaskForm):
    decision = StringField(validators=[AnyOf(("approve", "changes"))])
    comment = TextAreaField(_l("What should change?"), validators=[Length(max=5000)])
    content_hash = HiddenField(validators=[Regexp(r"^[0-9a-f]{64}$")])


class ApproveAllForm(FlaskForm):
    """Only the CSRF token: the pairs shown are read as a list (``shown``)."""


@dataclass
class Preview:
    network: str
    network_name: str
    account_name: str
    handle: str
    text: str
    first_comment: str


@dataclass
class Card:
    item: ApprovalItem
    post: Post
    state: str
    previews: list[Preview] = field(default_factory=list)
    media: list[Media] = field(default_factory=list)  # shown as they go out, in order
    decision: Decision | None = None  # the latest client decision on the content shown
    comments: list[Comment] = field(default_factory=list)
    sent_text: str = ""  # what was sent, for a post changed since

    @property
    def approvable(self) -> bool:
        return self.state == State.AWAITING


# --- request plumbing ------------------------------------------------------------------

@bp.before_request
def _as_link_holder():
    g._login_user = login_manager.anonymous_user()  # read by flask_login.current_user
    g.pop("membership", None)


@bp.after_app_request
def _private_headers(response):
    # Registered on the app (and before Talisman), so it runs after Talisman's own
    # Referrer-Policy and wins; it also covers the 404s of mistyped portal URLs.
    if request.blueprint == "portal" or request.path.startswith("/a/"):
        response.headers.update(PRIVATE_HEADERS)
    return response


@bp.teardown_request
def _forget_language(_exc):
    g.pop("force_locale", None)


def _speak(language: str | None) -> None:
    """Use the client's language for the rest of this request (agency.i18n honours it)."""
    g.force_locale = supported(language) or current_app.config["BABEL_DEFAULT_LOCALE"]
    refresh()


def _problem(code: int, title: str, message: str, *, token: str | None = None,
             agency_name: str = ""):
    return make_response(render_template(
        "portal/problem.html", code=code, title=title, message=message, token=token,
        agency_name=agency_name), code)


@bp.errorhandler(CSRFError)
def _form_expired(_error):
    # A phone keeps a page open for days: say how to recover, in the client's language.
    _as_link_holder()  # the CSRF check runs before this blueprint's own before_request
    token = (request.view_args or {}).get("token", "")
    access = access_for_token(token)
    if isinstance(access, LinkError):
        return _problem(400, _("Your form expired"), _("Open the link again from your e-mail."))
    _speak(access.client.language)
    return _problem(400, _("Your form expired"),
                    _("Go back to the posts, reload the page and try again."), token=token)


def _access(token: str) -> PortalAccess:
    """The link's access, or the page explaining why it cannot be used (410 or 400)."""
    access = access_for_token(token)
    if access is LinkError.EXPIRED:
        owner = link_owner(token)
        if owner is not None:
            _speak(owner.client.language)
            abort(_problem(410, _("This link has expired"), _(
                "For your security, approval links only work for a limited time. Ask "
                "%(agency)s to send you a new one.", agency=owner.agency_name),
                agency_name=owner.agency_name))
        access = LinkError.INVALID
    if isinstance(access, LinkError):
        abort(_problem(400, _("This link is not valid"), _(
            "It may not have been copied completely. Open it again from the e-mail you "
            "received, or ask the agency that manages your posts for a new one.")))
    _speak(access.client.language)
    return access


def _item(access: PortalAccess, post_id: uuid.UUID) -> ApprovalItem:
    item = next((i for i in access.request.items if i.post_id == post_id), None)
    if item is None:  # another request's post, another agency's, or none at all
        abort(404)
    return item


def _back(token: str, post_id: uuid.UUID | None = None):
    anchor = f"post-{post_id}" if post_id else None
    return redirect(url_for("portal.review", token=token, _anchor=anchor), code=303)


# --- reading ------------------------------------------------------------------------------

def _state(item: ApprovalItem, post: Post) -> str:
    if post.content_hash != item.content_hash:
        return State.CHANGED  # an edit voids the link for this post
    return {PostStatus.AWAITING_CLIENT: State.AWAITING, PostStatus.APPROVED: State.APPROVED,
            PostStatus.CHANGES_REQUESTED: State.CHANGES}.get(post.status, State.CHANGED)


def _previews(post: Post) -> list[Preview]:
    from agency.networks import rules

    previews = []
    for target in sorted(post.targets, key=lambda t: (t.account.network,
                                                      t.account.display_name)):
        account = target.account
        try:
            network_rules = rules.rules_for(account.network)
            name, first_comment_ok = str(network_rules.display_name), network_rules.first_comment
        except ValueError:
            name, first_comment_ok = account.network, True
        previews.append(Preview(
            network=account.network, network_name=name, account_name=account.display_name,
            handle=account.handle, text=(post.variants or {}).get(account.network) or post.text,
            first_comment=post.first_comment if first_comment_ok else ""))
    return previews


def portal_cards(access: PortalAccess) -> list[Card]:
    """The request's posts as the client sees them, in the order they were sent."""
    items = access.request.items
    ids = [i.post_id for i in items]
    posts = {p.id: p for p in db.session.scalars(select(Post).where(Post.id.in_(ids)))}
    cards = [Card(item=i, post=posts[i.post_id], state=_state(i, posts[i.post_id]))
             for i in items if i.post_id in posts]
    decisions = db.session.scalars(select(Decision).where(
        Decision.post_id.in_(ids),
        Decision.kind.in_((DecisionKind.CLIENT_APPROVED, DecisionKind.CLIENT_CHANGES)),
    ).order_by(Decision.created_at))
    latest = {d.post_id: d for d in decisions}
    comments: dict[uuid.UUID, list[Comment]] = {}
    for comment in db.session.scalars(select(Comment).where(
            Comment.post_id.in_(ids), Comment.visibility == CommentVisibility.CLIENT,
    ).order_by(Comment.created_at)):
        comments.setdefault(comment.post_id, []).append(comment)
    changed = [c for c in cards if c.state == State.CHANGED]
    sent = {}
    if changed:
        sent = {(r.post_id, r.number): r.content for r in db.session.scalars(
            select(Revision).where(Revision.post_id.in_([c.post.id for c in changed])))}
    for card in cards:
        card.comments = comments.get(card.post.id, [])
        if card.state == State.CHANGED:
            content = sent.get((card.post.id, card.item.revision_number)) or {}
            card.sent_text = content.get("text") or next(iter(
                (content.get("variants") or {}).values()), "")
            continue
        card.previews = _previews(card.post)
        card.media = card.post.media
        decision = latest.get(card.post.id)
        if decision is not None and decision.content_hash == card.post.content_hash:
            card.decision = decision
    return cards


def _page(access: PortalAccess, token: str, *, failed: tuple[uuid.UUID, DecisionForm] | None
          = None, status: int = 200):
    from tenants.context import current_agency

    cards = portal_cards(access)
    return render_template(
        "portal/review.html", access=access, client=access.client, token=token, cards=cards,
        agency_name=current_agency.name, waiting=[c for c in cards if c.approvable],
        failed=failed, when=client_time, State=State, media_src=_media_src(token),
    ), status


def _media_src(token: str):
    def src(media: Media, thumb: bool) -> str:
        return url_for("portal.media_thumb" if thumb else "portal.media", token=token,
                       media_id=media.id)

    return src


def _shown_media(access: PortalAccess, media_id: uuid.UUID) -> Media:
    """A file attached to one of the request's posts whose content is still what was
    sent (what the page shows); anything else is a 404, whoever's file it is."""
    shown = [i.post_id for i in access.request.items]
    sent = {i.post_id: i.content_hash for i in access.request.items}
    rows = db.session.execute(
        select(Post.id, Post.content_hash, Media)
        .join(PostMedia, PostMedia.post_id == Post.id)
        .join(Media, Media.id == PostMedia.media_id)
        .where(Post.id.in_(shown), Media.id == media_id)
    ).all()
    for post_id, content_hash, media in rows:
        if sent.get(post_id) == content_hash:
            return media
    abort(404)


# --- views --------------------------------------------------------------------------------

@bp.get("/a/<token>")
def review(token: str):
    """Read only: opening the page changes nothing, not even a "last opened" time."""
    return _page(_access(token), token)


@bp.get("/a/<token>/media/<uuid:media_id>", endpoint="media")
def media_file(token: str, media_id: uuid.UUID):
    """An image or video of a post shown on this link, for the contact's eyes only: the
    link is checked like the page's (410 expired, 400 tampered), the file must belong
    to a post of this request (else 404), and the portal's private headers apply."""
    return serve(_shown_media(_access(token), media_id))


@bp.get("/a/<token>/media/<uuid:media_id>/thumb", endpoint="media_thumb")
def media_thumb(token: str, media_id: uuid.UUID):
    return serve(_shown_media(_access(token), media_id), thumb=True)


@bp.post("/a/<token>/posts/<uuid:post_id>", endpoint="decide")
def decide_on_post(token: str, post_id: uuid.UUID):
    access = _access(token)
    item = _item(access, post_id)
    form = DecisionForm()
    if not form.validate_on_submit():
        if form.errors.keys() <= {"comment"}:
            return _page(access, token, failed=(post_id, form), status=422)
        abort(400)  # hidden fields are not a person's input: a forged or broken form
    approve = form.decision.data == "approve"
    try:
        post = db.session.scalars(select(Post).where(Post.id == post_id)).one()
        if post.content_hash != item.content_hash:
            raise Conflict(_("This post was changed after this link was sent. The agency "
                             "will send it to you again."))
        decision = decide(access, post_id, approve=approve, shown_hash=form.content_hash.data,
                          comment=form.comment.data or "")
    except Conflict as conflict:
        db.session.rollback()
        return _problem(409, _("This post cannot be decided on here any more"),
                        conflict.message, token=token)
    except ServiceError as refused:
        db.session.rollback()
        form.comment.errors = [refused.message]
        return _page(access, token, failed=(post_id, form), status=422)
    notify_agency_of_decisions(access, [decision])
    db.session.commit()
    if approve:
        flash(_("Approved. Thank you!"), "success")
    else:
        flash(_("Your request was sent to the agency. They will send you the post again "
                "once it is changed."), "success")
    return _back(token, post_id)


def shown_posts() -> dict[uuid.UUID, str]:
    """The "approve all" form's posts, each with the content hash the page showed
    (``post_id:hash`` pairs); 400 for a form without its CSRF token or with a bad pair."""
    if not ApproveAllForm().validate_on_submit():
        abort(400)
    shown: dict[uuid.UUID, str] = {}
    for pair in request.form.getlist("shown"):
        post_id, _sep, shown_hash = pair.partition(":")
        try:
            shown[uuid.UUID(post_id)] = shown_hash
        except ValueError:
            abort(400)
    return shown


@bp.post("/a/<token>/approve-all", endpoint="approve_all")
def approve_all_posts(token: str):
    access = _access(token)
    shown = shown_posts()
    # A post edited since the link was sent is no longer this link's to approve.
    sent = {i.post_id: i.content_hash for i in access.request.items}
    shown = {p: h for p, h in shown.items() if sent.get(p) == h}
    try:
        decisions = approve_all(access, shown)
    except Conflict as conflict:
        db.session.rollback()
        return _problem(409, _("This post cannot be decided on here any more"),
                        conflict.message, token=token)
    notify_agency_of_decisions(access, decisions)
    db.session.commit()
    left = len(request.form.getlist("shown")) - len(decisions)
    if decisions:
        flash(ngettext("%(num)d post approved. Thank you!", "%(num)d posts approved. Thank you!",
                       len(decisions)), "success")
    if left > 0:
        flash(ngettext("%(num)d post changed or was already decided: look at it below.",
                       "%(num)d posts changed or were already decided: look at them below.",
                       left), "info")
    return _back(token)

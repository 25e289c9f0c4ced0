"""The agency's post pages: a client's posts, the composer (its live checks, its media
picker and uploads into the library), a post's page, sending posts for approval, approval
settings and the client's social accounts.

Each view loads (a client through ``client_for_view``; a post through ``tenant_get``, then
its client the same way), checks, acts through a service and commits once. A refused write
is rolled back and answered with the same page: 422 for bad input, 409 for a stale decision.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask import session as cookie_session
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import SelectChoice

from agency.access import can, client_for_view, require
from agency.approvals import services as approvals
from agency.approvals.settings import update_approval_settings
from agency.auth.services import ServiceError
from agency.clients.forms import timezone_label
from agency.clients.queries import contacts_of
from agency.extensions import csrf, db
from agency.forms import apply_service_error
from agency.media import services as media_services
from agency.media.processing import IMAGE_MAX_BYTES, MB, VIDEO_MAX_BYTES, MediaRejected
from agency.media.routes import ACCEPT_ATTR, UPLOAD_MAX_BYTES
from agency.networks.rules import NETWORKS
from agency.networks.services import add_account as add_social_account
from agency.notifications.mail import send_mail
from agency.publishing import queries as publishing_queries
from tenants.roles import Permission
from tenants.scoping import tenant_get

from . import forms, options_form, queries, services
from .forms import STATUS_LABELS, SUBMITTED, PostForm, local_time, network_name
from .models import CommentVisibility, Post, PostStatus
from .options import OPTION_NETWORKS
from .options_text import post_options

bp = Blueprint("posts", __name__)
DEV_REQUEST_KEY = "dev_approval_request"


@bp.context_processor
def _post_helpers():
    return {"STATUS_LABELS": STATUS_LABELS, "DECISION_LABELS": forms.DECISION_LABELS,
            "POLICY_LABELS": forms.POLICY_LABELS, "local_time": local_time,
            "timezone_label": timezone_label, "network_name": network_name,
            "PostStatus": PostStatus, "staff_media_src": _staff_media_src}


def _staff_media_src(media, thumb: bool) -> str:
    return url_for("media.thumb" if thumb else "media.file", media_id=media.id)


@bp.app_context_processor
def _client_page_helpers():
    # For the "Social accounts" section of the client page (clients/_accounts.html), and
    # the options in words under every preview (portal/_previews.html, posts/show.html).
    return {"social_accounts_of": queries.accounts_of, "network_name": network_name,
            "post_options": post_options}


def _see_other(endpoint: str, **values):
    return redirect(url_for(endpoint, **values), code=303)


def _allowed(permission: Permission) -> None:
    # Judged after the client is loaded: an unseen client is a 404 before anything else.
    if not can(permission):
        abort(403)


def _writable(client):
    """A redirect away from a change to an archived client, or ``None`` if it is active."""
    if client.is_archived:
        flash(_("This client is archived. Restore it before making changes."), "error")
        return _see_other("clients.show", client_id=client.id)
    return None


def _post_and_client(post_id: uuid.UUID):
    post = tenant_get(Post, post_id)
    return post, client_for_view(post.client_id)


def _refused(form, error: ServiceError) -> None:
    """Undo whatever the request did, and show the refusal on the field it names."""
    db.session.rollback()
    apply_service_error(form, error)


def _status(code_if_post: int = 422) -> int:
    return code_if_post if request.method == "POST" else 200


# --- a client's posts -------------------------------------------------------------------

@bp.get("/clients/<uuid:client_id>/posts")
@require()
def index(client_id: uuid.UUID):
    client = client_for_view(client_id)
    try:
        status = PostStatus(request.args.get("status", ""))
    except ValueError:
        status = None
    counts = queries.status_counts(client)
    return render_template("posts/index.html", client=client, status=status, counts=counts,
                           posts=queries.posts_of(client, status), dev_links=_dev_links(client))


def _dev_links(client) -> list[tuple[str, str]]:
    """Development only: the links of the request just sent, shown once for convenience
    (rebuilt from the request id, so no link ever sits in the session cookie)."""
    if DEV_REQUEST_KEY not in cookie_session:  # popping a missing key rewrites the cookie
        return []
    request_id = cookie_session.pop(DEV_REQUEST_KEY)
    if not current_app.config.get("SHOW_DEV_OUTBOX"):
        return []
    return queries.approval_links(client, request_id)


# --- the composer -----------------------------------------------------------------------

def _checks(form: PostForm, client, accounts, chosen):
    return queries.network_checks(accounts, form.targets.data or [], form.text.data or "",
                                  form.variant_texts(), form.first_comment.data or "", chosen)


def _media_problems(checks) -> list[str]:
    # The same problem named by several networks is said once.
    return list(dict.fromkeys(p for c in checks for p in c.media_problems))


def _picker(form: PostForm, client, chosen, checks, *, uploaded=None) -> dict:
    """What the media picker (posts/_media_picker.html) shows."""
    return {"items": queries.media_library(client, chosen),
            "chosen": {str(m.id): n for n, m in enumerate(chosen, start=1)},
            "media_problems": [p for p in _media_problems(checks)
                               if p not in form.media.errors],
            "uploaded": uploaded, "accept": ACCEPT_ATTR, "image_mb": IMAGE_MAX_BYTES // MB,
            "video_mb": VIDEO_MAX_BYTES // MB, "upload_max_bytes": UPLOAD_MAX_BYTES}


def _composer(form: PostForm, client, accounts, post=None):
    chosen = queries.chosen_media(client, form.media_ids())
    checks = _checks(form, client, accounts, chosen)
    networks = sorted({a.network for a in accounts if a.network in NETWORKS},
                      key=NETWORKS.index)
    options = {"networks": [n for n in networks if n in OPTION_NETWORKS],
               "targeted": form.target_networks(accounts),
               "places": options_form.default_places(accounts, client.address),
               "has_errors": lambda network: options_form.has_errors(form, network),
               "name": options_form.name}
    return render_template("posts/composer.html", form=form, client=client, post=post,
                           accounts=accounts, networks=networks, checks=checks,
                           options=options,
                           picker=_picker(form, client, chosen, checks)), _status()


def _account_choices(form: PostForm, accounts) -> None:
    form.targets.choices = [SelectChoice(str(a.id), a.display_name) for a in accounts]


@bp.route("/clients/<uuid:client_id>/posts/new", methods=["GET", "POST"])
@require(Permission.CLIENT_EDIT)
def new(client_id: uuid.UUID):
    client = client_for_view(client_id)
    if (refusal := _writable(client)) is not None:
        return refusal
    accounts = queries.choosable_accounts(client)
    form = PostForm()
    _account_choices(form, accounts)
    if request.method == "GET":
        options_form.prefill_places(form, options_form.default_places(accounts,
                                                                      client.address))
    if form.validate_on_submit():
        try:
            post = services.create_post(client, form.values(client.timezone,
                                                            accounts=accounts),
                                        current_user.id)
        except ServiceError as error:
            _refused(form, error)
        else:
            db.session.commit()
            flash(_("Draft saved."), "success")
            return _see_other("posts.show", post_id=post.id)
    return _composer(form, client, accounts)


@bp.route("/posts/<uuid:post_id>/edit", methods=["GET", "POST"])
@require()
def edit(post_id: uuid.UUID):
    post, client = _post_and_client(post_id)
    _allowed(Permission.CLIENT_EDIT)
    if (refusal := _writable(client)) is not None:
        return refusal
    accounts = queries.choosable_accounts(client, post)
    form = PostForm()
    _account_choices(form, accounts)
    if request.method == "GET":
        form.fill(post, client.timezone)
        options_form.prefill_places(
            form, options_form.default_places(accounts, client.address),
            networks={t.account.network for t in post.targets})
    if form.validate_on_submit():
        was = post.status
        try:
            changed = services.update_post(
                post, client, form.values(client.timezone, post.scheduled_at, accounts),
                current_user.id)
        except ServiceError as error:
            _refused(form, error)
        else:
            db.session.commit()
            if changed and was != PostStatus.DRAFT:
                flash(_("Saved as version %(n)d. It is a draft again: submit it for approval "
                        "once more.", n=post.revision_number), "success")
            elif changed:
                flash(_("Saved as version %(n)d.", n=post.revision_number), "success")
            else:
                flash(_("Saved. What will be published did not change."), "success")
            return _see_other("posts.show", post_id=post.id)
    return _composer(form, client, accounts, post=post)


@bp.post("/clients/<uuid:client_id>/posts/check")
@require(Permission.CLIENT_EDIT)
def check(client_id: uuid.UUID):
    """The composer's live panel (htmx): per targeted network, length and problems."""
    client = client_for_view(client_id)
    form = PostForm()  # only read: nothing is saved here
    checks = _checks(form, client, queries.accounts_of(client),
                     queries.chosen_media(client, form.media_ids()))
    # The media problems also go beside the media field (an out-of-band swap).
    return render_template("posts/_check.html", checks=checks, oob=True,
                           media_problems=_media_problems(checks))


@bp.post("/clients/<uuid:client_id>/posts/media")
@csrf.exempt
@require(Permission.CLIENT_EDIT)
def upload_media(client_id: uuid.UUID):
    """The composer's upload (htmx): the file goes into the client's library and is
    committed at once, so it is kept whatever becomes of the post; the answer is the
    media picker with the file chosen, after those already chosen. A refusal answers
    only the message, aimed (HX-Retarget) at the upload field, so the choice is kept."""
    # As for the library's own upload: the limit is raised before anything reads the
    # body, so the CSRF check (which reads it) runs here rather than before the view.
    request.max_content_length = UPLOAD_MAX_BYTES
    try:
        if current_app.config.get("WTF_CSRF_ENABLED", True):
            csrf.protect()
        upload = request.files.get("upload")
    except RequestEntityTooLarge:
        return _upload_refused(_("The file is too large (at most %(mb)d MB).",
                                 mb=VIDEO_MAX_BYTES // MB), 413)
    client = client_for_view(client_id)
    if client.is_archived:
        return _upload_refused(_("This client is archived. Restore it before making "
                                 "changes."), 409)
    if upload is None or not upload.filename:
        return _upload_refused(_("Choose a file first."), 422)
    try:
        media = media_services.store_upload(client, upload.filename, upload.read(),
                                            current_user.id)
    except MediaRejected as refused:
        db.session.rollback()
        return _upload_refused(refused.message, refused.status)
    db.session.commit()
    form = PostForm()  # the composer as it is in the page: only read
    ids = form.media_ids()
    if str(media.id) not in ids:
        ids.append(str(media.id))
    form.media.data = ids
    chosen = queries.chosen_media(client, ids)
    checks = _checks(form, client, queries.accounts_of(client), chosen)
    return render_template("posts/_media_picker.html", form=form, client=client,
                           picker=_picker(form, client, chosen, checks, uploaded=media))


def _upload_refused(message: str, status: int):
    response = current_app.make_response((render_template(
        "posts/_upload_refused.html", message=message), status))
    response.headers["HX-Retarget"] = "#media-upload-status"
    response.headers["HX-Reswap"] = "innerHTML"
    return response


# --- a post's page and its actions ------------------------------------------------------

def _post_page(post, client, status: int = 200, *, comment_form=None, review_form=None,
               error: str | None = None, conflict: str | None = None):
    review_form = review_form or forms.ReviewForm(formdata=None)
    review_form.content_hash.data = post.content_hash  # what the reviewer is looking at
    return render_template(
        "posts/show.html", post=post, client=client, error=error, conflict=conflict,
        comment_form=comment_form or forms.CommentForm(formdata=None), review_form=review_form,
        publishing=publishing_queries.for_post(post),
        **queries.post_page(post, client.timezone, request.args.get("from", type=int),
                            request.args.get("to", type=int)),
    ), status


@bp.get("/posts/<uuid:post_id>")
@require()
def show(post_id: uuid.UUID):
    post, client = _post_and_client(post_id)
    return _post_page(post, client)


@bp.post("/posts/<uuid:post_id>/comments")
@require()
def comment(post_id: uuid.UUID):
    post, client = _post_and_client(post_id)
    _allowed(Permission.CLIENT_EDIT)
    if (refusal := _writable(client)) is not None:
        return refusal
    form = forms.CommentForm()
    if form.validate_on_submit():
        try:
            added = services.add_comment(
                post, form.body.data, CommentVisibility(form.visibility.data),
                user_id=current_user.id, author_label=current_user.name)
        except ServiceError as error:
            _refused(form, error)
        else:
            mentioned = services.mentioned_emails(added.body)
            for person in queries.staff_to_notify(mentioned, client, current_user.id):
                _mail_mention(person, post, client, added.body)
            db.session.commit()
            flash(_("Comment added."), "success")
            return redirect(url_for("posts.show", post_id=post.id, _anchor="comments"), 303)
    return _post_page(post, client, 422, comment_form=form)


def _mail_mention(person, post, client, body: str) -> None:
    # Delivered after the commit (send_mail waits for it), in the reader's language.
    with force_locale(person.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        send_mail(person.email,
                  _("%(name)s mentioned you on a post for %(client)s",
                    name=current_user.name, client=client.name),
                  render_template("posts/mention_mail.txt", person=person, client=client,
                                  author=current_user.name, body=body,
                                  link=url_for("posts.show", post_id=post.id,
                                               _anchor="comments", _external=True)))



@bp.post("/posts/<uuid:post_id>/submit")
@require()
def submit(post_id: uuid.UUID):
    post, client = _post_and_client(post_id)
    _allowed(Permission.CLIENT_EDIT)
    if (refusal := _writable(client)) is not None:
        return refusal
    try:
        status = services.submit_post(post, client)
    except ServiceError as error:
        db.session.rollback()
        return _post_page(post, client, 422, error=error.message)
    db.session.commit()
    flash(str(SUBMITTED.get(status, STATUS_LABELS[status])), "success")
    return _see_other("posts.show", post_id=post.id)


@bp.post("/posts/<uuid:post_id>/delete")
@require()
def delete(post_id: uuid.UUID):
    post, client = _post_and_client(post_id)
    _allowed(Permission.CLIENT_EDIT)
    if (refusal := _writable(client)) is not None:
        return refusal
    client_id = client.id
    try:
        services.delete_draft(post)
    except ServiceError as error:
        db.session.rollback()
        return _post_page(post, client, 422, error=error.message)
    db.session.commit()
    flash(_("Draft deleted."), "success")
    return _see_other("posts.index", client_id=client_id)


@bp.post("/posts/<uuid:post_id>/review")
@require()
def review(post_id: uuid.UUID):
    post, client = _post_and_client(post_id)
    _allowed(Permission.POST_REVIEW_INTERNAL)
    if (refusal := _writable(client)) is not None:
        return refusal
    form = forms.ReviewForm()
    if form.decision.data not in ("approve", "changes") or not form.content_hash.data:
        abort(400)
    try:
        approvals.internal_review(post, client, current_user.id,
                                  approve=form.decision.data == "approve",
                                  comment=form.comment.data or "",
                                  shown_hash=form.content_hash.data)
    except approvals.Conflict as conflict:
        db.session.rollback()
        return _post_page(post, client, 409, conflict=conflict.message)
    except ServiceError as error:
        _refused(form, error)
        return _post_page(post, client, 422, review_form=form)
    db.session.commit()
    flash(_("Approved: it now waits for the client.") if form.decision.data == "approve"
          else _("Sent back to the author with your comment."), "success")
    return _see_other("posts.show", post_id=post.id)


# --- sending for approval, and the client's approval settings ---------------------------

@bp.route("/clients/<uuid:client_id>/approvals/new", methods=["GET", "POST"])
@require(Permission.CLIENT_EDIT)
def send_for_approval(client_id: uuid.UUID):
    client = client_for_view(client_id)
    if (refusal := _writable(client)) is not None:
        return refusal
    within = 7 if request.args.get("within") == "7" else None
    posts = queries.posts_to_send(client, within)
    form = forms.SendForm()
    if request.method == "GET":
        form.post_ids.data = [str(p.id) for p in posts]
    if form.validate_on_submit():
        chosen = queries.client_posts_by_id(client, form.post_ids.data or [])
        try:
            if chosen is None:
                raise ServiceError(_("Some of these posts are not this client's, or no longer "
                                     "exist."), field="post_ids")
            sent = approvals.send_for_approval(client, chosen, current_user.id)
        except ServiceError as error:
            _refused(form, error)
        else:
            db.session.commit()
            if current_app.config.get("SHOW_DEV_OUTBOX"):
                cookie_session[DEV_REQUEST_KEY] = str(sent.request.id)
            flash(ngettext("Sent for approval to %(num)d contact.",
                           "Sent for approval to %(num)d contacts.", len(sent.links)),
                  "success")
            return _see_other("posts.index", client_id=client.id)
    return render_template("posts/send.html", client=client, posts=posts, form=form,
                           within=within, contacts=approvals.approvers(client),
                           selected=set(form.post_ids.data or [])), _status()


@bp.route("/clients/<uuid:client_id>/approval-settings", methods=["GET", "POST"])
@require(Permission.APPROVAL_POLICY_MANAGE)
def approval_settings(client_id: uuid.UUID):
    client = client_for_view(client_id)
    if (refusal := _writable(client)) is not None:
        return refusal
    form = forms.ApprovalSettingsForm()
    if request.method == "GET":
        form.fill(client)
    if form.validate_on_submit():
        try:
            update_approval_settings(client, form.values())
        except ServiceError as error:
            _refused(form, error)
        else:
            db.session.commit()
            flash(_("Approval settings saved."), "success")
            return _see_other("posts.approval_settings", client_id=client.id)
    return render_template("posts/settings.html", client=client, form=form,
                           contacts=contacts_of(client)), _status()


# --- social accounts (a section of the client page) -------------------------------------

@bp.post("/clients/<uuid:client_id>/accounts")
@require(Permission.CLIENT_EDIT)
def add_account(client_id: uuid.UUID):
    client = client_for_view(client_id)
    if (refusal := _writable(client)) is not None:
        return refusal
    form = forms.AccountForm()
    if form.validate_on_submit():
        try:
            account = add_social_account(client, form.network.data or "",
                                         form.display_name.data or "", form.handle.data or "")
        except ServiceError as error:
            _refused(form, error)
        else:
            db.session.commit()
            flash(_("Account %(name)s added.", name=account.display_name), "success")
            return redirect(url_for("clients.show", client_id=client.id, _anchor="accounts"),
                            303)
    return render_template("posts/account_form.html", client=client, form=form), 422

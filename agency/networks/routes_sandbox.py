"""The sandbox network's feed: what a sandbox account "published", newest first (the
sandbox adapter links each post here, at ``#p-<id>``), and the account's simulated
delay and failures, for demonstrations and tests.

Only staff who may see the account's client reach it: the account is loaded with
``tenant_get``, then its client through ``client_for_view`` (404 otherwise).
"""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice

from agency.access import can, client_for_view, require
from agency.auth.services import ServiceError
from agency.extensions import db
from agency.forms import apply_service_error
from agency.media.models import Media
from agency.publishing.models import Publication
from tenants.roles import Permission
from tenants.scoping import tenant_get

from . import services
from .models import SocialAccount
from .sandbox import FAIL_MODES
from .sandbox_models import SandboxPost

bp = Blueprint("sandbox", __name__)

FEED_LIMIT = 100
FAIL_MODE_LABELS = {
    "retryable": _l("Unavailable for a while (Relais retries)"),
    "permanent": _l("Refuses the post"),
    "auth": _l("Revokes the account's access"),
    "timeout_after_store": _l("Publishes, but the answer is lost"),
}


class SandboxSettingsForm(FlaskForm):
    # Checked by the service, which says what is wrong in the reader's language.
    latency_ms = StringField(_l("Delay before each answer (milliseconds, 0 to 10000)"))
    fail_rate = StringField(_l("Share of attempts that fail (0 to 1)"))
    fail_mode = SelectField(_l("How they fail"), validate_choice=False,
                            choices=[SelectChoice(mode, FAIL_MODE_LABELS.get(mode, mode))
                                     for mode in FAIL_MODES])


def _account(account_id: uuid.UUID):
    account = tenant_get(SocialAccount, account_id)
    client = client_for_view(account.client_id)
    if account.network != "sandbox":
        abort(404)
    return account, client


def _feed(account: SocialAccount) -> list[dict]:
    """The account's sandbox posts, newest first, each with its media (library files of
    the client, found by checksum; ``None`` for one no longer in the library) and the
    Relais post it came from, when that is still known."""
    rows = list(db.session.scalars(
        select(SandboxPost).where(SandboxPost.social_account_id == account.id)
        .order_by(SandboxPost.created_at.desc(), SandboxPost.id.desc()).limit(FEED_LIMIT)))
    checksums = {sha for row in rows for sha in (row.media or [])}
    media = ({m.sha256: m for m in db.session.scalars(select(Media).where(
        Media.client_id == account.client_id, Media.sha256.in_(checksums)))}
        if checksums else {})
    keys = {row.idempotency_key for row in rows}
    posts = ({key: post_id for key, post_id in db.session.execute(
        select(Publication.idempotency_key, Publication.post_id).where(
            Publication.social_account_id == account.id,
            Publication.idempotency_key.in_(keys)))} if keys else {})
    return [{"row": row, "media": [media.get(sha) for sha in row.media or []],
             "post_id": posts.get(row.idempotency_key)} for row in rows]


def _page(account: SocialAccount, client, form: SandboxSettingsForm, status: int = 200):
    return render_template("networks/sandbox_feed.html", account=account, client=client,
                           form=form, feed=_feed(account), limit=FEED_LIMIT), status


@bp.get("/sandbox/<uuid:account_id>")
@require()
def feed(account_id: uuid.UUID):
    account, client = _account(account_id)
    settings = account.settings or {}
    form = SandboxSettingsForm(formdata=None, data={
        "latency_ms": str(settings.get("latency_ms") or 0),
        "fail_rate": str(settings.get("fail_rate") or 0),
        "fail_mode": settings.get("fail_mode") or FAIL_MODES[0]})
    return _page(account, client, form)


@bp.post("/sandbox/<uuid:account_id>/settings")
@require()
def settings(account_id: uuid.UUID):
    account, client = _account(account_id)
    if not can(Permission.CLIENT_EDIT):
        abort(403)
    if client.is_archived:
        flash(_("This client is archived. Restore it before making changes."), "error")
        return redirect(url_for("sandbox.feed", account_id=account.id), 303)
    form = SandboxSettingsForm()
    if form.validate():
        try:
            services.set_sandbox_settings(account, form.latency_ms.data, form.fail_rate.data,
                                          form.fail_mode.data)
        except ServiceError as error:
            db.session.rollback()
            apply_service_error(form, error)
        else:
            db.session.commit()
            flash(_("Simulation settings saved."), "success")
            return redirect(url_for("sandbox.feed", account_id=account.id), 303)
    return _page(account, client, form, 422)

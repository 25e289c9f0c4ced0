"""The development outbox: mails that would have been sent, when no MAIL_URL is set."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template

from .mail import read_outbox

bp = Blueprint("notifications", __name__)


@bp.get("/dev/outbox")
def outbox():
    # Development only: it shows every mail on this machine, so production answers 404.
    if not current_app.config["SHOW_DEV_OUTBOX"]:
        abort(404)
    try:
        mails = read_outbox()
    except Exception:  # Redis not running: say so rather than fail
        mails = None
    return render_template("notifications/outbox.html", mails=mails)

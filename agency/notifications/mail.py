"""E-mail that leaves only after the database commit.

``send_mail`` attaches a message to the current transaction; it is delivered when that
transaction commits and dropped if it rolls back, so no one is ever told about a change
that did not happen. Delivery: SMTP when ``MAIL_URL`` is set (smtp:// or smtps://),
otherwise the log plus a development outbox in Redis (the /dev/outbox page).
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from agency.extensions import db

log = logging.getLogger(__name__)
OUTBOX_KEEP = 100
_PENDING = "relais_pending_mail"


@dataclass
class Mail:
    to: str
    subject: str
    text: str
    html: str | None = None
    sent_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())


def send_mail(to: str, subject: str, text: str, html: str | None = None) -> Mail:
    """Queue a message for delivery when the current transaction commits."""
    mail = Mail(to=to, subject=subject, text=text, html=html)
    session = db.session()
    session.info.setdefault(_PENDING, []).append((current_app._get_current_object(), mail))
    return mail


@event.listens_for(Session, "after_commit")
def _deliver_after_commit(session: Session) -> None:
    for app, mail in session.info.pop(_PENDING, []):
        try:
            if has_app_context() and current_app._get_current_object() is app:
                deliver(mail)
            else:
                with app.app_context():
                    deliver(mail)
        except Exception:  # a mail server hiccup must not turn a saved change into a 500
            log.exception("could not deliver mail to %s: %s", mail.to, mail.subject)


@event.listens_for(Session, "after_rollback")
def _drop_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def deliver(mail: Mail) -> None:
    url = current_app.config.get("MAIL_URL") or ""
    memory = current_app.extensions.get("relais_mail_memory")
    if memory is not None:
        memory.append(mail)
    elif url:
        _send_smtp(url, mail)
    else:
        log.info("mail (no MAIL_URL, kept in the dev outbox) to=%s subject=%s\n%s",
                 mail.to, mail.subject, mail.text)
        _keep_in_outbox(mail)


def _keep_in_outbox(mail: Mail) -> None:
    from agency.redis_conn import get_redis

    key = current_app.config["REDIS_KEY_PREFIX"] + "dev-outbox"
    try:
        r = get_redis()
        r.lpush(key, json.dumps(asdict(mail)))
        r.ltrim(key, 0, OUTBOX_KEEP - 1)
    except Exception:  # the outbox is a convenience; the log line above is the record
        log.warning("dev outbox unavailable (Redis)", exc_info=True)


def read_outbox() -> list[Mail]:
    from agency.redis_conn import get_redis

    key = current_app.config["REDIS_KEY_PREFIX"] + "dev-outbox"
    return [Mail(**json.loads(item)) for item in get_redis().lrange(key, 0, OUTBOX_KEEP - 1)]


def _send_smtp(url: str, mail: Mail) -> None:
    parts = urlsplit(url)
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_FROM"]
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message.set_content(mail.text)
    if mail.html:
        message.add_alternative(mail.html, subtype="html")
    host = parts.hostname or "localhost"
    if parts.scheme == "smtps":
        client = smtplib.SMTP_SSL(host, parts.port or 465, context=ssl.create_default_context(),
                                  timeout=10)
    else:
        client = smtplib.SMTP(host, parts.port or 25, timeout=10)
    with client:
        if parts.scheme == "smtp" and client.has_extn("starttls"):
            client.starttls(context=ssl.create_default_context())
        if parts.username:
            client.login(unquote(parts.username), unquote(parts.password or ""))
        client.send_message(message)

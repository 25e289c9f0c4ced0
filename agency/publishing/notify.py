"""Telling the agency when publishing needs a person: a publication that failed or
whose outcome could not be settled, an account whose access expired. Mails go out after
the commit that recorded the problem (agency/notifications/mail.py)."""

from __future__ import annotations

from flask import current_app, render_template, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from agency.approvals.services import client_time, decision_recipients
from agency.clients.models import Client
from agency.content.models import Post
from agency.extensions import db
from agency.i18n import supported
from agency.networks.models import SocialAccount
from agency.notifications.mail import send_mail

from .models import Publication, PublicationState


def _client(client_id) -> Client:
    return db.session.scalars(select(Client).where(Client.id == client_id)).one()


def _locale(user) -> str:
    return supported(user.locale) or current_app.config["BABEL_DEFAULT_LOCALE"]


def problem(publication: Publication) -> None:
    """A publication failed or needs attention: tell the client's staff."""
    client = _client(publication.client_id)
    post = db.session.scalars(select(Post).where(Post.id == publication.post_id)).one()
    attention = publication.state == PublicationState.NEEDS_ATTENTION
    for user in decision_recipients(client):
        with force_locale(_locale(user)):
            subject = (_("Check a post for %(client)s: did it go out on %(account)s?",
                         client=client.name, account=publication.account.display_name)
                       if attention else
                       _("A post for %(client)s was not published on %(account)s",
                         client=client.name, account=publication.account.display_name))
            send_mail(user.email, subject, render_template(
                "mail/publication_problem.txt", user=user, client=client, post=post,
                publication=publication, attention=attention, when=client_time,
                link=url_for("posts.show", post_id=post.id, _external=True),
                health=url_for("publishing.health", _external=True)))


def account_expired(account: SocialAccount) -> None:
    """An account's access stopped working: its posts wait until it is reconnected."""
    client = _client(account.client_id)
    for user in decision_recipients(client):
        with force_locale(_locale(user)):
            send_mail(user.email, _("Reconnect %(account)s for %(client)s",
                                    account=account.display_name, client=client.name),
                      render_template("mail/account_expired.txt", user=user, client=client,
                                      account=account,
                                      link=url_for("clients.show", client_id=client.id,
                                                   _external=True)))
    # And the owner, who can reconnect it from a link without a Relais account (once
    # per expiry: token health may already have sent one).
    from agency.networks.owner_link import send_reconnect_links

    send_reconnect_links(account, "expired")

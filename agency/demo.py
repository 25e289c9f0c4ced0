"""The demo agency that ``make run`` and ``flask seed-demo`` create. Idempotent."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from agency.auth.models import User
from agency.auth.passwords import hash_password
from agency.auth.services import create_agency, find_user_by_email
from agency.clients.models import Client, Contact
from agency.clients.services import (
    assigned_membership_ids,
    create_client,
    create_contact,
    set_assigned_staff,
)
from agency.content.models import Post
from agency.content.services import create_post
from agency.extensions import db
from agency.networks.models import SocialAccount
from agency.networks.services import add_account
from agency.results.demo_history import seed_history
from tenants.context import set_tenant
from tenants.models import Membership
from tenants.roles import Role

DEMO_PASSWORD = "relais-demo-2026"
OWNER = "owner@demo.relais.test"
STAFF = [
    (Role.MANAGER, "manager@demo.relais.test", "Camille Manager"),
    (Role.MEMBER, "member@demo.relais.test", "Hugo Membre"),
]
CLIENTS = [
    {
        "name": "Boulangerie Martin",
        "brand_tone": "Chaleureux, artisanal, proche des habitants du quartier.",
        "brand_words_use": "fait maison, levain, quartier",
        "brand_words_avoid": "industriel, promo",
        "brand_hashtags": "#boulangerie #lyon #faitmaison",
        "contacts": [
            ("Sophie Martin", "sophie@boulangerie-martin.test", "+33 4 78 00 00 01", True),
        ],
    },
    {
        "name": "Garage Dupont",
        "brand_tone": "Sérieux, rassurant, pédagogue.",
        "brand_words_use": "confiance, entretien, devis gratuit",
        "brand_words_avoid": "pas cher",
        "brand_hashtags": "#garage #entretienauto",
        "contacts": [("Marc Dupont", "marc@garage-dupont.test", "+33 6 00 00 00 02", True),
                     ("Julie Dupont", "julie@garage-dupont.test", "", False)],
    },
    {
        "name": "Fleurs de Léa",
        "brand_tone": "Poétique, joyeux, saisonnier.",
        "brand_words_use": "bouquet, saison, local",
        "brand_words_avoid": "",
        "brand_hashtags": "#fleuriste #fleursdesaison",
        "contacts": [("Léa Bernard", "lea@fleurs-de-lea.test", "+33 6 00 00 00 03", True)],
    },
]


DEMO_POSTS = [
    (1, 8, "Le pain au levain du lundi sort du four à 7 h 30. Venez le chercher encore tiède !"),
    (3, 12, "Nouveau : la tarte aux pralines roses, tous les mercredis. #faitmaison"),
    (5, 17, "Ce week-end, croissants au beurre AOP et brioches pour toute la famille."),
]


def _demo_week(client, account, author_id) -> None:
    """Three drafts for next week, so the calendar and the approval flow have content."""
    tz = ZoneInfo(client.timezone)
    today = datetime.now(tz).date()
    monday = today + timedelta(days=7 - today.weekday())
    for day_offset, hour, text in DEMO_POSTS:
        local = datetime.combine(monday + timedelta(days=day_offset - 1), time(hour), tz)
        create_post(client, {"text": text, "target_ids": [account.id], "scheduled_at": local,
                             "labels": ["Démo"]}, author_id)


# Fleurs de Léa's post shows media: a square photo-like picture with a caption, the way
# an Instagram post looks (published here on the sandbox, like every demo account).
BOUQUET_TEXT = ("Les premières pivoines de la saison sont arrivées ! 🌸 Bouquets composés à "
                "la demande, à retirer en boutique dès vendredi.")
BOUQUET_COMMENT = "#fleuriste #fleursdesaison #pivoines #lyon"


def bouquet_jpeg(size: int = 1080) -> bytes:
    """A bouquet drawn in code (no binary file in the repository): a soft background,
    stems and round flowers, as a square JPEG. The same bytes every time."""
    import io
    import math

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (size, size))
    draw = ImageDraw.Draw(image)
    for y in range(size):  # a vertical gradient, blush pink to cream
        t = y / size
        draw.line([(0, y), (size, y)], fill=(int(250 - 10 * t), int(222 + 20 * t),
                                             int(228 + 4 * t)))
    u = size / 1080
    base = (540 * u, 1000 * u)
    flowers = [(540, 330, (232, 93, 130)), (380, 420, (246, 160, 180)),
               (700, 420, (214, 70, 110)), (460, 560, (250, 190, 200)),
               (630, 580, (236, 120, 150)), (300, 600, (255, 214, 222)),
               (790, 610, (226, 84, 124))]
    for x, y, _colour in flowers:
        draw.line([base, (x * u, (y + 60) * u)], fill=(74, 124, 70), width=int(12 * u))
    for x, y, colour in flowers:
        cx, cy, r = x * u, y * u, 70 * u
        for k in range(8):  # petals around the heart
            angle = k * math.pi / 4
            px, py = cx + math.cos(angle) * r * 0.8, cy + math.sin(angle) * r * 0.8
            draw.ellipse([px - r * 0.55, py - r * 0.55, px + r * 0.55, py + r * 0.55],
                         fill=colour)
        draw.ellipse([cx - r * 0.45, cy - r * 0.45, cx + r * 0.45, cy + r * 0.45],
                     fill=(255, 236, 160))
    draw.polygon([(430 * u, 820 * u), (650 * u, 820 * u), (600 * u, 1040 * u),
                  (480 * u, 1040 * u)], fill=(198, 160, 120))  # the pot
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=88)
    return out.getvalue()


def _demo_bouquet(client, account, author_id) -> None:
    """One post with an image, waiting for the client: send it for approval to see the
    picture in the portal."""
    from agency.content.services import submit_post
    from agency.media.services import store_upload

    tz = ZoneInfo(client.timezone)
    today = datetime.now(tz).date()
    friday = today + timedelta(days=(4 - today.weekday()) % 7 or 7)
    media = store_upload(client, "pivoines.jpg", bouquet_jpeg(), author_id)
    post = create_post(client, {"text": BOUQUET_TEXT, "first_comment": BOUQUET_COMMENT,
                                "target_ids": [account.id], "media_ids": [media.id],
                                "scheduled_at": datetime.combine(friday, time(9), tz),
                                "labels": ["Démo"]}, author_id)
    submit_post(post, client)


GARAGE_TEXT = ("Pneus hiver : c'est le moment ! Contrôle gratuit de vos pneus toute la "
               "semaine, sans rendez-vous. #entretienauto")
GARAGE_DELAY = timedelta(minutes=3)


def _demo_approved(client, account, author_id) -> None:
    """A post the owner approved through their link, due a few minutes after seeding: the
    worker publishes it, and it appears on the account's sandbox feed page."""
    from datetime import UTC

    from agency.approvals.services import PortalAccess, approvers, decide, send_for_approval
    from agency.content.services import submit_post
    from agency.notifications.urls import external_urls

    post = create_post(client, {"text": GARAGE_TEXT, "target_ids": [account.id],
                                "scheduled_at": datetime.now(UTC) + GARAGE_DELAY,
                                "labels": ["Démo"]}, author_id)
    submit_post(post, client)
    with external_urls():
        sent = send_for_approval(client, [post], author_id)
    contact = approvers(client)[0]
    decide(PortalAccess(sent.request, contact, client), post.id, approve=True,
           shown_hash=post.content_hash)


def seed_demo() -> list[tuple[str, str]]:
    """Create whatever part of the demo is missing; returns (role, e-mail) pairs to show."""
    owner = find_user_by_email(OWNER)
    if owner is None:
        created = create_agency("Agence Démo", OWNER, "Olivia Owner", DEMO_PASSWORD)
        agency_id, owner = created.agency.id, created.user
    else:
        set_tenant(None, owner.id)
        from agency.auth.sessions import memberships_of

        agency_id = memberships_of(owner)[0].agency_id
    set_tenant(agency_id, owner.id)

    memberships = {}
    for role, email, name in STAFF:
        user = find_user_by_email(email)
        if user is None:
            user = User(email=email, name=name, password_hash=hash_password(DEMO_PASSWORD))
            db.session.add(user)
            db.session.flush()
        membership = db.session.scalars(
            select(Membership).where(Membership.user_id == user.id)
        ).one_or_none()
        if membership is None:
            membership = Membership(user_id=user.id, role=role)
            db.session.add(membership)
            db.session.flush()
        memberships[role] = membership

    for index, spec in enumerate(CLIENTS):
        client = db.session.scalars(select(Client).where(Client.name == spec["name"])).first()
        if client is None:
            values = {k: v for k, v in spec.items() if k != "contacts"}
            client = create_client(values)
        existing = set(db.session.scalars(
            select(Contact.email).where(Contact.client_id == client.id)
        ))
        for name, email, phone, approves in spec["contacts"]:
            if email not in existing:
                create_contact(client, {"name": name, "email": email, "phone": phone,
                                        "approves_posts": approves})
        # The member looks after the first two clients only, to show assignment at work.
        if index < 2:
            staff = assigned_membership_ids(client) | {memberships[Role.MEMBER].id}
            set_assigned_staff(client, list(staff))
        account = db.session.scalars(select(SocialAccount).where(
            SocialAccount.client_id == client.id)).first()
        if account is None:
            account = add_account(client, "sandbox", f"{spec['name']} (sandbox)",
                                  "@" + spec["name"].lower().replace(" ", ""))
        has_posts = db.session.scalars(
            select(Post.id).where(Post.client_id == client.id)).first() is not None
        if index == 0 and not has_posts:
            _demo_week(client, account, owner.id)
        if index == 1 and not has_posts:
            _demo_approved(client, account, owner.id)
        if index == 2 and not has_posts:
            _demo_bouquet(client, account, owner.id)
        # After the checks above: the history's posts are posts too.
        seed_history(client, account, owner.id)
    db.session.flush()
    return [("owner", OWNER)] + [(role.value, email) for role, email, _ in STAFF]

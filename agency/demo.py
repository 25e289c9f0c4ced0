"""The demo agency that ``make run`` and ``flask seed-demo`` create. Idempotent."""

from __future__ import annotations

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
from agency.extensions import db
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
    db.session.flush()
    return [("owner", OWNER)] + [(role.value, email) for role, email, _ in STAFF]

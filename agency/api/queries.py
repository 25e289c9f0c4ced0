"""Reads behind the API's lists."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select

from agency.access import visible_clients
from agency.clients.models import Client, Contact
from agency.extensions import db
from tenants.models import Membership


@dataclass
class Page:
    items: list
    page: int
    per_page: int
    total: int

    @property
    def last_page(self) -> int:
        return max(1, -(-self.total // self.per_page))


def client_page(membership: Membership, *, archived: bool, q: str | None, page: int,
                per_page: int) -> Page:
    """One page of the clients this membership may see, by name (ties broken by id so
    pages never overlap)."""
    query = visible_clients(membership).where(
        Client.archived_at.is_not(None) if archived else Client.archived_at.is_(None)
    )
    if q and q.strip():
        query = query.where(Client.name.icontains(q.strip(), autoescape=True))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    items = db.session.scalars(
        query.order_by(Client.name, Client.id).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return Page(list(items), page, per_page, total or 0)


def contacts_of(client: Client) -> list[Contact]:
    return list(db.session.scalars(
        select(Contact).where(Contact.client_id == client.id).order_by(Contact.name, Contact.id)
    ))


LINK_HEADER_DOC = {"Link": {"description": "RFC 8288 links: first, prev, next, last pages.",
                            "schema": {"type": "string"}}}


def link_header(page: Page, url: Callable[[int], str]) -> str:
    """The RFC 8288 ``Link`` header of a page: first, prev, next and last."""
    links = [(url(1), "first")]
    if page.page > 1:
        links.append((url(min(page.page - 1, page.last_page)), "prev"))
    if page.page < page.last_page:
        links.append((url(page.page + 1), "next"))
    links.append((url(page.last_page), "last"))
    return ", ".join(f'<{href}>; rel="{rel}"' for href, rel in links)

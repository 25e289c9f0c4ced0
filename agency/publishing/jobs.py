"""The RQ jobs of publishing: thin, they take ids and call the engine."""

from __future__ import annotations

import uuid

from agency.notifications.urls import external_urls

from . import engine


def publish(agency_id: str, publication_id: str) -> str:
    with external_urls():
        return engine.publish(uuid.UUID(agency_id), uuid.UUID(publication_id))


def reconcile(agency_id: str, publication_id: str) -> str:
    with external_urls():
        return engine.reconcile(uuid.UUID(agency_id), uuid.UUID(publication_id))

"""The RQ jobs of publishing: thin, they take ids and call the engine."""

from __future__ import annotations

import uuid

from agency.notifications.urls import external_urls

from . import engine


def publish(agency_id: str, publication_id: str) -> str:
    with external_urls():
        return engine.publish(uuid.UUID(agency_id), uuid.UUID(publication_id))


def publish_many(agency_id: str, publication_ids: list[str]) -> dict[str, str]:
    with external_urls():
        results = engine.publish_many(uuid.UUID(agency_id),
                                      [uuid.UUID(p) for p in publication_ids])
    return {str(k): v for k, v in results.items()}


def reconcile(agency_id: str, publication_id: str) -> str:
    with external_urls():
        return engine.reconcile(uuid.UUID(agency_id), uuid.UUID(publication_id))

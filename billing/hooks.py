"""What other packages call when something billing follows changes. Kept tiny and
import-light (the services are imported on call), so that the caller's module never
depends on billing's at import time."""

from __future__ import annotations


def client_changed(client) -> None:
    """A client workspace was created, archived or restored: the agency's subscription
    quantities follow (after the commit, by a worker). Flushes; the caller commits."""
    from .services import client_changed as changed

    changed(client)

"""Fixtures for the client page tests (see helpers.py)."""

from __future__ import annotations

import pytest

from tests.clients.helpers import Reader, WorldIds, reduce_world
from tests.factories import make_world


@pytest.fixture
def world(db) -> WorldIds:
    return reduce_world(make_world())


@pytest.fixture
def read(db, world) -> Reader:
    return Reader(db, world.agency_id)

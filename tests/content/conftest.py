"""Fixtures for the post page tests (see helpers.py)."""

from __future__ import annotations

import pytest

from tests.content.helpers import Ids, Reader, build_world
from tests.factories import make_world


@pytest.fixture
def world(db) -> Ids:
    return build_world(make_world())


@pytest.fixture
def read(db, world) -> Reader:
    return Reader(world.agency_id)

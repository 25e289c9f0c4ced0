"""Fixtures for the calendar tests: a world with sandbox accounts and a way to make posts
through the content services (see helpers.py)."""

from __future__ import annotations

import pytest

from tests.calendar.helpers import Cal, build


@pytest.fixture
def cal(app, db) -> Cal:
    return build(app, db)

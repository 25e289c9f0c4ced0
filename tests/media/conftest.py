"""Fixtures for the media library: a private MEDIA_ROOT per test, and a world."""

from __future__ import annotations

import pytest

from tests.factories import make_world


@pytest.fixture
def media_root(app, tmp_path):
    missing = object()
    previous = app.config.get("MEDIA_ROOT", missing)
    app.config["MEDIA_ROOT"] = str(tmp_path / "media")
    yield tmp_path / "media"
    if previous is missing:
        app.config.pop("MEDIA_ROOT", None)
    else:
        app.config["MEDIA_ROOT"] = previous


@pytest.fixture
def world(db, media_root):
    return make_world()

"""Where media bytes live: a tiny interface and its local filesystem implementation.

Keys are built by the application (``<agency_id>/<client_id>/<sha256>.<ext>``) and
checked against a strict pattern before touching the disk, so nothing a person typed
(a file name, say) ever becomes part of a path.
"""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from pathlib import Path
from typing import BinaryIO, Protocol

from flask import current_app

_KEY = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/"
    r"[0-9a-f]{64}(\.thumb)?\.[a-z0-9]{2,5}$"
)


class InvalidKey(ValueError):
    pass


class Storage(Protocol):
    def put(self, key: str, data: bytes) -> None: ...
    def open(self, key: str) -> BinaryIO: ...
    def delete(self, key: str) -> None: ...


def media_key(agency_id: uuid.UUID, client_id: uuid.UUID, sha256: str, ext: str,
              thumb: bool = False) -> str:
    key = f"{agency_id}/{client_id}/{sha256}{'.thumb' if thumb else ''}.{ext}"
    _check(key)
    return key


def _check(key: str) -> None:
    if not _KEY.fullmatch(key):
        raise InvalidKey(key)


class LocalStorage:
    """Files under one root folder; writes are atomic (a reader never sees half a file)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        _check(key)
        return self.root / key

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


def get_storage() -> LocalStorage:
    root = current_app.config.get("MEDIA_ROOT") or os.path.join(
        current_app.instance_path, "media"
    )
    return LocalStorage(root)

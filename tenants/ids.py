"""Primary keys: time-ordered UUIDs (v7), so B-tree inserts stay local and ids never
reveal counts or invite enumeration across tenants."""

import uuid

from uuid6 import uuid7


def new_id() -> uuid.UUID:
    return uuid.UUID(bytes=uuid7().bytes)

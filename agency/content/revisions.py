"""What exactly would be published, its hash, and the difference between two versions."""

from __future__ import annotations

import difflib
import hashlib
import json
from datetime import UTC, datetime

CONTENT_KEYS = ("text", "variants", "first_comment", "media", "targets", "scheduled_at")


def canonical_content(*, text: str, variants: dict[str, str], first_comment: str,
                      media_checksums: list[str], target_ids: list, scheduled_at: datetime | None
                      ) -> dict:
    """The content an approval is bound to, in a canonical form (same content → same dict)."""
    if scheduled_at is not None:
        if scheduled_at.tzinfo is None:  # SQLite hands back naive UTC
            scheduled_at = scheduled_at.replace(tzinfo=UTC)
        scheduled = scheduled_at.astimezone(UTC).replace(microsecond=0).isoformat()
    else:
        scheduled = None
    return {
        "text": text,
        "variants": {k: v for k, v in sorted(variants.items()) if v},
        "first_comment": first_comment,
        "media": list(media_checksums),  # order matters: it is the order shown
        "targets": sorted(str(t) for t in target_ids),
        "scheduled_at": scheduled,
    }


def content_hash(content: dict) -> str:
    """SHA-256 over the canonical JSON: any change to what would go out changes it."""
    encoded = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(encoded.encode()).hexdigest()


def diff(old: dict, new: dict) -> list[dict]:
    """Field by field: what changed between two revisions' contents, with a line diff for
    texts. Fields that did not change are left out."""
    changes = []
    for key in CONTENT_KEYS:
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        change = {"field": key, "before": before, "after": after}
        if isinstance(before, str) or isinstance(after, str):
            change["lines"] = list(difflib.unified_diff(
                (before or "").splitlines(), (after or "").splitlines(), lineterm="", n=2,
            ))[2:]
        changes.append(change)
    return changes

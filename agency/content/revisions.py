"""What exactly would be published, its hash, and the difference between two versions."""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime

CONTENT_KEYS = ("text", "variants", "first_comment", "media", "targets", "scheduled_at",
                "options")


def canonical_content(*, text: str, variants: dict[str, str], first_comment: str,
                      media_checksums: list[str], target_ids: list, scheduled_at: datetime | None,
                      options: dict | None = None, networks: Iterable[str] = ()) -> dict:
    """The content an approval is bound to, in a canonical form (same content → same dict).

    ``options`` (agency/content/options.py) count only for ``networks``, the networks
    targeted; with none left the key is absent, so a post without options keeps the hash
    it had before options existed."""
    if scheduled_at is not None:
        if scheduled_at.tzinfo is None:  # SQLite hands back naive UTC
            scheduled_at = scheduled_at.replace(tzinfo=UTC)
        scheduled = scheduled_at.astimezone(UTC).replace(microsecond=0).isoformat()
    else:
        scheduled = None
    content = {
        "text": text,
        "variants": {k: v for k, v in sorted(variants.items()) if v},
        "first_comment": first_comment,
        "media": list(media_checksums),  # order matters: it is the order shown
        "targets": sorted(str(t) for t in target_ids),
        "scheduled_at": scheduled,
    }
    wanted = set(networks)
    chosen = {n: dict(v) for n, v in sorted((options or {}).items()) if n in wanted and v}
    if chosen:
        content["options"] = chosen
    return content


def content_hash(content: dict) -> str:
    """SHA-256 over the canonical JSON: any change to what would go out changes it."""
    encoded = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(encoded.encode()).hexdigest()


def diff(old: dict, new: dict) -> list[dict]:
    """Field by field: what changed between two revisions' contents, with a line diff for
    texts and for the options (in words). Fields that did not change are left out."""
    changes = []
    for key in CONTENT_KEYS:
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        change = {"field": key, "before": before, "after": after}
        if key == "options":  # in words, line by line (agency/content/options_text.py)
            from .options_text import as_text

            change["lines"] = list(difflib.unified_diff(
                as_text(before), as_text(after), lineterm="", n=2))[2:]
        elif isinstance(before, str) or isinstance(after, str):
            change["lines"] = list(difflib.unified_diff(
                (before or "").splitlines(), (after or "").splitlines(), lineterm="", n=2,
            ))[2:]
        changes.append(change)
    return changes

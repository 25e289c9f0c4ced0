"""How LinkedIn reads a "little text format" commentary, for the fake: what it shows."""

from __future__ import annotations

import re

RESERVED = set("\\|{}@[]()<>#*_~")


def shown(little: str) -> str:
    """What LinkedIn shows for a little-format commentary: escapes undone, hashtag
    templates as hashtags, cut at the first reserved character that is not markup."""
    out, i = [], 0
    while i < len(little):
        c = little[i]
        if c == "\\" and i + 1 < len(little):
            out.append(little[i + 1])
            i += 2
            continue
        tag = re.match(r"\{hashtag\|\\#\|((?:\\.|[^\\}])*)\}", little[i:])
        if tag:
            out.append("#" + re.sub(r"\\(.)", r"\1", tag.group(1)))
            i += tag.end()
            continue
        mention = re.match(r"@\[([^\]]*)\]\((urn:li:[a-z]+:[^)]+)\)", little[i:])
        if mention:
            out.append(mention.group(1))
            i += mention.end()
            continue
        if c in RESERVED:
            break  # LinkedIn stops here without a word
        out.append(c)
        i += 1
    return "".join(out)

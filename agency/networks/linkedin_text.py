"""LinkedIn's "little text format", the format of a post's ``commentary`` in the Posts API.

https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/little-text-format
reserves ``\\ | { } @ [ ] ( ) < > # * _ ~``: as plain text each must be escaped with a
backslash, and an unescaped one is read as markup (LinkedIn then cuts the post short at
it, silently). ``commentary`` escapes them all, except that a hashtag (``#`` starting a
word that has a letter) is written as the documented hashtag template
``{hashtag|\\#|word}`` so that it stays a hashtag. ``plain`` reads commentary back into
the text a person wrote (for matching a post found on LinkedIn).
"""

from __future__ import annotations

import re

RESERVED = frozenset("\\|{}@[]()<>#*_~")
# "#" at the start or after whitespace, then a word with at least one letter ("#1" is a
# number, not a hashtag).
HASHTAG = re.compile(r"(?<!\S)#(\w*[^\W\d_]\w*)")
TEMPLATE = re.compile(r"\{hashtag\|\\#\|((?:\\.|[^\\}])*)\}")
ESCAPED = re.compile(r"\\(.)", re.DOTALL)


def escape(text: str) -> str:
    """``text`` with every reserved character escaped."""
    return "".join("\\" + c if c in RESERVED else c for c in text)


def commentary(text: str) -> str:
    """``text`` written in the little text format, hashtags kept as hashtags."""
    parts, last = [], 0
    for match in HASHTAG.finditer(text):
        parts.append(escape(text[last:match.start()]))
        parts.append("{hashtag|\\#|" + escape(match.group(1)) + "}")
        last = match.end()
    parts.append(escape(text[last:]))
    return "".join(parts)


def plain(little: str) -> str:
    """The text a little-format ``commentary`` shows (templates and escapes undone)."""
    # re.split with one group alternates: text, a template's word, text, …
    pieces = TEMPLATE.split(little)
    return "".join(ESCAPED.sub(r"\1", piece) if i % 2 == 0 else "#" + ESCAPED.sub(r"\1", piece)
                   for i, piece in enumerate(pieces))

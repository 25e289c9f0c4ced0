"""Bluesky's text side: record keys derived from a publication, and rich-text facets.

Pure functions (no HTTP, no app): the adapter passes in how to resolve a handle.

Record keys. A post's key (``rkey``) is a TID: a 64-bit integer (top bit 0, then 53 bits
of microseconds since the Unix epoch, then a 10-bit "clock id") written in base32-sortable
(alphabet ``234567abcdefghijklmnopqrstuvwxyz``), always 13 characters. We do not take the
time of sending: we derive the TID from the publication's id, a UUIDv7, so every retry of
one publication asks Bluesky for the *same* key and a second post cannot be created:

- microseconds = the UUID's 48-bit millisecond timestamp × 1000 + (its 12 random
  ``rand_a`` bits mod 1000), i.e. the publication's creation time, to the microsecond;
- clock id = the low 10 bits of its random ``rand_b``.

Two publications of one account would need the same millisecond, the same 1-in-1000
sub-millisecond value and the same 1-in-1024 clock id to collide; the adapter still
checks that a record found under "its" key carries its text. The first comment (a reply)
takes the key one microsecond later. An id that is not a UUIDv7 (never made by Relais,
but possible in hand-made data) is hashed into a TID within 2023, still deterministic.

Facets. Bluesky does not parse text: links, mentions and hashtags are sent as facets
with UTF-8 *byte* offsets (``app.bsky.richtext.facet``). Detection follows the rules of
Bluesky's own client (its ``RichText.detectFacets``): a link starts with http(s):// after
a space or "(" and loses trailing punctuation; a mention is ``@`` + a domain-like handle;
a hashtag is ``#`` + at most 64 characters, not only digits, without trailing punctuation.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from typing import Any

import regex

_S32 = "234567abcdefghijklmnopqrstuvwxyz"
TID_PATTERN = regex.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
_FALLBACK_START_US = 1_672_531_200_000_000  # 2023-01-01T00:00:00Z
_YEAR_US = 365 * 24 * 3600 * 1_000_000


def _tid(micros: int, clock_id: int) -> str:
    value = (micros << 10) | (clock_id & 0x3FF)
    chars = []
    for _ in range(13):
        chars.append(_S32[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def tid_parts(tid: str) -> tuple[int, int]:
    """(microseconds, clock id) of a TID; for tests and logs."""
    value = 0
    for char in tid:
        value = (value << 5) | _S32.index(char)
    return value >> 10, value & 0x3FF


def record_key(publication_id: uuid.UUID, *, reply: bool = False) -> str:
    """The publication's record key (a valid TID), the same on every call.

    ``reply=True`` gives the key of its first comment: one microsecond later."""
    value = publication_id.int
    if publication_id.version == 7:
        millis = value >> 80
        micros = millis * 1000 + ((value >> 64) & 0xFFF) % 1000
        clock_id = value & 0x3FF
    else:
        digest = hashlib.sha256(publication_id.bytes).digest()
        micros = _FALLBACK_START_US + int.from_bytes(digest[:8], "big") % _YEAR_US
        clock_id = int.from_bytes(digest[8:10], "big")
    return _tid(micros + (1 if reply else 0), clock_id)


# -- facets ---------------------------------------------------------------------------------

_LINK = regex.compile(r"(?:^|(?<=[\s(]))(https?://\S+)", regex.IGNORECASE)
_MENTION = regex.compile(r"(?:^|(?<=[\s(]))@([a-zA-Z0-9.-]+)")
_INVISIBLE = "\u00ad\u2060\u200a\u200b\u200c\u200d\u20e2"
_TAG = regex.compile(
    rf"(?:^|(?<=\s))[#＃]((?!\ufe0f)[^\s{_INVISIBLE}]*[^\d\s\p{{P}}{_INVISIBLE}]+"
    rf"[^\s{_INVISIBLE}]*)"
)
_TRAILING_PUNCTUATION = regex.compile(r"\p{P}+$")
_HANDLE = regex.compile(
    r"^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$"
)
MAX_TAG_LENGTH = 64

Resolver = Callable[[str], "str | None"]


def is_handle(value: str) -> bool:
    """A syntactically valid handle (a domain name of at least two labels)."""
    return len(value) <= 253 and bool(_HANDLE.match(value))


def _byte_offsets(text: str):
    encoded_before = {}

    def offset(index: int) -> int:
        if index not in encoded_before:
            encoded_before[index] = len(text[:index].encode("utf-8"))
        return encoded_before[index]

    return offset


def _facet(offset, start: int, end: int, feature: dict[str, Any]) -> dict[str, Any]:
    return {"index": {"byteStart": offset(start), "byteEnd": offset(end)},
            "features": [feature]}


def _links(text: str) -> list[tuple[int, int, str]]:
    found = []
    for match in _LINK.finditer(text):
        uri = match.group(1)
        uri = regex.sub(r"[.,;:!?]+$", "", uri)
        if uri.endswith(")") and "(" not in uri:
            uri = uri[:-1]
        if len(uri) > len("https://"):
            found.append((match.start(1), match.start(1) + len(uri), uri))
    return found


def _mentions(text: str) -> list[tuple[int, int, str]]:
    found = []
    for match in _MENTION.finditer(text):
        handle = match.group(1).rstrip(".-")
        if is_handle(handle):
            found.append((match.start(1) - 1, match.start(1) + len(handle), handle.lower()))
    return found


def _tags(text: str) -> list[tuple[int, int, str]]:
    found = []
    for match in _TAG.finditer(text):
        tag = _TRAILING_PUNCTUATION.sub("", match.group(1))
        if tag and len(tag) <= MAX_TAG_LENGTH:
            found.append((match.start(1) - 1, match.start(1) + len(tag), tag))
    return found


def facets(text: str, resolve: Resolver) -> list[dict[str, Any]]:
    """The facets of ``text``, in order, with UTF-8 byte offsets.

    ``resolve(handle)`` returns the handle's DID or ``None``: a mention that does not
    resolve stays plain text. Nothing inside a link becomes a mention or a hashtag."""
    offset = _byte_offsets(text)
    links = _links(text)
    spans = [(start, end) for start, end, _ in links]

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in spans)

    found: list[tuple[int, dict[str, Any]]] = [
        (start, _facet(offset, start, end, {"$type": "app.bsky.richtext.facet#link",
                                             "uri": uri}))
        for start, end, uri in links
    ]
    resolved: dict[str, str | None] = {}
    for start, end, handle in _mentions(text):
        if not free(start, end):
            continue
        if handle not in resolved:
            resolved[handle] = resolve(handle)
        if resolved[handle]:
            spans.append((start, end))
            found.append((start, _facet(offset, start, end, {
                "$type": "app.bsky.richtext.facet#mention", "did": resolved[handle]})))
    for start, end, tag in _tags(text):
        if free(start, end):
            found.append((start, _facet(offset, start, end, {
                "$type": "app.bsky.richtext.facet#tag", "tag": tag})))
    return [facet for _, facet in sorted(found, key=lambda item: item[0])]

"""What each network accepts: text length counted the way the network counts it, media,
first comments.

Pure: no database and no request. Problem messages are lazy strings: they are rendered in
the reader's locale when turned into text, which needs an app context.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from types import MappingProxyType
from typing import Any, Literal

import regex
from flask_babel import lazy_gettext as _l
from twitter_text import extract_urls_with_indices, parse_tweet

# How a network counts the length of a text:
# - "characters": Python characters (code points); used only by our own sandbox.
# - "utf16": UTF-16 code units, what a JavaScript or Java backend's String.length gives.
#   For networks that only say "characters" this is the safe reading: it is never smaller
#   than code points or graphemes, so we never accept a text the network then refuses.
# - "graphemes": user-perceived characters (Unicode UAX #29), as Bluesky counts.
# - "x_weighted": twitter-text's weighted length (URLs 23, CJK and emoji 2).
# - "mastodon": graphemes after Mastodon's URL and mention substitutions.
Counting = Literal["characters", "utf16", "graphemes", "x_weighted", "mastodon"]
MediaKind = Literal["image", "video"]

# Networks write "MB" without saying which; the decimal reading is the smaller, so the safe
# one. Mastodon's limits are Ruby's binary megabytes.
_MB = 1_000_000
_MIB = 1024 * 1024

_JPEG, _PNG, _GIF, _WEBP = "image/jpeg", "image/png", "image/gif", "image/webp"
_MP4, _MOV, _WEBM = "video/mp4", "video/quicktime", "video/webm"


@dataclass(frozen=True)
class NetworkRules:
    key: str
    display_name: Any  # str, or a lazy string for names we translate ("Sandbox")
    max_text_length: int
    counting: Counting
    max_media: int
    max_images: int
    max_videos: int
    mixed_media: bool  # images and a video together in one post
    first_comment: bool
    media_required: bool = False
    max_text_bytes: int | None = None  # UTF-8 bytes, where the network also caps those
    max_first_comment_length: int | None = None
    image_types: frozenset[str] = frozenset()
    video_types: frozenset[str] = frozenset()
    max_image_bytes: int | None = None  # None: not checked here
    max_video_bytes: int | None = None

    @property
    def media_kinds(self) -> frozenset[str]:
        kinds = {"image"} if self.max_images else set()
        return frozenset(kinds | ({"video"} if self.max_videos else set()))


# Sources, as documented by each network (checked 2025). Where a network allows more than
# its API lets a third party publish, the API's figure wins.
_RULES = (
    # Our own fake network for demos and tests: generous, and supports everything.
    NetworkRules(
        key="sandbox", display_name=_l("Sandbox"), max_text_length=5_000,
        counting="characters", max_media=10, max_images=10, max_videos=10,
        mixed_media=True, first_comment=True, max_first_comment_length=5_000,
        image_types=frozenset({_JPEG, _PNG, _GIF, _WEBP}),
        video_types=frozenset({_MP4, _MOV, _WEBM}),
    ),
    # X: 280 weighted characters (twitter-text config v3); "up to 4 photos, or 1 video or
    # 1 GIF" per post; images JPG/PNG/GIF/WEBP up to 5 MB (animated GIFs may reach 15 MB,
    # we hold all images to 5 MB), video MP4/MOV up to 512 MB (media upload docs).
    # A first comment is posted as a reply (the thread's last post): 280 weighted too.
    NetworkRules(
        key="x", display_name="X", max_text_length=280, counting="x_weighted",
        max_media=4, max_images=4, max_videos=1, mixed_media=False, first_comment=True,
        image_types=frozenset({_JPEG, _PNG, _GIF, _WEBP}), video_types=frozenset({_MP4, _MOV}),
        max_image_bytes=5 * _MB, max_video_bytes=512 * _MB,
    ),
    # Bluesky: lexicon app.bsky.feed.post text has maxGraphemes 300 AND maxLength 3000
    # (UTF-8 bytes), so 300 family emoji (25 bytes each) are refused. Embeds: either
    # app.bsky.embed.images (up to 4, 1,000,000 bytes each) or app.bsky.embed.video
    # (one video/mp4, 100,000,000 bytes), never both. A first comment is a reply record.
    NetworkRules(
        key="bluesky", display_name="Bluesky", max_text_length=300, counting="graphemes",
        max_text_bytes=3_000, max_media=4, max_images=4, max_videos=1, mixed_media=False,
        first_comment=True, image_types=frozenset({_JPEG, _PNG, _WEBP, _GIF}),
        video_types=frozenset({_MP4}), max_image_bytes=1_000_000,
        max_video_bytes=100_000_000,
    ),
    # Mastodon: StatusLengthValidator (500 by default; instances may raise it, hence the
    # `limit` parameter); 4 attachments per status, and a video cannot share a status with
    # other media. Upstream defaults: images 16 MiB, videos 99 MiB
    # (MediaAttachment::IMAGE_LIMIT / VIDEO_LIMIT); an instance reports its own in
    # /api/v2/instance. A first comment is a reply status.
    NetworkRules(
        key="mastodon", display_name="Mastodon", max_text_length=500, counting="mastodon",
        max_media=4, max_images=4, max_videos=1, mixed_media=False, first_comment=True,
        image_types=frozenset({_JPEG, _PNG, _GIF, _WEBP, "image/heic", "image/heif",
                               "image/avif"}),
        video_types=frozenset({_MP4, _MOV, _WEBM}),
        max_image_bytes=16 * _MIB, max_video_bytes=99 * _MIB,
    ),
    # LinkedIn Posts API: commentary up to 3,000 characters; MultiImage posts take 2 to 20
    # images; a video post has one video (MP4, 75 KB to 500 MB, Videos API); images
    # JPG/PNG/GIF (Images API, which caps pixels rather than bytes). Comments: 1,250.
    NetworkRules(
        key="linkedin", display_name="LinkedIn", max_text_length=3_000, counting="utf16",
        max_media=20, max_images=20, max_videos=1, mixed_media=False, first_comment=True,
        max_first_comment_length=1_250, image_types=frozenset({_JPEG, _PNG, _GIF}),
        video_types=frozenset({_MP4}), max_video_bytes=500 * _MB,
    ),
    # Instagram Content Publishing API: caption 2,200 characters; a post needs media;
    # carousels hold up to 10 images and videos, mixed; images must be JPEG, at most 8 MB;
    # videos MP4/MOV, at most 300 MB. Comments: 2,200 characters.
    NetworkRules(
        key="instagram", display_name="Instagram", max_text_length=2_200, counting="utf16",
        max_media=10, max_images=10, max_videos=10, mixed_media=True, media_required=True,
        first_comment=True, max_first_comment_length=2_200,
        image_types=frozenset({_JPEG}), video_types=frozenset({_MP4, _MOV}),
        max_image_bytes=8 * _MB, max_video_bytes=300 * _MB,
    ),
    # Facebook Pages: posts up to 63,206 characters; photos JPEG/PNG/GIF/BMP/TIFF under
    # 4 MB (Graph API Page Photos); a feed post takes several photos (we allow 10) or one
    # video, not both. Video size depends on the upload path, so the adapter checks it.
    # Comments: 8,000 characters.
    NetworkRules(
        key="facebook", display_name="Facebook", max_text_length=63_206, counting="utf16",
        max_media=10, max_images=10, max_videos=1, mixed_media=False, first_comment=True,
        max_first_comment_length=8_000,
        image_types=frozenset({_JPEG, _PNG, _GIF, "image/bmp", "image/tiff"}),
        video_types=frozenset({_MP4, _MOV}), max_image_bytes=4 * _MB,
    ),
    # Google Business Profile local posts: summary up to 1,500 characters; the API takes
    # one photo per post (JPG or PNG, 10 KB to 5 MB, per the photo guidelines).
    NetworkRules(
        key="google_business", display_name="Google Business Profile",
        max_text_length=1_500, counting="utf16", max_media=1, max_images=1, max_videos=0,
        mixed_media=False, first_comment=False, image_types=frozenset({_JPEG, _PNG}),
        max_image_bytes=5 * _MB,
    ),
)

RULES: MappingProxyType[str, NetworkRules] = MappingProxyType({r.key: r for r in _RULES})
# The supported network keys, in the order a UI lists them.
NETWORKS: tuple[str, ...] = tuple(RULES)


@dataclass(frozen=True)
class MediaInfo:
    kind: str  # "image" | "video"
    mime: str
    size: int  # bytes


@dataclass(frozen=True)
class Measure:
    length: int
    limit: int

    @property
    def remaining(self) -> int:
        return self.limit - self.length


@dataclass(frozen=True)
class Problem:
    field: Literal["text", "media", "first_comment"]
    code: str
    message: Any  # a lazy string: str() it inside an app context
    params: dict[str, Any] = dataclass_field(default_factory=dict)


def rules_for(network: str) -> NetworkRules:
    """The rules of `network`; ValueError for a key not in NETWORKS."""
    try:
        return RULES[network]
    except KeyError:
        raise ValueError(f"unknown network {network!r}") from None


def measure(network: str, text: str, *, limit: int | None = None) -> Measure:
    """The length of `text` as `network` counts it, and the limit it is held to (`limit`
    overrides the network's default, e.g. a Mastodon instance's own limit)."""
    rules = rules_for(network)
    return Measure(length=_count(rules.counting, text or ""), limit=_limit(rules, limit))


def validate(
    network: str,
    text: str,
    media: list[MediaInfo],
    first_comment: str | None = None,
    *,
    limit: int | None = None,
) -> list[Problem]:
    """Every reason `network` would refuse this post; an empty list means it fits.

    Never raises for bad content (only for an unknown network or a limit below 1)."""
    rules = rules_for(network)
    text = text or ""
    name = rules.display_name
    problems: list[Problem] = []
    if rules.media_required and not media:
        problems.append(Problem("media", "media_required", _l(
            "%(network)s needs at least one image or video.", network=name),
            {"network": network}))
    elif not text.strip() and not media:
        problems.append(Problem("text", "empty", _l("Write something or add media.")))

    m = measure(network, text, limit=limit)
    if m.length > m.limit:
        problems.append(Problem("text", "too_long", _l(
            "Too long for %(network)s: %(length)d characters out of %(limit)d.",
            network=name, length=m.length, limit=m.limit),
            {"network": network, "length": m.length, "limit": m.limit}))
    size = len(text.encode("utf-8"))
    if rules.max_text_bytes is not None and size > rules.max_text_bytes:
        problems.append(Problem("text", "too_long_bytes", _l(
            "Too long for %(network)s: %(length)d bytes out of %(limit)d. Emoji and "
            "accented letters take several bytes each.",
            network=name, length=size, limit=rules.max_text_bytes),
            {"network": network, "length": size, "limit": rules.max_text_bytes}))

    problems += _media_problems(rules, media)
    problems += _first_comment_problems(rules, first_comment)
    return problems


def _limit(rules: NetworkRules, limit: int | None) -> int:
    if limit is None:
        return rules.max_text_length
    if limit < 1:
        raise ValueError(f"limit must be positive, not {limit!r}")
    return limit


def _media_problems(rules: NetworkRules, media: list[MediaInfo]) -> list[Problem]:
    name, network = rules.display_name, rules.key
    problems: list[Problem] = []
    refused_kinds: set[str] = set()
    for position, item in enumerate(media, start=1):
        params = {"network": network, "position": position}
        if item.kind not in rules.media_kinds:
            if item.kind not in refused_kinds:
                refused_kinds.add(item.kind)
                problems.append(Problem("media", "media_kind", _kind_message(name, item.kind),
                                        {**params, "kind": item.kind}))
            continue
        image = item.kind == "image"
        accepted = rules.image_types if image else rules.video_types
        if item.mime.lower() not in accepted:
            problems.append(Problem("media", "media_format", _l(
                "Item %(position)d: %(network)s does not accept %(mime)s files.",
                position=position, network=name, mime=item.mime),
                {**params, "mime": item.mime}))
        max_bytes = rules.max_image_bytes if image else rules.max_video_bytes
        if max_bytes is not None and item.size > max_bytes:
            problems.append(Problem("media", "media_too_large", _l(
                "Item %(position)d is too large for %(network)s: %(size).1f MB out of "
                "%(max).1f MB.",
                position=position, network=name, size=item.size / _MB, max=max_bytes / _MB),
                {**params, "size": item.size, "max_size": max_bytes}))

    images = sum(1 for item in media if item.kind == "image")
    videos = sum(1 for item in media if item.kind == "video")
    if images and videos and not rules.mixed_media and not refused_kinds:
        problems.append(Problem("media", "mixed_media", _l(
            "%(network)s does not accept images and a video in the same post.",
            network=name), {"network": network}))
    elif len(media) > rules.max_media:
        problems.append(Problem("media", "too_many_media", _l(
            "Too many images and videos for %(network)s: %(count)d out of %(limit)d.",
            network=name, count=len(media), limit=rules.max_media),
            {"network": network, "count": len(media), "limit": rules.max_media}))
    elif rules.max_videos and videos > rules.max_videos:
        problems.append(Problem("media", "too_many_media", _l(
            "Too many videos for %(network)s: %(count)d out of %(limit)d.",
            network=name, count=videos, limit=rules.max_videos),
            {"network": network, "count": videos, "limit": rules.max_videos}))
    elif rules.max_images and images > rules.max_images:
        problems.append(Problem("media", "too_many_media", _l(
            "Too many images for %(network)s: %(count)d out of %(limit)d.",
            network=name, count=images, limit=rules.max_images),
            {"network": network, "count": images, "limit": rules.max_images}))
    return problems


def _kind_message(name: Any, kind: str) -> Any:
    if kind == "video":
        return _l("%(network)s does not accept videos.", network=name)
    if kind == "image":
        return _l("%(network)s does not accept images.", network=name)
    return _l("Only images and videos can be attached.")


def _first_comment_problems(rules: NetworkRules, comment: str | None) -> list[Problem]:
    if not comment or not comment.strip():
        return []
    name, network = rules.display_name, rules.key
    if not rules.first_comment:
        return [Problem("first_comment", "first_comment_unsupported", _l(
            "%(network)s does not support a first comment.", network=name),
            {"network": network})]
    limit = rules.max_first_comment_length or rules.max_text_length
    length = _count(rules.counting, comment)
    if length > limit:
        return [Problem("first_comment", "first_comment_too_long", _l(
            "The first comment is too long for %(network)s: %(length)d characters out of "
            "%(limit)d.", network=name, length=length, limit=limit),
            {"network": network, "length": length, "limit": limit})]
    return []


# --- counting ---------------------------------------------------------------------------

_GRAPHEME = regex.compile(r"\X")


def _count(counting: Counting, text: str) -> int:
    if counting == "x_weighted":
        return parse_tweet(text).weightedLength
    if counting == "graphemes":
        return _graphemes(text)
    if counting == "mastodon":
        return _graphemes(_mastodon_countable(text))
    if counting == "utf16":
        return len(text.encode("utf-16-le")) // 2
    return len(text)


def _graphemes(text: str) -> int:
    return sum(1 for _ in _GRAPHEME.finditer(text))


# Mastodon's StatusLengthValidator#countable_text, written here because no Python library
# does it: every http(s) URL found by twitter-text counts as 23 characters, and every mention
# counts as "@username", whatever its domain. Patterns from Account::MENTION_RE and
# Extractor (Mastodon 4.x); [[:word:]] in Ruby's engine is letters, marks, digits and
# connector punctuation.
_WORD = r"[\p{L}\p{M}\p{Nd}\p{Pc}]"
_MENTION = regex.compile(
    rf"(?<![=/]|{_WORD})@(?P<user>(?i:[a-z0-9_]+(?:[.-]+[a-z0-9_]+)*))"
    rf"(?:@(?P<domain>{_WORD}+(?:[.-]+{_WORD}+)*))?"
)
# twitter-text's end_mention_match: a mention followed by these is not a mention.
_END_MENTION = regex.compile(r"[@＠\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f]|://")
_MAX_DOMAIN_LENGTH = 253
_URL_PLACEHOLDER = "x" * 23


def _mastodon_countable(text: str) -> str:
    if not text.strip():
        return ""
    entities = [
        (u["indices"][0], u["indices"][1], _URL_PLACEHOLDER)
        for u in extract_urls_with_indices(text, False)
    ]
    for m in _MENTION.finditer(text):
        if _END_MENTION.match(text, m.end()):
            continue
        if m["domain"] and len(m["domain"]) > _MAX_DOMAIN_LENGTH:
            continue
        entities.append((m.start(), m.end(), "@" + m["user"]))
    out, cursor = [], 0
    # Like Extractor.remove_overlapping_entities: the earlier entity wins.
    for start, end, replacement in sorted(entities, key=lambda e: e[0]):
        if start < cursor:
            continue
        out += [text[cursor:start], replacement]
        cursor = end
    out.append(text[cursor:])
    return "".join(out)

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agency.networks.rules import NETWORKS, RULES, MediaInfo, measure, rules_for, validate

IMAGE = MediaInfo("image", "image/jpeg", 200_000)
PNG = MediaInfo("image", "image/png", 200_000)
VIDEO = MediaInfo("video", "video/mp4", 5_000_000)
FAMILY = "\U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466"  # 7 code points
THUMB = "\U0001F44D\U0001F3FD"  # thumbs up + skin tone: 2 code points, 8 bytes


def codes(problems):
    return [p.code for p in problems]


def test_supported_networks():
    assert NETWORKS == ("sandbox", "x", "bluesky", "mastodon", "linkedin", "instagram",
                        "facebook", "google_business")
    assert all(RULES[key].key == key for key in NETWORKS)


def test_unknown_network_and_bad_limit_are_programming_errors():
    with pytest.raises(ValueError):
        rules_for("myspace")
    with pytest.raises(ValueError):
        measure("mastodon", "hi", limit=0)


# --- X ------------------------------------------------------------------------------------

def test_x_280_ascii_fits_281_does_not():
    assert validate("x", "a" * 280, []) == []
    [problem] = validate("x", "a" * 281, [])
    assert (problem.field, problem.code) == ("text", "too_long")
    assert problem.params == {"network": "x", "length": 281, "limit": 280}


def test_x_a_long_url_counts_23():
    url = "https://example.com/" + "a" * 500
    assert measure("x", url).length == 23
    text = url + " " + "b" * 256  # 23 + 1 + 256 = 280
    assert validate("x", text, []) == []
    assert codes(validate("x", text + "b", [])) == ["too_long"]


def test_x_cjk_and_emoji_weigh_two():
    assert measure("x", "日本語").length == 6
    assert measure("x", "\U0001F637").length == 2
    assert measure("x", FAMILY).length == 2  # one emoji sequence, not seven code points
    assert validate("x", "語" * 140, []) == []
    assert codes(validate("x", "語" * 141, [])) == ["too_long"]


def test_x_media_rules():
    assert validate("x", "hi", [IMAGE] * 4) == []
    assert codes(validate("x", "hi", [IMAGE] * 5)) == ["too_many_media"]
    assert codes(validate("x", "hi", [IMAGE, VIDEO])) == ["mixed_media"]
    assert codes(validate("x", "hi", [VIDEO, VIDEO])) == ["too_many_media"]
    assert validate("x", "", [VIDEO]) == []  # media alone is a post


def test_first_comment_unsupported_on_google_business():
    [problem] = validate("google_business", "hi", [], first_comment="More")
    assert (problem.field, problem.code) == ("first_comment", "first_comment_unsupported")
    assert validate("google_business", "hi", [], first_comment="   ") == []  # blank: none


def test_x_first_comment_is_a_reply_held_to_280():
    assert validate("x", "hi", [], first_comment="More in the thread") == []
    [problem] = validate("x", "hi", [], first_comment="a" * 281)
    assert problem.code == "first_comment_too_long"


# --- Bluesky ------------------------------------------------------------------------------

def test_bluesky_counts_graphemes_not_code_points():
    text = THUMB * 300  # 600 code points: code point counting would refuse it
    assert len(text) > 300
    assert measure("bluesky", text).length == 300
    assert validate("bluesky", text, []) == []
    assert codes(validate("bluesky", THUMB * 301, [])) == ["too_long"]
    assert validate("bluesky", "e\u0301" * 300, []) == []  # combining accents


def test_bluesky_family_emoji_are_one_grapheme_each():
    assert measure("bluesky", FAMILY * 300).length == 300
    assert validate("bluesky", FAMILY * 120, []) == []  # 840 code points, 3,000 bytes
    # The lexicon also caps the text at 3,000 UTF-8 bytes, and a family is 25 of them.
    problems = validate("bluesky", FAMILY * 300, [])
    assert codes(problems) == ["too_long_bytes"]
    assert problems[0].params["length"] == 7_500


def test_bluesky_media():
    assert codes(validate("bluesky", "hi", [IMAGE] * 5)) == ["too_many_media"]
    assert codes(validate("bluesky", "hi", [IMAGE, VIDEO])) == ["mixed_media"]
    big = MediaInfo("image", "image/jpeg", 1_000_001)
    [problem] = validate("bluesky", "hi", [IMAGE, big])
    assert problem.code == "media_too_large"
    assert problem.params["position"] == 2


# --- Mastodon -----------------------------------------------------------------------------

def test_mastodon_urls_count_23():
    url = "https://example.com/" + "a" * 200
    assert measure("mastodon", url).length == 23
    assert measure("mastodon", f"see {url} now").length == 4 + 23 + 4
    text = url + " " + "b" * 476  # 23 + 1 + 476 = 500
    assert validate("mastodon", text, []) == []
    assert codes(validate("mastodon", text + "b", [])) == ["too_long"]


def test_mastodon_mentions_count_their_username_only():
    assert measure("mastodon", "@name@very.long.domain.example").length == len("@name")
    assert measure("mastodon", "hi @name@very.long.domain.example!").length == len(
        "hi @name!")
    assert measure("mastodon", "mail me at a@b.example").length == len(
        "mail me at a@b.example")  # an address is not a mention


def test_mastodon_counts_graphemes():
    assert measure("mastodon", FAMILY * 10).length == 10


def test_mastodon_instance_limit():
    assert codes(validate("mastodon", "a" * 501, [])) == ["too_long"]
    assert validate("mastodon", "a" * 501, [], limit=1_000) == []
    [problem] = validate("mastodon", "a" * 1_001, [], limit=1_000)
    assert problem.params["limit"] == 1_000
    assert measure("mastodon", "hi", limit=5_000).limit == 5_000


def test_mastodon_video_goes_alone():
    assert codes(validate("mastodon", "hi", [VIDEO, PNG])) == ["mixed_media"]
    assert validate("mastodon", "hi", [PNG] * 4) == []


# --- Instagram, LinkedIn, Facebook, Google Business Profile ---------------------------------

def test_instagram_needs_media():
    [problem] = validate("instagram", "A caption", [])
    assert (problem.field, problem.code) == ("media", "media_required")
    assert codes(validate("instagram", "", [])) == ["media_required"]
    assert validate("instagram", "", [IMAGE]) == []


def test_instagram_carousel_limit_and_formats():
    assert validate("instagram", "hi", [IMAGE] * 9 + [VIDEO]) == []  # mixed carousel
    assert codes(validate("instagram", "hi", [IMAGE] * 11)) == ["too_many_media"]
    [problem] = validate("instagram", "hi", [PNG])
    assert problem.code == "media_format"
    assert problem.params["mime"] == "image/png"


def test_linkedin_3000():
    assert validate("linkedin", "a" * 3_000, []) == []
    assert codes(validate("linkedin", "a" * 3_001, [])) == ["too_long"]
    assert validate("linkedin", "hi", [IMAGE] * 20) == []
    assert codes(validate("linkedin", "hi", [IMAGE] * 21)) == ["too_many_media"]


def test_networks_that_say_characters_are_held_to_utf16_units():
    # An emoji outside the BMP is two UTF-16 units: counting it once could let through a
    # text the network refuses.
    assert measure("linkedin", "\U0001F637" * 1_500).length == 3_000
    assert codes(validate("linkedin", "\U0001F637" * 1_501, [])) == ["too_long"]


def test_linkedin_first_comment_length():
    assert validate("linkedin", "hi", [], first_comment="a" * 1_250) == []
    [problem] = validate("linkedin", "hi", [], first_comment="a" * 1_251)
    assert (problem.field, problem.code) == ("first_comment", "first_comment_too_long")


def test_google_business_1500_and_one_photo():
    assert validate("google_business", "a" * 1_500, []) == []
    assert codes(validate("google_business", "a" * 1_501, [])) == ["too_long"]
    assert codes(validate("google_business", "hi", [IMAGE, IMAGE])) == ["too_many_media"]
    assert codes(validate("google_business", "hi", [VIDEO])) == ["media_kind"]


def test_facebook_huge_limit_and_first_comment():
    assert validate("facebook", "a" * 63_206, [], first_comment="Link in here") == []
    assert codes(validate("facebook", "a" * 63_207, [])) == ["too_long"]


def test_total_media_count_applies_to_mixed_posts():
    assert validate("sandbox", "hi", [IMAGE] * 5 + [VIDEO] * 5) == []
    [problem] = validate("sandbox", "hi", [IMAGE] * 6 + [VIDEO] * 5)
    assert problem.code == "too_many_media"
    assert problem.params == {"network": "sandbox", "count": 11, "limit": 10}


def test_unknown_media_kind_is_refused_once():
    audio = MediaInfo("audio", "audio/mpeg", 1_000)
    assert codes(validate("sandbox", "hi", [audio, audio])) == ["media_kind"]


def test_empty_post():
    [problem] = validate("linkedin", "  \n ", [])
    assert (problem.field, problem.code) == ("text", "empty")
    assert validate("linkedin", "", [IMAGE]) == []


def test_messages_render_with_their_numbers(app):
    with app.test_request_context():
        [problem] = validate("x", "a" * 281, [])
        assert str(problem.message) == "Too long for X: 281 characters out of 280."
        [problem] = validate("x", "hi", [VIDEO, VIDEO])
        assert str(problem.message) == "Too many videos for X: 2 out of 1."
        [problem] = validate("sandbox", "", [])
        assert str(problem.message) == "Write something or add media."
        [problem] = validate("sandbox", "a" * 5_001, [])
        assert str(problem.message) == "Too long for Sandbox: 5001 characters out of 5000."


# --- properties ---------------------------------------------------------------------------

PIECES = ["https://example.com/path", "example.org", "@ann@social.example", "@bob", " ",
          "\n", FAMILY, THUMB, "語", "e\u0301", "a@b.c", "://", "#tag"]
texts = st.text() | st.lists(st.sampled_from(PIECES) | st.text(max_size=4)).map("".join)


@given(network=st.sampled_from(NETWORKS), text=texts,
       limit=st.none() | st.integers(min_value=1, max_value=600))
def test_too_long_iff_longer_than_limit(network, text, limit):
    m = measure(network, text, limit=limit)
    assert m.length >= 0
    assert m.limit == (limit or RULES[network].max_text_length)
    too_long = "too_long" in codes(validate(network, text, [IMAGE], limit=limit))
    assert too_long == (m.length > m.limit)

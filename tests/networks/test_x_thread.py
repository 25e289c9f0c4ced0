"""Threads on X against the fake: the text, then each part of ``options["thread"]`` and
the first comment as replies, one checkpoint per post, and a retry that continues after
the last post saved without ever posting a part twice."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agency.networks.base import OutcomeUnknown, PermanentError, Published, RetryableError
from agency.networks.x import XNetwork
from agency.networks.x_thread import thread_problems
from tests.fakes.x import fake_x  # noqa: F401 (fixture)
from tests.networks.test_x_support import (  # noqa: F401 (fixture)
    TEXT,
    Saved,
    outgoing,
    photo,
    posts,
    x_fake,
)


@pytest.fixture
def fake(x_fake):  # noqa: F811 (the fake with an account, from test_x_support)
    return x_fake

THREAD = ["Deuxième fournée à 11 h.", "Troisième à 16 h, avec des chouquettes."]


def chain_of(fake) -> list[tuple[str, str]]:
    """(text, id of the post it replies to) of every post, in order."""
    return [(t["text"], t["reply_to"]) for t in fake.tweets]


def test_a_thread_is_the_text_then_each_part_as_a_reply(fake):
    saved = Saved()
    adapter = XNetwork()
    published = adapter.publish(outgoing(fake, thread=THREAD, first_comment="Commandez !",
                                         media=[photo()], saved=saved))
    ids = [t["id"] for t in fake.tweets]
    assert chain_of(fake) == [(TEXT, ""), (THREAD[0], ids[0]), (THREAD[1], ids[1]),
                              ("Commandez !", ids[2])]
    assert published == Published(ids[0], f"https://x.com/boulangeriemartin/status/{ids[0]}")
    assert adapter.first_comment_id == ids[3] and adapter.first_comment_error == ""
    # Documented reply form (x-api/posts/create-or-edit-post): reply.in_reply_to_tweet_id;
    # the media go with the first post only.
    bodies = [p["json"] for p in posts(fake)]
    assert "media" in bodies[0] and all("media" not in b for b in bodies[1:])
    assert bodies[1] == {"text": THREAD[0], "reply": {"in_reply_to_tweet_id": ids[0]}}
    # A checkpoint after each post.
    assert [s["posted"] for s in saved if "posted" in s and "sending" not in s] == [
        ids[:1], ids[:2], ids[:3], ids[:4]]


def test_blank_parts_are_dropped(fake):
    XNetwork().publish(outgoing(fake, thread=["", THREAD[0], "   "]))
    assert [t["text"] for t in fake.tweets] == [TEXT, THREAD[0]]


@pytest.mark.parametrize(("thread", "words"), [
    ("not a list", "must be a list of texts"),
    ([THREAD[0], 42], "must be a list of texts"),
    ([THREAD[0], "é" * 281], "Post 3 of the X thread is too long: 281 characters out of 280"),
    (["a"] * 26, "at most 25 parts"),
])
def test_an_invalid_thread_is_refused_before_anything_is_sent(fake, thread, words):
    with pytest.raises(PermanentError) as caught:
        XNetwork().publish(outgoing(fake, thread=thread))
    assert words in caught.value.reason
    assert fake.requests == []


def test_thread_problems_counts_like_x(app):
    with app.app_context():
        assert thread_problems({}) == [] and thread_problems({"thread": []}) == []
        # URLs count 23 (twitter-text): a long link fits.
        assert thread_problems({"thread": ["Voir https://example.com/" + "a" * 300]}) == []
        [problem] = thread_problems({"thread": ["a" * 281]})
        assert "Post 2" in problem


def test_a_retry_continues_the_thread_after_the_last_post(fake):
    fake.fail_next(503, skip=2)  # the third post fails, the first two went out
    saved = Saved()
    with pytest.raises(RetryableError):
        XNetwork().publish(outgoing(fake, thread=THREAD, saved=saved))
    first_two = [t["id"] for t in fake.tweets]
    assert saved.last["posted"] == first_two and len(first_two) == 2
    published = XNetwork().publish(outgoing(fake, thread=THREAD, progress=saved.last))
    ids = [t["id"] for t in fake.tweets]
    assert published.external_id == ids[0] == first_two[0]
    assert chain_of(fake) == [(TEXT, ""), (THREAD[0], ids[0]), (THREAD[1], ids[1])]


def test_a_lost_answer_on_a_reply_is_found_on_the_retry_not_resent(fake):
    saved = Saved()
    fake.hang_next(skip=1)  # the reply is stored, its answer lost
    with pytest.raises(OutcomeUnknown) as caught:
        XNetwork().publish(outgoing(fake, thread=THREAD, saved=saved))
    assert "post 2 of 3" in caught.value.reason
    assert saved.last["sending"]["part"] == 1 and len(fake.tweets) == 2
    XNetwork().publish(outgoing(fake, thread=THREAD, progress=saved.last, saved=saved))
    assert [t["text"] for t in fake.tweets] == [TEXT, *THREAD]  # the reply not twice
    assert len(posts(fake)) == 3


def test_a_part_refused_for_good_says_what_is_out(fake):
    fake.fail_next(403, skip=1, body={"title": "Forbidden", "type": "about:blank",
                                      "status": 403, "detail": "Reply not allowed."})
    saved = Saved()
    with pytest.raises(PermanentError) as caught:
        XNetwork().publish(outgoing(fake, thread=THREAD, saved=saved))
    first = fake.tweets[0]["id"]
    reason = caught.value.reason
    assert "post 2 of the thread (Reply not allowed.)" in reason
    assert f"https://x.com/boulangeriemartin/status/{first}" in reason
    assert saved.last["posted"] == [first]


def test_a_failed_first_comment_never_fails_the_publication(fake):
    fake.fail_next(403, skip=1, body={"title": "Forbidden", "type": "about:blank",
                                      "status": 403, "detail": "Reply not allowed."})
    adapter = XNetwork()
    published = adapter.publish(outgoing(fake, first_comment="Commandez !"))
    assert published.external_id == fake.tweets[0]["id"] and len(fake.tweets) == 1
    assert "Reply not allowed." in adapter.first_comment_error


def test_a_lost_first_comment_answer_is_said_plainly(fake):
    fake.hang_next(skip=1)  # the comment is stored, its answer lost
    adapter = XNetwork()
    published = adapter.publish(outgoing(fake, first_comment="Commandez !"))
    assert published.external_id == fake.tweets[0]["id"] and len(fake.tweets) == 2
    assert "may or may not be out" in adapter.first_comment_error


def test_find_follows_the_whole_chain(fake):
    when = datetime.now(UTC)
    published = XNetwork().publish(outgoing(fake, thread=THREAD, first_comment="Commandez !",
                                            scheduled_at=when))
    again = XNetwork().find(outgoing(fake, thread=THREAD, first_comment="Commandez !",
                                     scheduled_at=when))
    assert again == published


def test_find_does_not_call_a_cut_short_thread_done(fake):
    fake.fail_next(503, skip=1)
    saved = Saved()
    with pytest.raises(RetryableError):
        XNetwork().publish(outgoing(fake, thread=THREAD, saved=saved))
    assert XNetwork().find(outgoing(fake, thread=THREAD, progress=saved.last)) is None
    assert XNetwork().find(outgoing(fake, thread=THREAD,
                                    scheduled_at=datetime.now(UTC))) is None


def test_find_does_not_require_the_first_comment(fake):
    fake.fail_next(503, skip=2)
    adapter = XNetwork()
    adapter.publish(outgoing(fake, thread=THREAD[:1], first_comment="Commandez !"))
    assert adapter.first_comment_error
    found = XNetwork().find(outgoing(fake, thread=THREAD[:1], first_comment="Commandez !",
                                     scheduled_at=datetime.now(UTC)))
    assert found is not None and found.external_id == fake.tweets[0]["id"]

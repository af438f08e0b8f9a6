"""Finding the X adapter's own posts again: reconciliation of a half-sent delivery, and a retry
that X refuses as "duplicate content" because an earlier attempt was published after all.

X shows posts with their links as t.co links and ``& < >`` escaped (the fake does too), so a
post is recognised by its text as it was written, and a reply by the post it replies to.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from fakes.x_api import DUPLICATE, POST_TWEETS, USER_TWEETS, USERS_ME, FakeX
from support.timeouts import ANSWERED, LATE, SILENT

from distributor.channels.x.adapter import DuplicateContentError, XAdapter, XConfig
from distributor.plugin import AmbiguousError, PermanentError, TransientError
from distributor.plugin.testing import send_context

THREAD = [
    "Harga beras & gula naik menjelang Ramadan, kata pedagang di Pasar Induk Cipinang <Jakarta>.",
    "Pemerintah menyiapkan operasi pasar di 34 provinsi mulai pekan depan.",
    "Selengkapnya: https://rinews.example/berita/harga-beras-dan-gula-naik",
]


def config_for(x: FakeX, **overrides: Any) -> XConfig:
    values: dict[str, Any] = {"name": "x", **x.credentials, "api_base_url": x.url,
                              "timeout": ANSWERED}
    values.update(overrides)
    return XConfig(**values)


@pytest.fixture
def fx() -> Iterator[FakeX]:
    with FakeX() as fake:
        yield fake


@pytest.fixture
async def adapter(fx: FakeX) -> AsyncIterator[XAdapter]:
    x = XAdapter(config_for(fx))
    yield x
    await x.close()


def messages() -> list[dict[str, Any]]:
    return [{"text": t} for t in THREAD]


# --------------------------------------------------------------------------- reconcile


async def test_reconcile_finds_the_head_as_x_shows_it(fx: FakeX, adapter: XAdapter) -> None:
    fx.publish("Another post of the day https://rinews.example/lain")
    head = fx.publish(THREAD[0])
    fx.publish("A later post")

    assert await adapter.reconcile(messages(), []) == head.id
    shown = fx.as_returned(head)["text"]
    assert "&amp;" in shown and "&lt;Jakarta&gt;" in shown  # X's escaping did not hide it


async def test_reconcile_finds_a_shortened_link_reply_to_the_last_sent_part(
        fx: FakeX, adapter: XAdapter) -> None:
    head = fx.publish(THREAD[0])
    second = fx.publish(THREAD[1], in_reply_to=head.id)
    third = fx.publish(THREAD[2], in_reply_to=second.id)

    assert await adapter.reconcile(messages(), [head.id, second.id]) == third.id
    assert "https://t.co/" in fx.as_returned(third)["text"]
    lookups = fx.posts_to(USER_TWEETS)
    assert lookups and lookups[0].path == f"/2/users/{fx.user_id}/tweets"
    assert lookups[0].query["since_id"] == second.id


async def test_reconcile_ignores_the_same_text_replying_elsewhere(
        fx: FakeX, adapter: XAdapter) -> None:
    head = fx.publish(THREAD[0])
    other = fx.publish("Some other thread")
    fx.publish(THREAD[1], in_reply_to=other.id)
    fx.publish(THREAD[1] + " ")  # almost the same text, as a post of its own

    assert await adapter.reconcile(messages(), [head.id]) is None


async def test_reconcile_answers_none_when_x_does_not_have_the_part(
        fx: FakeX, adapter: XAdapter) -> None:
    fx.publish(THREAD[0][:-1])  # not quite the head

    assert await adapter.reconcile(messages(), []) is None
    assert [r.endpoint for r in fx.requests] == [USERS_ME, USER_TWEETS]


async def test_reconcile_looks_past_the_first_page_of_posts(
        fx: FakeX, adapter: XAdapter) -> None:
    head = fx.publish(THREAD[0])
    for n in range(150):
        fx.publish(f"Kabar singkat nomor {n}")

    assert await adapter.reconcile(messages(), []) == head.id
    assert len(fx.posts_to(USER_TWEETS)) == 2


async def test_reconcile_of_a_thread_with_every_part_sent_is_its_head(
        fx: FakeX, adapter: XAdapter) -> None:
    assert await adapter.reconcile(messages(), ["1", "2", "3"]) == "1"
    assert fx.requests == []


# --------------------------------------------------------------------------- duplicates on retry


async def test_a_head_published_despite_a_503_is_found_on_the_retry(
        fx: FakeX, adapter: XAdapter) -> None:
    fx.server_error(503, posted=True)
    with pytest.raises(TransientError):
        await adapter.send({"text": THREAD[0]}, send_context())
    assert len(fx.tweets) == 1  # X did publish it

    assert await adapter.send({"text": THREAD[0]}, send_context()) == fx.tweets[0].id
    assert len(fx.tweets) == 1


async def test_a_reply_published_despite_a_503_is_found_on_the_retry(
        fx: FakeX, adapter: XAdapter) -> None:
    head = await adapter.send({"text": THREAD[0]}, send_context())
    fx.server_error(502, posted=True)
    with pytest.raises(TransientError):
        await adapter.send({"text": THREAD[1]}, send_context(previous_id=head))

    second = await adapter.send({"text": THREAD[1]}, send_context(previous_id=head))
    third = await adapter.send({"text": THREAD[2]}, send_context(previous_id=second))

    assert [(t.id, t.in_reply_to) for t in fx.tweets] == [
        (head, None), (second, head), (third, second)]


async def test_a_post_sent_without_an_answer_is_found_when_it_is_sent_again(
        fx: FakeX) -> None:
    fx.no_answer(LATE)
    late = XAdapter(config_for(fx, timeout=SILENT))
    try:
        with pytest.raises(AmbiguousError):
            await late.send({"text": THREAD[0]}, send_context())

        # an editor's --force
        assert await late.send({"text": THREAD[0]}, send_context()) == fx.tweets[0].id
    finally:
        await late.close()
    assert len(fx.tweets) == 1


async def test_a_duplicate_head_nothing_says_we_posted_is_permanent(
        fx: FakeX, adapter: XAdapter) -> None:
    fx.publish(THREAD[0])

    with pytest.raises(DuplicateContentError) as caught:
        await adapter.send({"text": THREAD[0]}, send_context())

    assert isinstance(caught.value, PermanentError) and not caught.value.pause_channel
    assert caught.value.message == f"X says duplicate content: {DUPLICATE}"
    assert fx.posts_to(USER_TWEETS) == []


async def test_a_duplicate_reply_that_is_not_in_the_thread_is_permanent(
        fx: FakeX, adapter: XAdapter) -> None:
    fx.publish(THREAD[1])  # the same words, posted on their own earlier
    head = await adapter.send({"text": THREAD[0]}, send_context())

    with pytest.raises(DuplicateContentError):
        await adapter.send({"text": THREAD[1]}, send_context(previous_id=head))

    assert len(fx.posts_to(USER_TWEETS)) == 1


async def test_a_duplicate_after_a_503_that_cannot_be_found_is_unknown(
        fx: FakeX, adapter: XAdapter) -> None:
    fx.publish(THREAD[0])  # an old post with the same text, from before the attempt
    fx.tweets[0].created_at -= 3600
    fx.server_error(503)
    with pytest.raises(TransientError):
        await adapter.send({"text": THREAD[0]}, send_context())

    with pytest.raises(AmbiguousError, match="probably published"):
        await adapter.send({"text": THREAD[0]}, send_context())


async def test_a_rate_limited_lookup_is_unknown_and_does_not_hold_posting(
        fx: FakeX, adapter: XAdapter) -> None:
    fx.server_error(503, posted=True)
    with pytest.raises(TransientError):
        await adapter.send({"text": THREAD[0]}, send_context())
    fx.rate_limit(reset_in=900, endpoints=[USER_TWEETS])

    with pytest.raises(AmbiguousError, match="looking for it failed"):
        await adapter.send({"text": THREAD[0]}, send_context())

    assert adapter.not_before < time.time()  # the timeline's limit is not the posting limit
    await adapter.send({"text": THREAD[1]}, send_context())
    assert fx.posts_to(POST_TWEETS)[-1].status == 201


async def test_a_plan_without_timeline_reads_leaves_it_unknown_without_pausing(
        fx: FakeX, adapter: XAdapter) -> None:
    fx.server_error(503, posted=True)
    with pytest.raises(TransientError):
        await adapter.send({"text": THREAD[0]}, send_context())
    fx.fail_next(403, {"title": "Client Forbidden", "reason": "client-not-enrolled",
                       "detail": "When authenticating requests to the Twitter API v2 endpoints, "
                                 "you must use keys and tokens from a Twitter developer App that "
                                 "is attached to a Project.",
                       "type": "https://api.twitter.com/2/problems/client-forbidden",
                       "status": 403}, endpoints=[USER_TWEETS])

    with pytest.raises(AmbiguousError) as caught:
        await adapter.send({"text": THREAD[0]}, send_context())

    assert "looking for it failed (X refused the request: When authenticating" in \
        caught.value.message
    assert "Read and Write" not in caught.value.message

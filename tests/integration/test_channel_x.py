"""The X adapter against a fake X API v2 server (real HTTP, tweepy and OAuth 1.0a unmocked)."""

from __future__ import annotations

import logging
import socket
import time
import traceback
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from fakes.x_api import DUPLICATE, POST_TWEETS, REPLY_MISSING, TEXT_TOO_LONG, FakeX
from support.timeouts import ANSWERED, LATE, SILENT

from distributor.channels.x.adapter import XAdapter, XConfig
from distributor.plugin import AmbiguousError, ChannelError, PermanentError, TransientError
from distributor.plugin.testing import send_context

THREAD = [
    "Rusia dan Indonesia sepakat memperluas kerja sama energi, kata menteri di Moskow. 1/3",
    "Kesepakatan itu mencakup pasokan minyak dan pembangunan kilang baru. 2/3",
    "Baca selengkapnya: https://rinews.example/berita/rusia-indonesia-energi 3/3",
]


def config_for(x: FakeX, **overrides: Any) -> XConfig:
    values: dict[str, Any] = {"name": "x", **x.credentials, "api_base_url": x.url,
                              "timeout": ANSWERED}
    values.update(overrides)
    return XConfig(**values)


def rendered(error: BaseException) -> str:
    return "".join(traceback.format_exception(error))


@pytest.fixture
def fx() -> Iterator[FakeX]:
    with FakeX() as fake:
        yield fake


@pytest.fixture
async def adapter(fx: FakeX) -> AsyncIterator[XAdapter]:
    x = XAdapter(config_for(fx))
    yield x
    await x.close()


# --------------------------------------------------------------------------- posting


async def test_thread_is_chained_by_replying_to_the_previous_post(
        fx: FakeX, adapter: XAdapter) -> None:
    first = await adapter.send({"text": THREAD[0]}, send_context())
    second = await adapter.send({"text": THREAD[1]}, send_context(previous_id=first))
    third = await adapter.send({"text": THREAD[2]}, send_context(previous_id=second))

    assert [(t.id, t.text, t.in_reply_to) for t in fx.tweets] == [
        (first, THREAD[0], None), (second, THREAD[1], first), (third, THREAD[2], second)]


async def test_requests_reach_api_base_url_signed_with_oauth_1a(
        fx: FakeX, adapter: XAdapter) -> None:
    await adapter.send({"text": THREAD[0]}, send_context())

    [request] = fx.requests
    assert request.endpoint == POST_TWEETS
    assert request.headers["authorization"].startswith("OAuth ")
    assert request.oauth["oauth_consumer_key"] == fx.consumer_key
    assert request.oauth["oauth_token"] == fx.access_token
    assert request.oauth["oauth_signature_method"] == "HMAC-SHA1"
    assert request.status == 201  # the fake verified the HMAC-SHA1 signature


async def test_a_wrong_secret_fails_the_signature_and_pauses_the_channel(fx: FakeX) -> None:
    x = XAdapter(config_for(fx, consumer_secret="not-the-real-secret"))
    try:
        with pytest.raises(PermanentError) as caught:
            await x.send({"text": THREAD[0]}, send_context())
    finally:
        await x.close()

    assert caught.value.pause_channel is True
    assert caught.value.message.startswith("X rejected the credentials; check the channel's "
                                           "consumer_key")
    assert fx.tweets == []


async def test_revoked_access_is_permanent_and_pauses_the_channel(
        fx: FakeX, adapter: XAdapter) -> None:
    fx.unauthorized()

    with pytest.raises(PermanentError) as caught:
        await adapter.send({"text": THREAD[0]}, send_context())

    assert caught.value.pause_channel is True


# --------------------------------------------------------------------------- refusals


async def test_duplicate_post_is_permanent(fx: FakeX, adapter: XAdapter) -> None:
    await adapter.send({"text": THREAD[0]}, send_context())

    with pytest.raises(PermanentError) as caught:
        await adapter.send({"text": THREAD[0]}, send_context())

    assert caught.value.message == f"X says duplicate content: {DUPLICATE}"
    assert caught.value.pause_channel is False
    assert len(fx.tweets) == 1


async def test_reply_to_a_missing_post_is_permanent_with_xs_detail(adapter: XAdapter) -> None:
    with pytest.raises(PermanentError) as caught:
        await adapter.send({"text": THREAD[1]}, send_context(previous_id="1111111111111111111"))

    assert caught.value.message == f"X refused the post: {REPLY_MISSING}"


async def test_too_long_post_is_permanent_with_xs_detail(adapter: XAdapter) -> None:
    with pytest.raises(PermanentError) as caught:
        await adapter.send({"text": "a" * 281}, send_context())

    assert caught.value.message == f"X refused the post: {TEXT_TOO_LONG}"


async def test_rate_limit_is_transient_until_the_reset_header(
        fx: FakeX, adapter: XAdapter) -> None:
    reset = fx.rate_limit(reset_in=120)

    with pytest.raises(TransientError) as caught:
        await adapter.send({"text": THREAD[0]}, send_context())

    retry_after = caught.value.retry_after
    assert retry_after is not None
    assert abs(retry_after - (reset - time.time())) < 2
    assert 115 < retry_after <= 121
    assert caught.value.channel_wide is True


async def test_used_up_daily_limit_waits_for_the_24_hour_reset(
        fx: FakeX, adapter: XAdapter) -> None:
    fx.rate_limit(reset_in=5 * 3600, daily="user")  # the 15-minute window still has room

    with pytest.raises(TransientError) as caught:
        await adapter.send({"text": THREAD[0]}, send_context())

    assert caught.value.retry_after is not None
    assert 5 * 3600 - 5 < caught.value.retry_after <= 5 * 3600 + 1


async def test_last_post_of_the_day_blocks_the_next_one_without_asking_x(
        fx: FakeX, adapter: XAdapter) -> None:
    fx.user_daily_limit = 1
    # answered with x-user-limit-24hour-remaining: 0
    await adapter.send({"text": THREAD[0]}, send_context())

    with pytest.raises(TransientError) as caught:
        await adapter.send({"text": THREAD[1]}, send_context())

    assert caught.value.retry_after is not None
    assert 86400 - 10 < caught.value.retry_after <= 86400
    assert len(fx.requests) == 1


@pytest.mark.parametrize(("retry_after", "expected"), [(None, None), (30, 30.0)])
async def test_server_unavailable_is_transient(
        fx: FakeX, adapter: XAdapter, retry_after: int | None, expected: float | None) -> None:
    fx.server_error(503, retry_after=retry_after)

    with pytest.raises(TransientError) as caught:
        await adapter.send({"text": THREAD[0]}, send_context())

    assert "503" in caught.value.message
    assert caught.value.retry_after == expected
    assert caught.value.channel_wide is True
    assert fx.tweets == []


async def test_connection_refused_is_transient() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    x = XAdapter(XConfig(name="x", consumer_key="k" * 25, consumer_secret="s" * 50,
                         access_token="1-" + "t" * 40, access_token_secret="u" * 45,
                         api_base_url=f"http://127.0.0.1:{port}", timeout=ANSWERED))
    try:
        with pytest.raises(TransientError, match="cannot reach X"):
            await x.send({"text": THREAD[0]}, send_context())
    finally:
        await x.close()


async def test_no_answer_is_ambiguous_and_the_post_exists(fx: FakeX) -> None:
    fx.no_answer(LATE)  # recorded at once, answered after the adapter's timeout

    adapter = XAdapter(config_for(fx, timeout=SILENT))
    try:
        with pytest.raises(AmbiguousError, match="may have been published"):
            await adapter.send({"text": THREAD[0]}, send_context())
    finally:
        await adapter.close()

    assert [t.text for t in fx.tweets] == [THREAD[0]]


async def test_empty_post_is_permanent_and_never_sent(fx: FakeX, adapter: XAdapter) -> None:
    with pytest.raises(PermanentError):
        await adapter.send({"text": "  "}, send_context())

    assert fx.requests == []


# --------------------------------------------------------------------------- secrets


async def test_credentials_are_in_no_log_line_and_no_error(
        fx: FakeX, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[ChannelError] = []
    x, late = XAdapter(config_for(fx)), XAdapter(config_for(fx, timeout=SILENT))
    wrong = XAdapter(config_for(fx, access_token_secret="wrong-access-token-secret-77"))
    try:
        await x.send({"text": THREAD[0]}, send_context())
        steps = ((lambda: None, x), (fx.server_error, x), (lambda: fx.no_answer(LATE), late))
        for script, adapter in steps:
            script()  # then: a duplicate, a 503, no answer
            with pytest.raises(ChannelError) as caught:
                await adapter.send({"text": THREAD[0]}, send_context())
            errors.append(caught.value)
        with pytest.raises(PermanentError) as caught:
            await wrong.send({"text": THREAD[1]}, send_context())
        errors.append(caught.value)
    finally:
        await x.close()
        await late.close()
        await wrong.close()

    assert "oauth_consumer_key" in caplog.text  # the OAuth header was logged, redacted
    secrets = [*fx.credentials.values(), "wrong-access-token-secret-77"]
    for secret in secrets:
        assert secret not in caplog.text
        for error in errors:
            assert secret not in rendered(error)


# --------------------------------------------------------------------------- check --online


async def test_check_online_returns_the_accounts_handle(adapter: XAdapter) -> None:
    assert await adapter.check_online() == "@rinewsportal"


async def test_check_online_with_bad_credentials_pauses_the_channel(fx: FakeX) -> None:
    x = XAdapter(config_for(fx, access_token="1600000000000000001-someoneElse"))
    try:
        with pytest.raises(PermanentError) as caught:
            await x.check_online()
    finally:
        await x.close()

    assert caught.value.pause_channel is True

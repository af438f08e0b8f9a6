"""What a process remembers of each Telegram bot token: one object per token, one reset; what
it shares with other processes through its start environment (``setup(env)``)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from distributor.channels.telegram.adapter import TelegramAdapter, TelegramConfig
from distributor.channels.telegram.pacing import GAP, NEXT_SLOT, token_scope
from distributor.channels.telegram.tokens import (
    REMEMBER,
    TokenStates,
    credential_key,
    forget_token_state,
    token_state,
)
from distributor.plugin import MemoryState
from distributor.plugin.testing import memory_env

TOKEN = "7012345678:AAsecretsecretsecretsecretsecret01"


def test_a_token_is_named_without_revealing_it_and_one_server_is_one_name() -> None:
    token = "7012345678:AAsecretsecretsecretsecretsecret01"
    key = credential_key(token, "https://api.telegram.org/")

    assert key == credential_key(token) and token not in key and "secret" not in key
    assert key != credential_key(token, "http://127.0.0.1:8081")


def test_each_token_has_its_own_state_and_a_reset_forgets_them_all() -> None:
    tokens = TokenStates()
    busy, other = tokens.get("a"), tokens.get("b")
    busy.hold("@rinews", 3600)  # an hour: no machine is that slow
    busy.moved["-42"] = -1001
    busy.note_posted(-1001, 7)

    assert tokens.get("a") is busy and busy.flood_left("@rinews") > 0
    assert other.flood_left("@rinews") <= 0
    assert other.moved == {} and other.posted_in(-1001) == set()

    tokens.reset()
    fresh = tokens.get("a")
    assert fresh is not busy
    assert fresh.flood_left("@rinews") <= 0
    assert fresh.moved == {} and fresh.posted_in(-1001) == set()


def test_a_running_poller_outlives_a_reset() -> None:
    tokens = TokenStates()
    with tokens.polling("a"):
        tokens.reset()
        assert tokens.is_polled("a") and not tokens.is_polled("b")
    assert not tokens.is_polled("a")


def test_attempts_are_remembered_newest_kept() -> None:
    state = TokenStates().get("a")
    for i in range(REMEMBER + 10):
        state.note_attempt("@rinews", f"f{i}", float(i))
    state.note_attempt("@rinews", "f0", 1.5)  # tried again: it is new once more

    assert len(state.attempts) == REMEMBER
    assert state.attempted("@rinews", "f0") == 1.5
    assert state.attempted("@rinews", "f10") is None  # the oldest, forgotten
    assert state.attempted("@rinews", "f11") == 11.0
    assert state.attempted("@rinews", f"f{REMEMBER + 9}") == REMEMBER + 9


@pytest.fixture
def fresh_tokens() -> Iterator[None]:
    forget_token_state()
    yield
    forget_token_state()


def adapter(name: str, chat: str = "@rinews") -> TelegramAdapter:
    return TelegramAdapter(TelegramConfig(name=name, type="telegram", chat_id=chat,
                                          token=SecretStr(TOKEN)))


def test_with_several_processes_sending_the_token_paces_through_its_shared_scope(
        fresh_tokens: None) -> None:
    shared: dict[str, MemoryState] = {}
    one, two = adapter("id"), adapter("en")
    one.setup(memory_env("id", shared=shared, distributed=True))
    two.setup(memory_env("en", shared=shared, distributed=True))
    reserve = token_state(one.credential_key).pacing.shared
    assert reserve is not None
    scope = shared[token_scope(one.credential_key)]  # one per token
    later = time.time() + 3600  # another process took the slots of the next hour
    scope.put(NEXT_SLOT, later)

    waits = [reserve() for _ in range(5)]

    assert list(shared) == [token_scope(one.credential_key)] and scope.keys() == [NEXT_SLOT]
    assert scope.get(NEXT_SLOT) == pytest.approx(later + 5 * GAP, abs=1e-6)
    assert all(3590 < wait <= 3600 + 5 * GAP for wait in waits), waits


@pytest.mark.parametrize("env", [{}, {"distributed": True, "dry_run": True}])
def test_one_process_sending_keeps_the_token_pace_in_memory(
        fresh_tokens: None, env: dict[str, bool]) -> None:
    shared: dict[str, MemoryState] = {}
    channel = adapter("id")
    channel.setup(memory_env("id", shared=shared, **env))
    assert token_state(channel.credential_key).pacing.shared is None and shared == {}


def test_a_recorded_move_gives_post_addresses_in_the_new_chat(fresh_tokens: None) -> None:
    group = adapter("desk", chat="-4123456789")
    assert group.post_url("5") is None  # a basic group's posts have no address
    group.setup(memory_env("desk", state=MemoryState({"moved_to": "-1009876543210"})))
    assert group.post_url("5") == "https://t.me/c/9876543210/5"
    assert group.post_url("5", moved_to="-1001111111111") == "https://t.me/c/1111111111/5"

"""What a process remembers of each Telegram bot token: one object per token, one reset."""

from __future__ import annotations

from distributor.channels.telegram.tokens import (
    REMEMBER,
    TokenStates,
    credential_key,
)


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

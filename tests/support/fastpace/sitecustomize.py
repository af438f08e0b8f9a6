"""Test processes only (this folder is put on PYTHONPATH by tests/support/cluster.py):
``DISTRIBUTOR_TEST_TELEGRAM_RATE`` sets the Telegram channels' pacing (posts a minute), as the
in-process tests' ``fast_pacing`` fixture does with monkeypatch, so hundreds of posts go out in
seconds instead of 20 a minute. Without the variable nothing changes."""

import os

_rate = os.environ.get("DISTRIBUTOR_TEST_TELEGRAM_RATE")
if _rate:
    from distributor.channels.telegram import TelegramAdapter

    TelegramAdapter.rate_per_minute = float(_rate)

"""Fake platform servers for tests: real HTTP servers on 127.0.0.1 speaking the platforms' APIs.

* :class:`tests.fakes.telegram_api.FakeTelegram` - the Telegram Bot API
* :class:`tests.fakes.x_api.FakeX` - the X API v2 (posts, users/me, OAuth 1.0a)
"""

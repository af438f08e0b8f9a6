"""The Telegram channel: adapter (posting, pacing, reconciling) and the editor bot.

Only this package knows Telegram and imports python-telegram-bot."""

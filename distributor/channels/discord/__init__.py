"""Discord: each article as an embed posted through a channel's webhook (``type: discord``)."""

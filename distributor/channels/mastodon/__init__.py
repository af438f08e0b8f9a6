"""Mastodon: each article as a status on the account of an access token (``type: mastodon``)."""

"""Bluesky: each article as a post with a link card, through the AT Protocol
(``type: bluesky``)."""

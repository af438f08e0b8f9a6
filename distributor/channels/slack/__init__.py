"""Slack: each article as Block Kit blocks posted through an incoming webhook
(``type: slack``)."""

"""distributor-webhook: a distributor channel that POSTs each article (and each digest) as
JSON to a URL, optionally signed with HMAC-SHA256.

An out-of-tree plugin, written as a newsroom would write one: it imports nothing of
distributor but its public plugin API (``distributor.plugin``) and is found through the
entry point ``webhook`` in the group ``distributor.channels`` (see pyproject.toml).
"""

from __future__ import annotations

from distributor_webhook.channel import SIGNATURE_HEADER, WebhookChannel, WebhookConfig, sign

__all__ = ["SIGNATURE_HEADER", "WebhookChannel", "WebhookConfig", "sign"]

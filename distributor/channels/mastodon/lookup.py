"""Finding a status the account posted (for a delivery whose answer was lost): the same text
among the account's latest statuses. Mastodon returns a status's text as HTML (paragraphs,
line breaks, links shortened with invisible spans); its readable text, with every part of the
links, is compared with the status that was sent."""

from __future__ import annotations

import html
import re

import httpx

from distributor.channels.mastodon import transport

_BREAK = re.compile(r"<br\s*/?>|</p>\s*<p>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")


def plain(content: str) -> str:
    """A status's HTML content as comparable text: tags removed, whitespace collapsed."""
    return " ".join(html.unescape(_TAG.sub("", _BREAK.sub(" ", content))).split())


async def find_status(client: httpx.AsyncClient, instance: str, status: str, *,
                      timeout: float, pages: int = 2) -> str | None:
    me = await transport.request(client, "GET", f"{instance}/api/v1/accounts/verify_credentials",
                                 sent=False, timeout=timeout)
    if me.status_code != 200:
        raise transport.refusal(me, what="the lookup", auxiliary=True)
    account_id = me.json()["id"]
    wanted = " ".join(status.split())
    params: dict[str, str] = {"limit": "40", "exclude_reblogs": "true"}
    for _ in range(pages):
        response = await transport.request(
            client, "GET", f"{instance}/api/v1/accounts/{account_id}/statuses", sent=False,
            timeout=timeout, params=params)
        if response.status_code != 200:
            raise transport.refusal(response, what="the lookup", auxiliary=True)
        statuses = response.json()
        for found in statuses:
            if plain(str(found.get("content") or "")) == wanted:
                return str(found["id"])
        if not statuses:
            break
        params["max_id"] = str(statuses[-1]["id"])
    return None

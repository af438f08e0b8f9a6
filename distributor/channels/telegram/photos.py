"""Photos Telegram refuses: a photo it cannot fetch by URL is downloaded here and uploaded
(through :func:`distributor.plugin.media.download_image`); if the image fails entirely (no
download, a refused upload), the caption goes out as a text message."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from telegram import Bot
from telegram import Message as TelegramMessage
from telegram.error import BadRequest

from distributor.channels.telegram.messages import Outgoing, outgoing
from distributor.channels.telegram.transport import Failure, redact
from distributor.plugin import Message
from distributor.plugin.media import ImageError, download_image

log = logging.getLogger(__name__)

#: BadRequest descriptions that mean "Telegram could not use the photo"
PHOTO_PROBLEMS = (
    "wrong file identifier",
    "http url",
    "failed to get http url content",
    "wrong type of the web page content",
    "wrong remote file identifier",
    "url host is empty",
    "photo_invalid",
    "image_process_failed",
    "photo_invalid_dimensions",
    "photo_save_file_invalid",
    "photo_ext_invalid",
    "webpage_curl_failed",
    "webpage_media_empty",
    "file must be non-empty",
    "not enough rights to send photos",
)
#: of those, the ones where Telegram could not fetch (or use what it fetched from) the URL:
#: this process downloads the image and uploads it instead
FETCH_PROBLEMS = ("http url", "failed to get http url content",
                  "wrong type of the web page content", "url host is empty",
                  "webpage_curl_failed", "webpage_media_empty")
#: Telegram takes photos up to 10 MB by upload
MAX_PHOTO_BYTES = 10 * 1024 * 1024
#: the image types Telegram takes as a photo
PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp"})

Result = TelegramMessage | Failure


def photo_refused(result: Result) -> str | None:
    """Telegram's description when ``result`` is a refusal of the photo (nothing posted)."""
    if not isinstance(result, Failure) or not isinstance(result.error, BadRequest):
        return None
    description = result.description
    return description if any(p in description.lower() for p in PHOTO_PROBLEMS) else None


async def photo_fallback(call: Callable[[Outgoing], Awaitable[Result]], out: Outgoing,
                         result: Result, *, channel: str, timeout: float,
                         allow_hosts: Sequence[str] = ()) -> Result:
    """Telegram refused the photo of ``out`` (nothing was posted): when it could not fetch the
    URL, download the image here and upload it; if the image fails entirely, post the text.
    ``call`` sends one call to the channel's chat."""
    description = photo_refused(result) or ""
    if out.photo and any(p in description.lower() for p in FETCH_PROBLEMS):
        try:
            data, media_type = await download_image(
                out.photo, max_bytes=MAX_PHOTO_BYTES, timeout=timeout, accept=PHOTO_TYPES,
                user_agent="distributor (+photo for a Telegram post)", allow_hosts=allow_hosts)
        except ImageError as exc:
            log.warning("channel %s: Telegram could not fetch the photo %s (%s), nor could "
                        "distributor (%s)", channel, out.photo, description, redact(str(exc)))
        else:
            log.info("channel %s: Telegram could not fetch the photo %s (%s); uploading "
                     "it (%d bytes)", channel, out.photo, description, len(data))
            result = await call(out.uploading(data, media_type))
            description = photo_refused(result) or ""
            if not description:
                return result
    if not out.text.strip():
        return result  # a photo without a caption has no text to fall back to
    log.warning("channel %s: Telegram could not use the photo %s (%s); posting the text "
                "without it", channel, out.photo, description)
    return await call(out.without_photo())


async def send_rendered(bot: Bot, chat_id: str | int, message: Message) -> TelegramMessage:
    """Send one message as the Telegram renderer made it (the editor bot's previews); a photo
    Telegram cannot use falls back to the text. Raises :class:`PermanentError` for a malformed
    message, else python-telegram-bot's errors."""
    out = outgoing(message)
    try:
        return await out.call(bot, chat_id)
    except BadRequest as exc:
        if out.method != "sendPhoto" or not any(p in exc.message.lower()
                                                for p in PHOTO_PROBLEMS):
            raise
    return await out.without_photo().call(bot, chat_id)

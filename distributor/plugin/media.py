"""Images for channels: one downloader for every platform (part of the plugin API).

A channel whose platform cannot fetch an article's image by its URL (or takes images only as
uploads) gets the bytes here::

    from distributor.plugin.media import ImageError, download_image

    try:
        data, media_type = await download_image(url, max_bytes=10 * 1024 * 1024, timeout=20)
    except ImageError as exc:
        ...  # post without the image; str(exc) says why, for the log

The image's type is judged by its first bytes (servers often label images wrongly), and only
the types in ``accept`` are taken. The size cap holds while the body streams in: a larger
image is never read whole.
"""

from __future__ import annotations

from collections.abc import Collection

import httpx

#: media types :func:`download_image` recognises by their first bytes
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp",
                         "image/tiff"})

_MAGIC = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"),
          (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"), (b"BM", "image/bmp"),
          (b"II*\x00", "image/tiff"), (b"MM\x00*", "image/tiff"))

#: declared types that are certainly no image: the body is not read
_NOT_IMAGES = ("text/", "application/json", "application/xml", "application/xhtml")


class ImageError(Exception):
    """The image could not be had: unreachable, refused, too large, or not an image of the
    accepted types. The message says which, in words for a log line."""


def image_type(data: bytes) -> str | None:
    """The media type of an image by its first bytes ("image/png", ...), else None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((kind for magic, kind in _MAGIC if data.startswith(magic)), None)


def _names(types: Collection[str]) -> str:
    return ", ".join(sorted(t.removeprefix("image/").upper() for t in types))


async def download_image(url: str, *, max_bytes: int, timeout: float,
                         accept: Collection[str] = IMAGE_TYPES,
                         user_agent: str = "distributor (+image for a post)") -> tuple[bytes, str]:
    """The image at ``url`` (http or https, redirects followed): its bytes and media type.

    Raises :class:`ImageError` when it cannot be fetched (no answer, an HTTP error status),
    when it is larger than ``max_bytes`` (said by Content-Length, or found while streaming),
    or when it is not an image of a type in ``accept``.
    """
    if not url.startswith(("http://", "https://")):
        raise ImageError(f"{url!r} is not an http(s) URL")
    try:
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=True,
                                     headers={"User-Agent": user_agent}) as client, \
                client.stream("GET", url) as answer:
            if answer.status_code >= 400:
                raise ImageError(f"the server answered {answer.status_code} "
                                 f"{answer.reason_phrase}".rstrip())
            declared_type = answer.headers.get("content-type", "").lower()
            if declared_type.startswith(_NOT_IMAGES):
                raise ImageError(f"not an image but {declared_type.split(';')[0]}")
            declared = answer.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise ImageError(f"{declared} bytes, more than the {max_bytes} bytes allowed")
            data = bytearray()
            async for chunk in answer.aiter_bytes():
                data += chunk
                if len(data) > max_bytes:
                    raise ImageError(f"larger than the {max_bytes} bytes allowed")
    except httpx.HTTPError as exc:
        raise ImageError(f"cannot fetch it: {str(exc) or type(exc).__name__}") from exc
    media_type = image_type(bytes(data[:16]))
    if media_type is None or media_type not in accept:
        found = media_type or declared_type.split(";")[0] or "unknown type"
        raise ImageError(f"not an image of a type taken here ({_names(accept)}): {found}")
    return bytes(data), media_type

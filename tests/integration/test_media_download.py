"""The one image downloader of the plugin API (distributor.plugin.media), against a real HTTP
server: the bytes and their type, or one clear ImageError saying why not."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from feedserver import FeedServer, closed_port_url

from distributor.plugin.media import ImageError, download_image

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


@pytest.fixture
def images() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


async def test_an_image_comes_with_the_type_its_bytes_show(images: FeedServer) -> None:
    # served under a wrong label, as many servers do: the bytes decide
    url = images.route("/a.png", body=PNG, content_type="application/octet-stream")

    assert await download_image(url, max_bytes=1000, timeout=5) == (PNG, "image/png")


async def test_redirects_are_followed(images: FeedServer) -> None:
    target = images.route("/b.jpg", body=JPEG, content_type="image/jpeg")
    url = images.route("/moved", redirect_to=target)

    assert await download_image(url, max_bytes=1000, timeout=5) == (JPEG, "image/jpeg")


@pytest.mark.parametrize(("route", "says"), [
    ({"status": 404, "body": b"not here", "content_type": "text/plain"}, "404"),
    ({"body": b"<html>a page</html>", "content_type": "text/html"}, "text/html"),
    ({"body": b"%PDF-1.7 not a picture", "content_type": "image/png"}, "not an image"),
    ({"body": PNG * 20, "content_type": "image/png"}, "more than the 1000 bytes"),
    ({"body": PNG, "content_type": "image/png", "repeat": 20}, "larger than the 1000 bytes"),
], ids=["missing", "a-page", "wrong-bytes", "declared-too-large", "streamed-too-large"])
async def test_what_is_no_usable_image_is_one_clear_error(
        images: FeedServer, route: dict[str, object], says: str) -> None:
    url = images.route("/x", **route)

    with pytest.raises(ImageError, match=says):
        await download_image(url, max_bytes=1000, timeout=5)


async def test_a_type_the_caller_does_not_take_is_refused(images: FeedServer) -> None:
    url = images.route("/c.png", body=PNG, content_type="image/png")

    with pytest.raises(ImageError, match=r"\(JPEG\): image/png"):
        await download_image(url, max_bytes=1000, timeout=5, accept={"image/jpeg"})


async def test_an_unreachable_server_and_a_local_path_are_errors_too() -> None:
    with pytest.raises(ImageError, match="cannot fetch it"):
        await download_image(closed_port_url("/x.png"), max_bytes=1000, timeout=5)
    with pytest.raises(ImageError, match="not an http"):
        await download_image("/etc/passwd", max_bytes=1000, timeout=5)

"""The X channel's image option: the article's image uploaded (``POST /2/media/upload``) and
attached to the head post; without it when the image cannot be fetched or uploaded."""

from __future__ import annotations

import logging
import struct
import threading
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fakes.x_api import MEDIA_UPLOAD, FakeX

from distributor.articles import Article
from distributor.channels.x.adapter import XAdapter, XConfig
from distributor.config import SiteConfig
from distributor.configfile import load_config
from distributor.plugin import TransientError
from distributor.plugin.testing import send_context
from distributor.runtime import Runtime

HEAD = ("Presiden meresmikan jalan tol Trans-Sumatra ruas Palembang–Betung sepanjang 69 "
        "kilometer pada Kamis, yang memangkas waktu tempuh dari tiga jam menjadi satu jam.")


def png(width: int = 2, height: int = 2) -> bytes:
    """A real PNG image (grey pixels)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


class Portal:
    """The newsroom's web server, where article images live."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[int, str, bytes]] = {}
        self.hits: list[str] = []
        portal = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                portal.hits.append(self.path)
                status, kind, body = portal.files.get(self.path, (404, "text/html", b"nope"))
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fx() -> Iterator[FakeX]:
    with FakeX() as fake:
        yield fake


@pytest.fixture
def portal() -> Iterator[Portal]:
    server = Portal()
    server.files["/foto/tol.png"] = (200, "image/png", png())
    server.files["/foto/halaman.png"] = (200, "text/html", b"<html>not found</html>")
    yield server
    server.stop()


@pytest.fixture
async def make_adapter(fx: FakeX) -> AsyncIterator[Callable[..., XAdapter]]:
    made: list[XAdapter] = []

    def make(**overrides: Any) -> XAdapter:
        adapter = XAdapter(XConfig(**{"name": "x", **fx.credentials, "api_base_url": fx.url,
                                      "timeout": 5.0, **overrides}))
        # the portal's image server is on this machine: the newsroom's own image host
        adapter.site = SiteConfig(name="RI", url="https://rinews.example",
                                  image_allow_hosts=["127.0.0.1"])
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        await adapter.close()


async def test_the_image_is_uploaded_and_attached_to_the_head_post(
        fx: FakeX, portal: Portal, make_adapter: Callable[..., XAdapter]) -> None:
    adapter = make_adapter(image=True)

    head = await adapter.send({"text": HEAD, "image": portal.url + "/foto/tol.png"}, send_context())

    [(media_id, upload)] = fx.media.items()
    assert upload.data == png()
    assert (upload.media_category, upload.media_type) == ("tweet_image", "image/png")
    [tweet] = fx.tweets
    assert (tweet.id, tweet.text, tweet.media_ids) == (head, HEAD, [media_id])
    [request] = fx.posts_to(MEDIA_UPLOAD)
    assert request.status == 200 and request.oauth["oauth_token"] == fx.access_token


async def test_without_the_image_option_no_image_is_fetched_or_uploaded(
        fx: FakeX, portal: Portal, make_adapter: Callable[..., XAdapter]) -> None:
    adapter = make_adapter()

    await adapter.send({"text": HEAD, "image": portal.url + "/foto/tol.png"}, send_context())

    assert portal.hits == [] and fx.media == {}
    assert fx.tweets[0].media_ids == []


@pytest.mark.parametrize("case", ["missing image", "not an image", "upload refused",
                                  "upload unavailable", "not a web address",
                                  "cloud metadata address", "private address"])
async def test_a_failed_image_leaves_the_post_without_it(
        fx: FakeX, portal: Portal, make_adapter: Callable[..., XAdapter],
        caplog: pytest.LogCaptureFixture, case: str) -> None:
    adapter = make_adapter(image=True)
    image = {"missing image": portal.url + "/foto/hilang.jpg",
             "not an image": portal.url + "/foto/halaman.png",
             "not a web address": "file:///etc/passwd",
             "cloud metadata address": "http://169.254.169.254/latest/meta-data/iam",
             "private address": portal.url.replace("127.0.0.1", "localhost") + "/foto/tol.png",
             }.get(case, portal.url + "/foto/tol.png")
    if case == "private address":  # a newsroom without an intranet image host
        adapter.site = SiteConfig(name="RI", url="https://rinews.example")
    if case == "upload refused":
        fx.fail_next(400, {"title": "Invalid Request", "detail": "media type unrecognized.",
                           "type": "about:blank", "status": 400}, endpoints=[MEDIA_UPLOAD])
    if case == "upload unavailable":
        fx.server_error(503, endpoints=[MEDIA_UPLOAD])
    caplog.set_level(logging.WARNING, logger="distributor")

    head = await adapter.send({"text": HEAD, "image": image}, send_context())

    assert [(t.id, t.media_ids) for t in fx.tweets] == [(head, [])]
    assert fx.media == {}
    assert "posting without it" in caplog.text
    if case in ("cloud metadata address", "private address"):
        assert "refused to fetch" in caplog.text and portal.hits == []


async def test_a_head_with_an_image_published_despite_a_503_is_found_on_the_retry(
        fx: FakeX, portal: Portal, make_adapter: Callable[..., XAdapter]) -> None:
    adapter = make_adapter(image=True)
    message = {"text": HEAD, "image": portal.url + "/foto/tol.png"}
    fx.server_error(503, posted=True)
    with pytest.raises(TransientError):
        await adapter.send(message, send_context())

    head = await adapter.send(message, send_context())

    [tweet] = fx.tweets  # shown by X with a t.co link to the photo at the end
    assert head == tweet.id and fx.as_returned(tweet)["text"].startswith(HEAD + " https://t.co/")


async def test_the_renderer_gives_the_head_post_the_articles_image(
        write_config: Callable[..., Path], fx: FakeX) -> None:
    lines = "".join(f"    {k}: {v}\n" for k, v in fx.credentials.items())
    path = write_config("channels:\n  - name: x\n    type: x\n    image: true\n" + lines)
    rt = Runtime.open(load_config(path))
    try:
        article = Article(source="newsroom", key="tol", title="Tol Palembang–Betung diresmikan",
                          url="https://rinews.example/berita/tol", lede=HEAD + " " + HEAD,
                          image="https://rinews.example/foto/tol.jpg",
                          published=datetime.now(UTC))
        messages = rt.adapter("x").render(article, rt.context(rt.config.channel("x")))
    finally:
        await rt.close()

    assert len(messages) >= 2
    assert messages[0].get("image") == "https://rinews.example/foto/tol.jpg"
    assert all("image" not in m for m in messages[1:])

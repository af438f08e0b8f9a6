"""The one image downloader of the plugin API (distributor.plugin.media), against a real HTTP
server: the bytes and their type, or one clear ImageError saying why not; and never a request
to this machine, the private network or a cloud's metadata address, unless the newsroom put
that host on its allow-list (site.image_allow_hosts)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from feedserver import FeedServer, closed_port_url

from distributor.plugin.media import ImageError, download_image

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
#: the test's image server runs on this machine: allowed like a newsroom's intranet CMS
LOCAL = ["127.0.0.1"]


@pytest.fixture
def images() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


async def test_an_image_comes_with_the_type_its_bytes_show(images: FeedServer) -> None:
    # served under a wrong label, as many servers do: the bytes decide
    url = images.route("/a.png", body=PNG, content_type="application/octet-stream")

    assert await download_image(url, max_bytes=1000, timeout=5,
                                allow_hosts=LOCAL) == (PNG, "image/png")


async def test_redirects_are_followed(images: FeedServer) -> None:
    target = images.route("/b.jpg", body=JPEG, content_type="image/jpeg")
    url = images.route("/moved", redirect_to=target)

    assert await download_image(url, max_bytes=1000, timeout=5,
                                allow_hosts=LOCAL) == (JPEG, "image/jpeg")


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
        await download_image(url, max_bytes=1000, timeout=5, allow_hosts=LOCAL)


async def test_a_type_the_caller_does_not_take_is_refused(images: FeedServer) -> None:
    url = images.route("/c.png", body=PNG, content_type="image/png")

    with pytest.raises(ImageError, match=r"\(JPEG\): image/png"):
        await download_image(url, max_bytes=1000, timeout=5, accept={"image/jpeg"},
                             allow_hosts=LOCAL)


async def test_an_unreachable_server_and_a_local_path_are_errors_too() -> None:
    with pytest.raises(ImageError, match="cannot fetch it"):
        await download_image(closed_port_url("/x.png"), max_bytes=1000, timeout=5,
                             allow_hosts=LOCAL)
    with pytest.raises(ImageError, match="not an http"):
        await download_image("/etc/passwd", max_bytes=1000, timeout=5, allow_hosts=LOCAL)


@pytest.mark.parametrize(("host", "says"), [
    ("127.0.0.1", "a loopback address"),
    ("localhost", r"localhost \(\S+\): a loopback address"),  # judged after DNS
    ("[::ffff:127.0.0.1]", "a loopback address"),
    ("169.254.169.254", "a link-local address"),  # a cloud's metadata service
    ("10.1.2.3", "a private address"),
    ("192.168.0.10", "a private address"),
    ("0.0.0.0", "an unspecified address"),
], ids=["loopback", "localhost", "mapped-v6", "metadata", "ten", "home", "unspecified"])
async def test_an_address_of_this_machine_or_its_network_is_refused_before_any_request(
        images: FeedServer, host: str, says: str) -> None:
    url = images.route("/a.png", body=PNG, content_type="image/png")
    port = url.split(":")[2].split("/")[0]

    with pytest.raises(ImageError, match=rf"refused to fetch from .*{says}"):
        await download_image(f"http://{host}:{port}/a.png", max_bytes=1000, timeout=5)
    assert images.requests == []


@pytest.mark.parametrize("target", ["http://169.254.169.254/latest/meta-data/iam",
                                    "http://10.0.0.1/admin", "http://[::1]:1/x.png"])
async def test_every_redirect_hop_is_checked(images: FeedServer, target: str) -> None:
    url = images.route("/moved", redirect_to=target)

    with pytest.raises(ImageError, match="refused to fetch from"):
        await download_image(url, max_bytes=1000, timeout=5, allow_hosts=["127.0.0.1/32"])
    assert [r.path for r in images.requests] == ["/moved"]  # the first hop only


@pytest.mark.parametrize("allow", [["localhost"], ["127.0.0.0/8"], ["LOCALHOST."]])
async def test_an_intranet_host_on_the_allow_list_is_fetched(images: FeedServer,
                                                            allow: list[str]) -> None:
    url = images.route("/cms.png", body=PNG, content_type="image/png")

    assert await download_image(url.replace("127.0.0.1", "localhost"), max_bytes=1000,
                                timeout=5, allow_hosts=allow) == (PNG, "image/png")


async def test_a_chain_of_redirects_ends(images: FeedServer) -> None:
    for i in range(8):
        images.route(f"/r{i}", redirect_to=images.url(f"/r{i + 1}"))

    with pytest.raises(ImageError, match="more than 5 redirects"):
        await download_image(images.url("/r0"), max_bytes=1000, timeout=5, allow_hosts=LOCAL)

"""Subscriber pages a reader understands (issue 19.8): lists by their public names and
descriptions (never "daily" or "breaking"), several lists in one request (a confirmation mail
for each, to the real SMTP server), every error in the page's language."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from support.smtp_server import SmtpServer, email_channel_yaml

from distributor.configfile import load_config
from distributor.interfaces.web import create_app
from distributor.runtime import Runtime

DAILY = ('    title: "Kabar Pagi RI News"\n'
         '    description: "Berita terpenting setiap pagi pukul 06.00 WIB."\n')
BREAKING = ('    title: "Berita Terkini"\n'
            '    description: "Saat ada berita besar, langsung ke kotak masuk Anda."\n')


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def rt(write_config: Callable[..., Path], smtp: SmtpServer) -> Iterator[Runtime]:
    path = write_config("channels:\n" + email_channel_yaml(smtp, extra=DAILY) +
                        email_channel_yaml(smtp, name="breaking", publish="manual",
                                           extra=BREAKING))
    runtime = Runtime.open(load_config(path))
    yield runtime
    runtime.store.dispose()


@pytest.fixture
async def client(rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(rt))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8000") as c:
        yield c


def visible(html: str) -> str:
    """The page's text as a reader sees it (no tags, no attribute values)."""
    return re.sub(r"<[^>]+>", " ", html)


async def test_the_form_shows_public_names_and_descriptions_not_channel_names(
        client: httpx.AsyncClient) -> None:
    page = (await client.get("/subscribe")).text
    text = visible(page)
    assert "Kabar Pagi RI News" in text and "Berita Terkini" in text
    assert "Berita terpenting setiap pagi pukul 06.00 WIB." in text
    assert "daily" not in text and "breaking" not in text
    assert len(re.findall(r'<input type="checkbox" name="channel"', page)) == 2
    chosen = (await client.get("/subscribe?channel=breaking")).text
    assert re.search(r'value="breaking" checked', chosen)
    assert not re.search(r'value="daily" checked', chosen)


async def test_several_lists_in_one_request_each_get_their_confirmation(
        client: httpx.AsyncClient, smtp: SmtpServer) -> None:
    done = await client.post("/subscribe", data={"email": "ana@example.org",
                                                 "channel": ["daily", "breaking"]})
    assert done.status_code == 200 and "Periksa kotak masuk" in done.text
    assert smtp.recipients() == ["ana@example.org", "ana@example.org"]
    links = []
    for received in smtp.received:
        text = received.message().get_body(("plain",)).get_content()  # type: ignore[union-attr]
        found = re.search(r"http://localhost:8000(/confirm/\S+)", text)
        assert found, text
        links.append(found.group(1))
    names = set()
    for link in links:
        page = visible((await client.get(link)).text)
        names |= {n for n in ("Kabar Pagi RI News", "Berita Terkini") if n in page}
        assert "daily" not in page and "breaking" not in page
        confirmed = visible((await client.post(link)).text)
        assert "sudah berlangganan" in confirmed
    assert names == {"Kabar Pagi RI News", "Berita Terkini"}


@pytest.mark.parametrize(("data", "says"), [
    ({"email": "bukan alamat", "channel": "daily"}, "Alamat email ini tidak valid"),
    ({"email": "ana@example.org"}, "Pilih paling sedikit satu buletin"),
    ({"email": "ana@example.org", "channel": "weekly"}, "Buletin ini tidak ada"),
])
async def test_every_error_is_in_the_pages_language(
        client: httpx.AsyncClient, smtp: SmtpServer, data: dict[str, str], says: str) -> None:
    answer = await client.post("/subscribe", data=data)
    assert answer.status_code == 400
    error = re.search(r'<p class="error" role="alert">(.*?)</p>', answer.text, re.S)
    assert error and says in error.group(1)
    english = ("The email", "must", "valid email", "unknown", "newsletter", "address is")
    assert not any(word in error.group(1) for word in english), error.group(1)
    assert 'name="email"' in answer.text  # the form again, with what was typed
    assert smtp.received == []

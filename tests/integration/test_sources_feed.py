"""The feed source against a real HTTP server (tests/feedserver.py) and real files."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from feedserver import FeedServer, closed_port_url

from distributor.articles import RelatedLink
from distributor.config import FeedSourceConfig
from distributor.sources import FetchResult, SourceError, SourceState, fetch_source
from distributor.sources.feed import USER_AGENT, canonical_url, fetch_feed

EXAMPLE_FEED = Path(__file__).resolve().parents[2] / "examples" / "feed.xml"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

RSS2 = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:media="http://search.yahoo.com/mrss/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
  <title>RI News Portal</title><link>https://rinews.example/</link><language>id-ID</language>
  <item>
    <title>Harga Beras &amp;amp; Gula Naik Jelang Natal</title>
    <link>/berita/harga-beras-naik?utm_source=rss&amp;utm_medium=feed#top</link>
    <guid isPermaLink="false">rinews-0012</guid>
    <pubDate>Wed, 25 Nov 2026 10:45:00 +0700</pubDate>
    <dc:creator>Siti Rahmawati</dc:creator>
    <category>Ekonomi</category>
    <enclosure url="/foto/beras.jpg" type="image/jpeg" length="1000"/>
    <description><![CDATA[<p>Ringkasan pendek.</p>]]></description>
    <content:encoded><![CDATA[<p>RI News Portal. Jakarta &mdash; Harga beras medium naik Rp1.000
      per kilogram di pasar tradisional&nbsp;Jakarta.</p>
      <p>&#8220;Pasokan dari Karawang berkurang,&#8221; kata seorang pedagang.</p>
      <p>Baca juga: <a href="/berita/operasi-pasar">Pemerintah Gelar Operasi Pasar</a></p>
      <script>track()</script>
      <p>Pewarta: Siti Rahmawati<br>Editor: Rahmat Hidayat</p>]]></content:encoded>
  </item>
  <item>
    <title>Timnas U-23 Melaju ke Final</title>
    <link>https://rinews.example/berita/timnas-final?utm_campaign=x</link>
    <pubDate>Tue, 24 Nov 2026 20:00:00 +0700</pubDate>
    <media:content url="https://rinews.example/foto/timnas.jpg" medium="image"/>
    <description>&lt;p&gt;Bangkok - Tim nasional U-23 Indonesia melaju ke final.&lt;/p&gt;
    </description>
  </item>
</channel>
</rss>
"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
  <title>City Desk</title>
  <link href="https://city.example/"/>
  <id>urn:uuid:city-desk</id>
  <updated>2026-11-25T08:00:00Z</updated>
  <entry>
    <title type="html">Council &lt;em&gt;approves&lt;/em&gt; budget</title>
    <link rel="alternate" href="https://city.example/news/budget"/>
    <id>tag:city.example,2026:budget</id>
    <updated>2026-11-25T08:00:00Z</updated>
    <author><name>Jane Doe</name></author>
    <category term="politics"/>
    <content type="html">&lt;p&gt;The council approved the budget on Tuesday.&lt;/p&gt;
      &lt;p&gt;It was the first vote of the year.&lt;/p&gt;</content>
  </entry>
</feed>
"""

RSS1 = """<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
         xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://old.example/">
    <title>Old Portal</title><link>https://old.example/</link><description>d</description>
    <items><rdf:Seq><rdf:li resource="https://old.example/a"/></rdf:Seq></items>
  </channel>
  <item rdf:about="https://old.example/a">
    <title>Pasar Malam Dibuka Lagi</title>
    <link>https://old.example/a</link>
    <description>Pasar malam di alun-alun dibuka lagi setelah renovasi.</description>
    <dc:date>2026-11-24T19:00:00+07:00</dc:date>
    <dc:creator>Budi</dc:creator>
  </item>
</rdf:RDF>
"""

RSS091 = """<?xml version="1.0"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"
  "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91">
  <channel>
    <title>Kabar Lama</title><link>https://lama.example/</link><description>d</description>
    <language>id</language>
    <item>
      <title>Jembatan Baru Diresmikan</title>
      <link>https://lama.example/jembatan</link>
      <description>Jembatan baru di Sungai Musi diresmikan hari ini.</description>
    </item>
  </channel>
</rss>
"""


def rss_item(title: str, description: str, link: str = "https://rinews.example/a",
             extra: str = "") -> str:
    return (f"<item><title>{title}</title><link>{link}</link>{extra}"
            f"<description>{description}</description></item>")


def rss(*items: str, declaration: str = '<?xml version="1.0" encoding="utf-8"?>') -> str:
    return (f'{declaration}<rss version="2.0"><channel><title>T</title>'
            f'<link>https://rinews.example/</link>{"".join(items)}</channel></rss>')


def feed_config(url: str, **options: object) -> FeedSourceConfig:
    values: dict[str, object] = {"name": "portal", "type": "feed", "url": url,
                                 "max_age": "3650d", "timeout": "5s"}
    values.update(options)
    return FeedSourceConfig.model_validate(values)


async def fetch(url: str, state: SourceState | None = None, **options: object) -> FetchResult:
    return await fetch_feed(feed_config(url, **options), state or SourceState(),
                            site_language="id", now=NOW)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        yield running


# --------------------------------------------------------------------------- what readers see


async def test_rss2_entry_becomes_an_article_with_everything_a_reader_sees(
    server: FeedServer,
) -> None:
    url = server.route("/rss.xml", body=RSS2.encode())
    result = await fetch(url)
    assert result.problems == []
    newest = result.articles[-1]
    assert newest.source == "portal"
    assert newest.key == "rinews-0012"
    assert newest.title == "Harga Beras & Gula Naik Jelang Natal"
    assert newest.title_derived is False
    assert newest.url == server.url("/berita/harga-beras-naik?utm_source=rss&utm_medium=feed#top")
    assert newest.dateline == "Jakarta"
    assert newest.lede == ("Harga beras medium naik Rp1.000 per kilogram di pasar tradisional "
                           "Jakarta.")
    assert newest.body == ["“Pasokan dari Karawang berkurang,” kata seorang pedagang."]
    assert newest.related == [RelatedLink(title="Pemerintah Gelar Operasi Pasar",
                                          url=server.url("/berita/operasi-pasar"))]
    assert newest.author == "Siti Rahmawati"
    assert newest.editor == "Rahmat Hidayat"
    assert newest.image == server.url("/foto/beras.jpg")
    assert newest.published == datetime(2026, 11, 25, 3, 45, tzinfo=UTC)
    assert newest.tags == ["Ekonomi"]
    assert newest.language == "id"


async def test_entry_without_guid_is_keyed_by_its_link_without_tracking_parameters(
    server: FeedServer,
) -> None:
    result = await fetch(server.route("/rss.xml", body=RSS2.encode()))
    older = result.articles[0]
    assert older.key == "https://rinews.example/berita/timnas-final"
    assert older.url == "https://rinews.example/berita/timnas-final?utm_campaign=x"
    assert older.image == "https://rinews.example/foto/timnas.jpg"
    assert older.dateline == "Bangkok"
    assert older.lede == "Tim nasional U-23 Indonesia melaju ke final."


async def test_articles_come_oldest_first_and_old_ones_are_backlog(server: FeedServer) -> None:
    result = await fetch(server.route("/rss.xml", body=RSS2.encode()), max_age="12h")
    assert [a.title for a in result.articles] == [
        "Timnas U-23 Melaju ke Final", "Harga Beras & Gula Naik Jelang Natal"]
    assert [a.backlog for a in result.articles] == [True, False]


async def test_config_tags_are_added_and_config_language_wins(server: FeedServer) -> None:
    result = await fetch(server.route("/rss.xml", body=RSS2.encode()), tags=["metro", "ekonomi"],
                         language="en")
    assert result.articles[-1].tags == ["Ekonomi", "metro"]
    assert {a.language for a in result.articles} == {"en"}


async def test_a_declared_english_feed_with_indonesian_text_is_indonesian(
    server: FeedServer,
) -> None:
    body = rss(rss_item("Banjir di Bekasi", "Warga yang tinggal di bantaran sungai dan di "
                        "pesisir diminta waspada karena hujan akan turun."))
    body = body.replace("<title>T</title>", "<title>T</title><language>en-US</language>")
    [article] = (await fetch(server.route("/rss.xml", body=body.encode()))).articles
    assert article.language == "id"


async def test_an_entry_without_link_is_a_problem_and_the_others_are_read(
    server: FeedServer,
) -> None:
    body = rss("<item><title>Tanpa Tautan</title><description>Isi.</description></item>",
               rss_item("Dengan Tautan", "Isi berita.", link="https://rinews.example/b"))
    result = await fetch(server.route("/rss.xml", body=body.encode()))
    assert [a.title for a in result.articles] == ["Dengan Tautan"]
    [problem] = result.problems
    assert problem.startswith(server.url("/rss.xml") + ": entry 'Tanpa Tautan' has no link")


async def test_an_entry_without_title_gets_a_headline_from_its_lede(server: FeedServer) -> None:
    body = rss("<item><link>https://rinews.example/c</link><description>Gempa magnitudo 5,1 "
               "mengguncang Cianjur. Tidak ada korban.</description></item>")
    [article] = (await fetch(server.route("/rss.xml", body=body.encode()))).articles
    assert article.title == "Gempa magnitudo 5,1 mengguncang Cianjur"
    assert article.title_derived is True


async def test_repeated_entries_in_one_feed_give_one_article(server: FeedServer) -> None:
    item = rss_item("Sama", "Isi.", extra="<guid isPermaLink=\"false\">same-1</guid>")
    result = await fetch(server.route("/rss.xml", body=rss(item, item).encode()))
    assert [a.key for a in result.articles] == ["same-1"]
    assert result.problems == []


async def test_two_different_entries_sharing_a_guid_are_reported(server: FeedServer) -> None:
    guid = "<guid isPermaLink=\"false\">same-1</guid>"
    body = rss(rss_item("Satu", "Isi.", link="https://x.example/1", extra=guid),
               rss_item("Dua", "Isi.", link="https://x.example/2", extra=guid))
    result = await fetch(server.route("/rss.xml", body=body.encode()))
    assert [a.title for a in result.articles] == ["Satu"]
    [problem] = result.problems
    assert "entry 'Dua' has the same id as an earlier entry (same-1)" in problem


# --------------------------------------------------------------------------- feed formats


async def test_atom_feed(server: FeedServer) -> None:
    url = server.route("/atom.xml", body=ATOM.encode(), content_type="application/atom+xml")
    [article] = (await fetch(url)).articles
    assert article.key == "tag:city.example,2026:budget"
    assert article.title == "Council approves budget"
    assert article.url == "https://city.example/news/budget"
    assert article.lede == "The council approved the budget on Tuesday."
    assert article.body == ["It was the first vote of the year."]
    assert article.author == "Jane Doe"
    assert article.tags == ["politics"]
    assert article.published == datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    assert article.language == "en"


async def test_rss_1_0_rdf_feed(server: FeedServer) -> None:
    url = server.route("/rdf", body=RSS1.encode(), content_type="application/rdf+xml")
    [article] = (await fetch(url)).articles
    assert article.title == "Pasar Malam Dibuka Lagi"
    assert article.url == "https://old.example/a"
    assert article.lede == "Pasar malam di alun-alun dibuka lagi setelah renovasi."
    assert article.author == "Budi"
    assert article.published == datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


async def test_rss_0_91_feed(server: FeedServer) -> None:
    url = server.route("/091", body=RSS091.encode(), content_type="text/xml")
    [article] = (await fetch(url)).articles
    assert article.title == "Jembatan Baru Diresmikan"
    assert article.url == "https://lama.example/jembatan"
    assert article.lede == "Jembatan baru di Sungai Musi diresmikan hari ini."
    assert article.language == "id"


async def test_windows_1252_declared_feed_keeps_curly_quotes_and_accents(
    server: FeedServer,
) -> None:
    body = rss(rss_item("Caf\u00e9 \u201cRakyat\u201d Dibuka", "Warga menyambut caf\u00e9 "
                        "baru \u2014 \u201cmurah\u201d, kata mereka."),
               declaration='<?xml version="1.0" encoding="windows-1252"?>')
    url = server.route("/cp1252.xml", body=body.encode("cp1252"), content_type="application/xml")
    [article] = (await fetch(url)).articles
    assert article.title == "Caf\u00e9 \u201cRakyat\u201d Dibuka"
    assert article.lede == "Warga menyambut caf\u00e9 baru \u2014 \u201cmurah\u201d, kata mereka."


async def test_iso_8859_1_charset_from_the_content_type_header_is_used(
    server: FeedServer,
) -> None:
    body = rss(rss_item("S\u00e3o Paulo \u00e0 la carte", "Ol\u00e1 \u00e9 \u00fc \u00df."),
               declaration='<?xml version="1.0"?>')
    url = server.route("/latin1.xml", body=body.encode("latin-1"),
                       content_type="application/rss+xml; charset=iso-8859-1")
    [article] = (await fetch(url)).articles
    assert article.title == "S\u00e3o Paulo \u00e0 la carte"
    assert article.lede == "Ol\u00e1 \u00e9 \u00fc \u00df."


async def test_a_feed_mislabelled_utf_8_but_written_in_windows_1252_is_still_read(
    server: FeedServer,
) -> None:
    body = rss(rss_item("\u201cMerdeka\u201d Caf\u00e9", "Isi."))
    url = server.route("/liar.xml", body=body.encode("cp1252"))
    [article] = (await fetch(url)).articles
    assert article.title == "\u201cMerdeka\u201d Caf\u00e9"


# --------------------------------------------------------------------------- HTTP behaviour


async def test_etag_is_sent_back_and_304_means_not_modified(server: FeedServer) -> None:
    url = server.route("/rss.xml", body=RSS2.encode(), etag='"v1"')
    first = await fetch(url)
    assert first.state.etag == '"v1"' and len(first.articles) == 2
    second = await fetch(url, first.state)
    assert server.requests[-1].headers["If-None-Match"] == '"v1"'
    assert second.not_modified is True
    assert second.articles == []
    assert second.state.etag == '"v1"'


async def test_last_modified_is_sent_back_and_304_means_not_modified(
    server: FeedServer,
) -> None:
    stamp = "Wed, 25 Nov 2026 04:00:00 GMT"
    url = server.route("/rss.xml", body=RSS2.encode(), last_modified=stamp)
    first = await fetch(url)
    assert first.state.last_modified == stamp
    assert "If-Modified-Since" not in server.requests[0].headers
    second = await fetch(url, first.state)
    assert server.requests[-1].headers["If-Modified-Since"] == stamp
    assert second.not_modified is True
    assert second.state.last_modified == stamp


async def test_a_changed_feed_returns_new_validators(server: FeedServer) -> None:
    url = server.route("/rss.xml", body=RSS2.encode(), etag='"v2"')
    result = await fetch(url, SourceState(etag='"v1"'))
    assert result.not_modified is False
    assert result.state.etag == '"v2"'
    assert len(result.articles) == 2


async def test_user_agent_is_distributors_or_the_configured_one(server: FeedServer) -> None:
    url = server.route("/rss.xml", body=RSS2.encode())
    await fetch(url)
    await fetch(url, user_agent="RINewsBot/2.0")
    agents = [r.headers["User-Agent"] for r in server.requests]
    assert agents == [USER_AGENT, "RINewsBot/2.0"]
    assert USER_AGENT.startswith("distributor/")


async def test_redirects_are_followed_and_relative_links_resolve_against_the_final_url(
    server: FeedServer,
) -> None:
    body = rss(rss_item("Pindah", "Isi berita.", link="../berita/pindah"))
    server.route("/baru/rss.xml", body=body.encode())
    url = server.route("/rss", redirect_to="/baru/rss.xml")
    result = await fetch(url)
    assert [a.url for a in result.articles] == [server.url("/berita/pindah")]
    assert result.problems == []  # a temporary redirect is not worth a note


async def test_a_permanent_redirect_suggests_the_new_address(server: FeedServer) -> None:
    server.route("/feed/", body=rss(rss_item("A", "Isi.")).encode())
    url = server.route("/rss", redirect_to="/feed/", status=301)
    result = await fetch(url)
    assert len(result.articles) == 1
    assert result.problems == [f"{url}: the feed moved permanently to {server.url('/feed/')}; "
                               "put that address in url: of source 'portal'"]


async def test_a_redirect_loop_is_a_source_error_naming_max_redirects(server: FeedServer) -> None:
    server.route("/a", redirect_to="/b")
    url = server.route("/b", redirect_to="/a")
    with pytest.raises(SourceError, match=r"redirects more than 3 times.*max_redirects"):
        await fetch(url, max_redirects=3)
    assert len(server.requests) == 4  # the first request and three redirects


async def test_more_redirects_than_allowed_fail_even_without_a_loop(server: FeedServer) -> None:
    server.route("/3", body=rss(rss_item("A", "Isi.")).encode())
    server.route("/2", redirect_to="/3")
    url = server.route("/1", redirect_to="/2")
    assert len((await fetch(url, max_redirects=2)).articles) == 1
    with pytest.raises(SourceError, match="redirects more than 1 times"):
        await fetch(url, max_redirects=1)


async def test_a_huge_body_without_length_is_stopped_at_max_bytes(server: FeedServer) -> None:
    url = server.route("/huge", body=b"<rss>" + b" " * 65536, repeat=200)  # ~13 MB
    started = time.monotonic()
    with pytest.raises(SourceError) as caught:
        await fetch(url, max_bytes=100_000)
    assert str(caught.value) == (f"feed {url} is larger than 100000 bytes; raise max_bytes of "
                                 "source 'portal' if it really is that big")
    assert time.monotonic() - started < 3


async def test_a_declared_length_over_max_bytes_is_refused_before_reading(
    server: FeedServer,
) -> None:
    url = server.route("/big", body=RSS2.encode())
    with pytest.raises(SourceError, match="larger than 100 bytes; raise max_bytes"):
        await fetch(url, max_bytes=100)
    assert len((await fetch(url, max_bytes=len(RSS2.encode()))).articles) == 2


@pytest.mark.parametrize(("status", "advice"), [
    (500, "the server has a problem, the next poll tries again"),
    (503, "the next poll tries again"),
    (404, "the feed is not at this address"),
    (410, "fix url: of source 'portal'"),
    (403, "set user_agent"),
    (429, "make every: of source 'portal' longer"),
])
async def test_http_errors_are_source_errors_with_the_status(
    server: FeedServer, status: int, advice: str
) -> None:
    url = server.route("/rss.xml", status=status, body=b"oops", content_type="text/plain")
    with pytest.raises(SourceError) as caught:
        await fetch(url)
    message = str(caught.value)
    assert message.startswith(f"{url} answered HTTP {status} ")
    assert advice in message


async def test_a_slow_server_beyond_the_timeout_is_a_source_error(server: FeedServer) -> None:
    url = server.route("/slow", body=RSS2.encode(), delay=10)
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"no answer from .*/slow within 0.3 s; the next poll"):
        await fetch(url, timeout=0.3)
    assert time.monotonic() - started < 2


async def test_an_unreachable_server_is_a_source_error_saying_the_next_poll_retries() -> None:
    url = closed_port_url()
    with pytest.raises(SourceError, match=rf"^could not connect to {url}: .+; the next poll "
                                          "tries again$"):
        await fetch(url)


async def test_an_html_page_is_not_a_feed_and_the_error_names_its_feed_link(
    server: FeedServer,
) -> None:
    page = (b"<!DOCTYPE html><html><head><title>RI News</title>"
            b'<link rel="alternate" type="application/rss+xml" href="/rss.xml"></head>'
            b"<body><p>Berita</p></body></html>")
    url = server.route("/", body=page, content_type="text/html; charset=utf-8")
    with pytest.raises(SourceError) as caught:
        await fetch(url)
    assert str(caught.value) == (f"not a feed: {url} is an HTML page; the page names its feed at "
                                 f"{server.url('/rss.xml')}, put that in url:")


async def test_an_html_page_without_feed_link_says_what_to_do(server: FeedServer) -> None:
    url = server.route("/login", body=b"<html><body>Masuk</body></html>", content_type=None)
    with pytest.raises(SourceError, match=r"^not a feed: .*/login looks like an HTML page.*"
                                          r"RSS or Atom feed in url:$"):
        await fetch(url)


async def test_text_that_is_neither_rss_nor_atom_is_not_a_feed(server: FeedServer) -> None:
    url = server.route("/x", body=b"hello, world", content_type="text/plain")
    with pytest.raises(SourceError, match="is neither RSS nor Atom"):
        await fetch(url)


async def test_an_empty_document_is_not_a_feed(server: FeedServer) -> None:
    url = server.route("/empty", body=b"")
    with pytest.raises(SourceError, match="returned an empty document"):
        await fetch(url)


async def test_a_feed_with_no_items_gives_no_articles_and_no_error(server: FeedServer) -> None:
    result = await fetch(server.route("/rss.xml", body=rss().encode()))
    assert (result.articles, result.problems) == ([], [])


# --------------------------------------------------------------------------- local files


async def test_a_local_feed_file_is_read_by_path_and_by_file_url() -> None:
    by_path = await fetch(str(EXAMPLE_FEED))
    by_url = await fetch(EXAMPLE_FEED.as_uri())
    assert len(by_path.articles) == 3
    assert [a.key for a in by_path.articles] == [a.key for a in by_url.articles]
    ump = next(a for a in by_path.articles if "UMP" in a.title)
    assert ump.image == "https://rinews.example/foto/2026/11/pekerja-pabrik.jpg"
    assert ump.body == ["Menteri Ketenagakerjaan mengatakan besaran itu mempertimbangkan "
                        "inflasi, pertumbuhan ekonomi & daya beli pekerja. Serikat buruh meminta "
                        "kenaikan 8 persen."]


async def test_a_relative_feed_path_is_read_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "feeds").mkdir()
    (tmp_path / "feeds" / "rss.xml").write_text(rss(rss_item("Lokal", "Isi.")), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    [article] = (await fetch("feeds/rss.xml")).articles
    assert article.title == "Lokal"


async def test_an_unchanged_local_feed_file_is_not_modified(tmp_path: Path) -> None:
    path = tmp_path / "rss.xml"
    path.write_text(rss(rss_item("Satu", "Isi.")), encoding="utf-8")
    first = await fetch(str(path))
    assert len(first.articles) == 1
    assert (await fetch(str(path), first.state)).not_modified is True
    path.write_text(rss(rss_item("Satu", "Isi."), rss_item("Dua", "Isi.", link="https://x/2")),
                    encoding="utf-8")
    later = time.time() + 5
    os.utime(path, (later, later))
    assert len((await fetch(str(path), first.state)).articles) == 2


async def test_a_missing_local_feed_file_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist; fix url: of source 'portal'"):
        await fetch(str(tmp_path / "hilang.xml"))


async def test_fetch_source_dispatches_feed_sources(server: FeedServer) -> None:
    url = server.route("/rss.xml", body=RSS2.encode())
    result = await fetch_source(feed_config(url), SourceState(), now=NOW)
    assert len(result.articles) == 2


# --------------------------------------------------------------------------- helpers


def test_canonical_url_strips_tracking_parameters_and_fragments() -> None:
    assert canonical_url("HTTPS://RINews.example:443/a?utm_source=x&id=3&fbclid=y#top") == \
        "https://rinews.example/a?id=3"
    assert canonical_url("http://rinews.example") == "http://rinews.example/"


def test_timeouts_in_configs_are_durations() -> None:
    assert feed_config("https://x.example", timeout="0.3s").timeout == timedelta(seconds=0.3)


async def test_a_feeds_user_and_password_go_as_basic_auth_and_into_no_article_link(
        server: FeedServer) -> None:
    server.route("/private/feed.xml", body=b"""<?xml version="1.0"?>
<rss version="2.0"><channel><title>Desk</title><link>/</link>
<item><title>Banjir Jakarta</title><link>/berita/banjir</link><guid>banjir</guid>
<description>JAKARTA - Banjir menggenangi ibu kota.</description></item>
</channel></rss>""")
    url = server.url("/private/feed.xml").replace("http://", "http://reader:s3cret-pw@")
    result = await fetch(url)
    [article] = result.articles
    assert article.url == server.url("/berita/banjir")  # relative to the feed, no userinfo
    assert "s3cret" not in article.model_dump_json()
    [request] = server.requests_to("/private/feed.xml")
    assert request.headers["Authorization"] == "Basic cmVhZGVyOnMzY3JldC1wdw=="


# --------------------------------------------------------------------------- cut-off feeds

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
REAL_FEEDS = ["antara-id/rss-terkini-2015-11-05.xml", "bbc/rss-world.xml",
              "stuartsierra-blog/wordpress-feed.xml"]


def _cuts(data: bytes) -> list[int]:
    """Where a download may break off: inside each item, and right after the last one."""
    ends = [i + len(b"</item>") for i in range(len(data)) if data.startswith(b"</item>", i)]
    starts = [i for i in range(len(data)) if data.startswith(b"<item", i)]
    inside = [(s + e) // 2 for s, e in zip(starts, ends, strict=True)]
    return [*inside[1:], ends[-1] + 3]


@pytest.mark.parametrize("name", REAL_FEEDS)
async def test_a_feed_cut_off_in_a_download_gives_only_its_whole_entries_and_is_read_again(
        server: FeedServer, name: str) -> None:
    """A feed that ends before its end (a download broken off, a publisher's file still being
    written) is read leniently by feedparser, the entry it ends in half-read: that entry is
    left out (no half article is published), one line says why, and the copy's ETag is not
    kept, so the next poll reads the whole feed, not a 304."""
    data = (CORPUS / name).read_bytes()
    whole = await fetch(server.route("/whole.xml", body=data))
    ledes = {a.key: a.lede for a in whole.articles}
    for cut in _cuts(data):
        url = server.route("/feed.xml", body=data[:cut], etag='"v1"')
        result = await fetch(url)
        complete = data[:cut].count(b"</item>")
        assert len(result.articles) == complete, (name, cut)
        assert {a.key: a.lede for a in result.articles}.items() <= ledes.items()
        [problem] = result.problems
        assert "ends before its end" in problem and url in problem
        assert result.state.etag is None
        server.route("/feed.xml", body=data, etag='"v1"')
        again = await fetch(url, result.state)
        assert not again.not_modified and len(again.articles) == len(whole.articles)


async def test_a_whole_feed_with_a_comment_after_its_end_is_not_taken_for_a_cut_one(
        server: FeedServer) -> None:
    # (a long one: some cache plugins write kilobytes of statistics after the feed)
    body = rss(rss_item("Satu", "Isi &undefined; satu.")) + \
        f"\n<!-- cached page, 0.2 s {'statistik ' * 800}-->\n"
    result = await fetch(server.route("/rss.xml", body=body.encode(), etag='"v1"'))
    assert len(result.articles) == 1 and result.problems == []
    assert result.state.etag == '"v1"'

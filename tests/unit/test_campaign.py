"""Campaign tags on article links (pure): tracking parameters stripped, the channel's UTM
parameters added, the rest of the query and the fragment kept."""

from __future__ import annotations

from datetime import UTC, datetime

from distributor.articles import Article
from distributor.config import ChannelConfig, SiteConfig, UtmConfig
from distributor.render.campaign import campaign_article, tag_url
from distributor.render.context import RenderContext

SITE = SiteConfig(name="RI News Portal", url="https://rinews.example", timezone="Asia/Jakarta")


def test_the_default_strips_utm_fbclid_and_gclid_and_keeps_the_rest() -> None:
    url = "https://rinews.example/b/1?id=3&utm_source=rss&fbclid=abc&UTM_Medium=x&gclid=g#top"
    assert tag_url(url, strip=["utm_*", "fbclid", "gclid"]) == \
        "https://rinews.example/b/1?id=3#top"


def test_utm_is_added_after_an_existing_query_and_replaces_an_old_value() -> None:
    url = "https://rinews.example/b/1?page=2&utm_source=old"
    assert tag_url(url, utm={"source": "telegram", "medium": "social"}) == \
        "https://rinews.example/b/1?page=2&utm_source=telegram&utm_medium=social"


def test_a_link_that_is_not_http_stays_as_it_is() -> None:
    assert tag_url("mailto:redaksi@rinews.example?utm_source=x", strip=["utm_*"]) == \
        "mailto:redaksi@rinews.example?utm_source=x"


def test_values_use_channel_date_in_the_site_timezone_and_slug() -> None:
    channel = ChannelConfig(name="tg", type="telegram", utm=UtmConfig(
        source="{channel}", medium="social", campaign="{date}-{slug}"))
    ctx = RenderContext(site=SITE, channel=channel, web=None, templates=None,  # type: ignore[arg-type]
                        now=datetime(2026, 12, 3, 20, 0, tzinfo=UTC))  # 4 December in Jakarta
    article = Article(source="t", key="1", url="https://rinews.example/b/1?utm_source=rss",
                      title="Banjir Rendam Bandung")
    tagged = campaign_article(article, ctx)
    assert tagged.url == ("https://rinews.example/b/1?utm_source=tg&utm_medium=social"
                          "&utm_campaign=2026-12-04-banjir-rendam-bandung")
    assert article.url.endswith("utm_source=rss")  # the stored article is not changed


def test_strip_params_can_be_turned_off() -> None:
    channel = ChannelConfig(name="raw", type="outbox", strip_params=[])
    ctx = RenderContext(site=SITE, channel=channel, web=None, templates=None)  # type: ignore[arg-type]
    article = Article(source="t", key="1", url="https://rinews.example/b/1?utm_source=rss",
                      title="x")
    assert campaign_article(article, ctx).url == article.url

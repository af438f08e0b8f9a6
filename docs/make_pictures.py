"""Make the README's pictures: the demo digest (light and dark) and a Telegram post preview.

    .venv/bin/python docs/make_pictures.py          # needs chromium (apt-get install chromium)

The demo articles (examples/articles and examples/feed.xml) are rendered exactly as
``distributor run --dry-run`` renders them. Their photos live on rinews.example, which does not
exist, so for the pictures only each photo is replaced by a local placeholder drawing. The
Telegram picture is a mock of a channel: the rendered post's HTML (the very text sent to the
Bot API) in a chat bubble, with the link preview Telegram adds for ``sendMessage``.
"""

from __future__ import annotations

import asyncio
import html
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr

from distributor.articles import Article
from distributor.channels.email.adapter import EmailConfig
from distributor.channels.email.personal import personalize
from distributor.channels.email.render import render_digest_email
from distributor.channels.telegram.adapter import TelegramConfig
from distributor.channels.telegram.render import render_telegram
from distributor.config import FeedSourceConfig, SiteConfig, WebConfig
from distributor.render import Templates
from distributor.render.context import RenderContext
from distributor.sources import SourceState
from distributor.sources.directory import load_article_file
from distributor.sources.feed import fetch_feed

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
NOW = datetime(2026, 11, 25, 23, 0, tzinfo=UTC)  # 06:00 in Jakarta: the digest's hour
SITE = SiteConfig(name="RI News Portal", url="https://rinews.example", language="id",
                  timezone="Asia/Jakarta")
PALETTES = [("#35627f", "#9cc3d5"), ("#7a4b2a", "#e0b27c"), ("#3d6b45", "#a9d18e"),
            ("#5b4a7a", "#c2b0e0"), ("#7a2f3a", "#e39aa5")]


def demo_articles() -> list[Article]:
    articles = [load_article_file(path, source="newsroom", now=NOW,
                                  url_template="https://rinews.example/berita/{slug}")
                for path in sorted((ROOT / "examples/articles").iterdir())]
    feed = FeedSourceConfig(name="portal", type="feed", url=str(ROOT / "examples/feed.xml"),
                            max_age="36500d")  # type: ignore[arg-type]
    articles += asyncio.run(fetch_feed(feed, SourceState(), site_language="id", now=NOW)).articles
    return sorted(articles, key=lambda a: a.published or NOW, reverse=True)


def placeholder(folder: Path, index: int) -> str:
    """A landscape drawing standing in for a press photo."""
    dark, light = PALETTES[index % len(PALETTES)]
    name = f"photo{index}.svg"
    (folder / name).write_text(f"""\
<svg xmlns="http://www.w3.org/2000/svg" width="1072" height="600" viewBox="0 0 1072 600">
<defs><linearGradient id="g" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="{light}"/>
<stop offset="1" stop-color="{dark}"/></linearGradient></defs>
<rect width="1072" height="600" fill="url(#g)"/>
<circle cx="800" cy="170" r="70" fill="#fff" opacity=".45"/>
<path d="M0 600 L260 300 L420 450 L600 250 L860 520 L1072 380 L1072 600 Z" fill="#fff"
 opacity=".22"/>
<path d="M0 600 L180 430 L380 560 L640 400 L1072 600 Z" fill="#000" opacity=".15"/>
<text x="40" y="565" font-family="Arial, sans-serif" font-size="26" fill="#fff"
 opacity=".8">Foto ilustrasi</text></svg>""", encoding="utf-8")
    return name


def digest_page(articles: list[Article], photos: dict[str, str]) -> str:
    channel = EmailConfig.model_validate({"name": "daily", "smtp": {"host": "localhost"},
                                          "from": "RI News Portal <redaksi@rinews.example>"})
    ctx = RenderContext(site=SITE, channel=channel, web=WebConfig(base_url=SITE.url),
                        templates=Templates(), now=NOW)
    [mail] = render_digest_email(articles, ctx)
    page = str(personalize(mail, recipient="pembaca@example.org",
                           unsubscribe_token="contoh")["html"])
    for url, name in photos.items():
        page = page.replace(html.escape(url), name)
    return page


TELEGRAM_STYLE = """
:root { --bg: #9bbb8f; --bubble: #fff; --text: #000; --link: #168acd; --meta: #8c9a8a;
        --bar: #fff; --preview: #f1f7fc; }
@media (prefers-color-scheme: dark) { :root { --bg: #0e1621; --bubble: #182533;
  --text: #f5f5f5; --link: #6ab3f3; --meta: #6d7f8f; --bar: #17212b; --preview: #1f3144; } }
body { margin: 0; background: var(--bg); color: var(--text);
       font: 15px/1.38 -apple-system, "Segoe UI", Roboto, "Noto Sans", Arial, sans-serif; }
.bar { background: var(--bar); padding: 10px 16px; display: flex; align-items: center;
       gap: 12px; box-shadow: 0 1px 2px rgba(0,0,0,.15); }
.avatar { width: 40px; height: 40px; border-radius: 50%; background: #b3121f; color: #fff;
          font-weight: bold; display: flex; align-items: center; justify-content: center; }
.bar b { display: block; } .bar span { font-size: 13px; color: var(--meta); }
.feed { padding: 16px 12px 24px; display: flex; flex-direction: column; gap: 12px; }
.msg { background: var(--bubble); border-radius: 12px; max-width: 470px; overflow: hidden;
       box-shadow: 0 1px 1px rgba(0,0,0,.12); }
.photo { display: block; width: 100%; }
.inner { padding: 8px 12px 6px; }
.inner a { color: var(--link); text-decoration: none; }
.preview { margin-top: 8px; border-left: 3px solid var(--link); background: var(--preview);
           border-radius: 4px; padding: 6px 10px 8px; font-size: 14px; }
.preview .site { color: var(--link); font-weight: 600; } .preview .title { font-weight: 600; }
.preview img { display: block; width: 100%; border-radius: 6px; margin-top: 6px; }
.meta { text-align: right; color: var(--meta); font-size: 12px; margin-top: 2px; }
"""


def telegram_bubble(article: Article, photos: dict[str, str], time: str, views: str) -> str:
    channel = TelegramConfig(name="telegram", chat_id="@rinewsportal", token=SecretStr("x"))
    ctx = RenderContext(site=SITE, channel=channel, web=WebConfig(), templates=Templates(),
                        now=NOW)
    [message] = render_telegram(article, ctx)
    post = str(message.get("caption") or message.get("text") or "").replace("\n", "<br>")
    media = preview = ""
    if message["method"] == "sendPhoto":
        media = f'<img class="photo" src="{photos[message["photo"]]}" alt="">'
    else:  # the preview Telegram shows for the article's page (its og: tags)
        description = " ".join(article.lede.split())[:150] + "…"
        image = f'<img src="{photos[article.image]}" alt="">' if article.image in photos else ""
        preview = (f'<div class="preview"><div class="site">{html.escape(SITE.name)}</div>'
                   f'<div class="title">{html.escape(article.title)}</div>'
                   f"<div>{html.escape(description)}</div>{image}</div>")
    return (f'<div class="msg">{media}<div class="inner">{post}{preview}'
            f'<div class="meta">👁 {views} · {time}</div></div></div>')


def telegram_page(articles: list[Article], photos: dict[str, str]) -> str:
    derived = next(a for a in articles if a.title_derived)  # the portal's sample
    with_photo = next(a for a in articles if a.image and not a.title_derived)
    bubbles = (telegram_bubble(derived, photos, "06.05", "1,2K")
               + telegram_bubble(with_photo, photos, "06.20", "2,4K"))
    return (f'<!DOCTYPE html><html lang="id"><head><meta charset="utf-8">'
            f"<style>{TELEGRAM_STYLE}</style></head><body>"
            f'<div class="bar"><div class="avatar">RI</div><div><b>{SITE.name}</b>'
            f"<span>12.480 pelanggan</span></div></div>"
            f'<div class="feed">{bubbles}</div></body></html>')


def screenshot(page: Path, png: Path, width: int, height: int, *, dark: bool = False) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("chromium is needed: apt-get install -y chromium")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}",
            *(["--force-dark-mode"] if dark else []),
            f"--screenshot={png}", f"--window-size={width},{height}", page.as_uri(),
        ], check=True, capture_output=True, timeout=120)
    print(f"{png.relative_to(ROOT)}: {png.stat().st_size // 1024} KB")


def main() -> None:
    articles = demo_articles()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        photos = {article.image: placeholder(folder, index)
                  for index, article in enumerate(a for a in articles if a.image)
                  if article.image}
        (folder / "digest.html").write_text(digest_page(articles, photos), encoding="utf-8")
        (folder / "telegram.html").write_text(telegram_page(articles, photos),
                                              encoding="utf-8")
        screenshot(folder / "digest.html", DOCS / "digest.png", 680, 2960)
        screenshot(folder / "digest.html", DOCS / "digest-dark.png", 680, 1000, dark=True)
        screenshot(folder / "telegram.html", DOCS / "telegram.png", 500, 1000)


if __name__ == "__main__":
    main()

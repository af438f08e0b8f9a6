"""The public plugin API (distributor.plugin, docs/plugins.md), without I/O: what it exports,
the contexts, the in-memory state store, the digest protocol's default, capabilities, and the
registry's checks of a channel class."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import ValidationError

import distributor.plugin as api
from distributor.plugin import (
    API_VERSION,
    Article,
    Channel,
    ChannelConfig,
    DigestChannelConfig,
    MemoryState,
    Message,
    RenderContext,
    SendContext,
    SiteConfig,
    capabilities,
    sends_digests,
)
from distributor.plugin.testing import digest_context, send_context
from distributor.registry import PluginError, check_channel_class

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK = ROOT / "examples" / "plugins" / "distributor-webhook"


class ChatConfig(DigestChannelConfig):
    type: Literal["chat"] = "chat"


class Chat(Channel):
    """A chat channel: one message per article, and a digest as one message per article."""

    type_name = "chat"
    config_model = ChatConfig

    def __init__(self, config: ChannelConfig):
        super().__init__(config)
        self.sent: list[tuple[Message, SendContext]] = []

    def render(self, article: Article, ctx: RenderContext) -> list[Message]:
        return [{"text": article.title}]

    def render_digest(self, articles: list[Article], ctx: RenderContext) -> list[Message]:
        return [{"text": a.title} for a in articles]

    async def send(self, message: Message, ctx: SendContext) -> str:
        self.sent.append((message, ctx))
        return f"r{len(self.sent)}"


class Plain(Channel):
    type_name = "plain"

    def render(self, article: Article, ctx: RenderContext) -> list[Message]:
        return [{"text": article.title}]

    async def send(self, message: Message, ctx: SendContext) -> str:
        return "1"


def chat() -> Chat:
    return Chat(ChatConfig(name="room", type="chat"))


def test_every_public_name_is_exported_and_the_version_is_major_minor() -> None:
    for name in api.__all__:
        assert getattr(api, name) is not None, name
    assert re.fullmatch(r"\d+\.\d+", API_VERSION)
    assert api.Adapter is api.Channel  # the built-ins' old name still works


def test_send_context_names_the_previous_post_of_a_thread() -> None:
    first = send_context("x")
    assert first.previous_id is None and first.part == 0
    third = send_context("x", remote_ids=["11", "12"])
    assert third.previous_id == "12" and third.part == 2 and third.parts == 3
    assert third.idempotency_key != first.idempotency_key


def test_the_memory_state_keeps_json_values_and_updates_atomically() -> None:
    state = MemoryState()
    assert state.get("missing", 7) == 7
    state.put("cursor", {"since": "2026-12-01", "ids": [1, 2]})
    value = state.get("cursor")
    value["ids"].append(3)  # a copy: the store is not changed behind its back
    assert state.get("cursor") == {"since": "2026-12-01", "ids": [1, 2]}
    assert state.update("count", lambda n: n + 1, default=0) == 1
    assert state.update("count", lambda n: n + 1, default=0) == 2
    assert state.keys() == ["count", "cursor"] and state.keys("cou") == ["count"]
    assert state.delete("count") and not state.delete("count")
    with pytest.raises(TypeError, match="JSON"):
        state.put("when", object())
    with pytest.raises(ValueError, match="non-empty string"):
        state.put("", 1)

    def boom(_: Any) -> Any:
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        state.update("cursor", boom)
    assert state.get("cursor") == {"since": "2026-12-01", "ids": [1, 2]}


async def test_the_default_send_digest_posts_through_send_and_records_each_part() -> None:
    channel = chat()
    articles = [Article(source="t", key=str(i), url=f"https://rinews.example/{i}",
                        title=f"Berita {i}") for i in range(3)]
    recorded: list[list[str]] = []
    progress: list[tuple[int, int]] = []
    ctx = digest_context("room", articles, digest_id=9)
    ctx.on_record, ctx.on_progress = recorded.append, lambda d, t: progress.append((d, t))
    messages = channel.render_digest(articles, None)  # type: ignore[arg-type]
    assert await channel.send_digest(messages, ctx) == "r1"
    assert [m["text"] for m, _ in channel.sent] == ["Berita 0", "Berita 1", "Berita 2"]
    assert [c.previous_id for _, c in channel.sent] == [None, "r1", "r2"]
    assert [c.digest_id for _, c in channel.sent] == [9, 9, 9]
    assert len({c.idempotency_key for _, c in channel.sent}) == 3
    assert recorded[-1] == ["r1", "r2", "r3"] and progress[-1] == (3, 3)


async def test_a_resumed_digest_posts_only_the_parts_not_yet_posted() -> None:
    channel = chat()
    ctx = digest_context("room", digest_id=4, remote_ids=["earlier-1"])
    messages = [{"text": "a"}, {"text": "b"}]
    await channel.send_digest(messages, ctx)
    assert [m["text"] for m, _ in channel.sent] == ["b"]
    (_, part), = channel.sent
    assert part.part == 1 and part.previous_id == "earlier-1"
    assert part.idempotency_key == digest_context("room", digest_id=4).send_context(
        1, 2).idempotency_key  # the same key for the same part, whichever attempt
    assert ctx.remote_ids == ["earlier-1", "r1"]


def test_digests_and_other_capabilities_are_found_on_the_class() -> None:
    assert sends_digests(Chat) and sends_digests(chat())
    assert not sends_digests(Plain) and not Plain(ChannelConfig(name="p", type="plain")) \
        .supports_digest
    assert capabilities(Chat) == {"digest"}
    from distributor.channels.outbox import OutboxAdapter

    wrapped = OutboxAdapter(ChannelConfig(name="p", type="plain"),
                            wraps=Plain(ChannelConfig(name="p", type="plain")))
    assert not sends_digests(wrapped)  # a dry run's outbox can do what its channel can
    assert "reconcile" in capabilities(OutboxAdapter) and sends_digests(OutboxAdapter)


def test_a_digest_channel_needs_a_schedule_and_a_valid_cron() -> None:
    site = SiteConfig(name="RI", url="https://rinews.example")
    config = ChatConfig(name="room", type="chat", publish="digest")
    assert [key for key, _ in config.check_with_site(site)] == [("publish",)]
    assert list(ChatConfig(name="room", type="chat", publish="digest",
                           schedule="0 6 * * *").check_with_site(site)) == []
    with pytest.raises(ValidationError, match="hour"):
        ChatConfig(name="room", type="chat", schedule="0 25 * * *")


def test_the_registry_refuses_a_channel_it_cannot_drive() -> None:
    assert check_channel_class(Chat, "chat") is Chat
    with pytest.raises(PluginError, match=r"not a distributor\.plugin\.Channel"):
        check_channel_class(object, "thing")

    class Old(Plain):
        async def send(self, message: Message, *, previous_id: str | None = None) -> str:
            return "1"

    with pytest.raises(PluginError, match=r"send\(\) must take \(message, ctx\)"):
        check_channel_class(Old, "old")

    class Future(Plain):
        api_version = "2.0"

    with pytest.raises(PluginError, match=r"written for plugin API 2\.0"):
        check_channel_class(Future, "future")

    class Newer(Plain):  # a minor release ahead: it may call what this one lacks
        api_version = f"{API_VERSION.split('.')[0]}.{int(API_VERSION.split('.')[1]) + 1}"

    with pytest.raises(PluginError, match=r"needs plugin API 1\.\d+; .* upgrade distributor"):
        check_channel_class(Newer, "newer")

    class Older(Plain):  # an older minor of the same major: still served
        api_version = "1.0"

    assert check_channel_class(Older, "older") is Older


def test_the_webhook_example_imports_nothing_of_distributor_but_the_plugin_api() -> None:
    sources = list(WEBHOOK.rglob("*.py"))
    assert sources
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                if name.split(".")[0] == "distributor":
                    assert name == "distributor.plugin", f"{path.name} imports {name}"
    assert 'webhook = "distributor_webhook:WebhookChannel"' in (
        WEBHOOK / "pyproject.toml").read_text()


def test_the_minimal_channel_of_docs_plugins_md_is_a_channel_the_core_takes() -> None:
    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(# mychat/__init__.py\n.*?)```", text, re.DOTALL)
    assert code is not None
    assert len(code.group(1).splitlines()) <= 50
    namespace: dict[str, Any] = {}
    exec(compile(code.group(1), "docs/plugins.md", "exec", dont_inherit=True), namespace)
    cls = check_channel_class(namespace["ChatChannel"], "docs/plugins.md")
    config = cls.config_model.model_validate({"name": "room", "type": "chat",
                                              "url": "https://chat.example/api/post",
                                              "token": "t0ken", "publish": "digest",
                                              "schedule": "0 6 * * *"})
    channel = cls(config)
    article = Article(source="t", key="1", url="https://rinews.example/1", title="Berita")
    assert channel.render(article, None) == [  # type: ignore[arg-type]
        {"text": "Berita\nhttps://rinews.example/1"}]
    assert sends_digests(cls) and capabilities(cls) == {"digest"}
    undocumented = {n for n in api.__all__ if not re.search(rf"`(\w+\.)*{n}\b", text)}
    assert undocumented == set()  # docs/plugins.md names every public name

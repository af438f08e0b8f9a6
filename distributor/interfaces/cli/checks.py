"""What ``distributor check`` finds in a configuration that loaded: settings that cannot work
together though every key is valid (errors), and files a source reads that are not there
(yet) (warnings). Each is a :class:`ConfigError` at the line of the key it is about, like the
mistakes the parser finds: ``FILE:LINE: key: what to do``. A key the file does not write is
placed at its nearest enclosing key the file writes (``web:`` for a missing
``web.secret_key``), and at the file alone when it writes none of them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from distributor.values import ConfigError, KeyPath, format_key

if TYPE_CHECKING:
    from distributor.config import ChannelConfig, Config


def at(config: Config, key: KeyPath, message: str, *, shown: str | None = None) -> ConfigError:
    """A problem of ``key`` (a path: ``"channels", 0, "editor_bot"``) at its line in the file
    (:meth:`Config.line`); ``shown``: the key as the line names it, when not ``key`` itself."""
    return ConfigError(str(config.path or "the configuration file"), config.line(*key),
                       format_key(key) if shown is None else shown, message)


def setup_problems(config: Config) -> list[ConfigError]:
    """What the configuration says that cannot work, though every key is valid; by line."""
    from distributor.interfaces.cli.workers import check_lines

    problems = [_execution(config, line) for line in check_lines(config)]
    needs_secret = [c.name for c in config.channels if c.enabled and _is_list_channel(c)]
    webhook = [(index, c.name) for index, c in enumerate(config.channels)
               if getattr(c, "editor_bot", None) == "webhook" and getattr(c, "editors", None)]
    secret = config.web.secret_key
    why = (f"channel {needs_secret[0]} sends to subscribers, whose confirmation and "
           "unsubscribe links are signed with it" if needs_secret else
           f"channel {webhook[0][1]}'s editor bot takes Telegram's updates through "
           "`distributor serve`, which does not start without it" if webhook else "")
    if why and not (secret is not None and secret.get_secret_value()):
        add = ("add `secret_key: ${DISTRIBUTOR_SECRET_KEY}` under web:"
               if config.line("web") is not None else
               "add a `web:` section with `secret_key: ${DISTRIBUTOR_SECRET_KEY}` under it")
        if secret is not None:  # written, but empty (an empty ${VAR:-} default)
            add = "write `secret_key: ${DISTRIBUTOR_SECRET_KEY}` under web:"
        problems.append(at(config, ("web", "secret_key"), (
            f"{'empty' if secret is not None else 'not set'}, but {why}; {add} and export "
            "DISTRIBUTOR_SECRET_KEY")))
    if webhook and not config.web.base_url.startswith("https://"):
        index, name = webhook[0]
        problems.append(at(config, ("channels", index, "editor_bot"), (
            f"channel {name}: webhook needs an https:// web.base_url that Telegram can reach "
            f"(it is {config.web.base_url}{_written_at(config, 'web', 'base_url')})")))
    problems.extend(template_problems(config))
    return sorted(problems, key=lambda e: e.line or 0)


def template_problems(config: Config) -> list[ConfigError]:
    """A ``templates:`` folder that is not there; a template of it that Jinja cannot compile
    (its file and line); a channel's ``template:`` that names no template. Looked up and
    compiled through the renderers' own :class:`~distributor.render.Templates`, so what
    passes here renders."""
    from distributor.render.problems import folder_problems, missing_template
    from distributor.render.templates import Templates

    try:
        templates = Templates(config.templates)
    except FileNotFoundError:
        return [at(config, ("templates",), f"the folder {config.templates} does not exist; "
                   "create it or fix `templates:`")]
    found = [at(config, ("templates",), f"{p.where}: {p.what}")
             for p in folder_problems(templates)]
    for index, channel in enumerate(config.channels):
        named = getattr(channel, "template", None)
        if not isinstance(named, str) or not named.strip():
            continue
        kind = "digest" if channel.publish == "digest" else "article"
        missing = missing_template(templates, named.strip().replace("{kind}", kind))
        if missing is not None:
            found.append(at(config, ("channels", index, "template"),
                            f"channel {channel.name}: {missing}"))
    return found


def _execution(config: Config, problem: str) -> ConfigError:
    """A problem of ``execution: distributed`` (the engine's line: ``execution: ...``) at the
    line of ``execution:``."""
    head = "execution: "
    if problem.startswith(head):
        return at(config, ("execution",), problem.removeprefix(head))
    return at(config, ("execution",), problem, shown="")


def _written_at(config: Config, *key: str) -> str:
    """`` at line N`` when the file writes this very key (not only a section around it)."""
    line = config.line(*key)
    return f" at line {line}" if line is not None and config.line(*key[:-1]) != line else ""


def _is_list_channel(channel: ChannelConfig) -> bool:
    """A list channel (the plugin API's ``audience = True``) sends to the core's subscribers,
    whose confirmation and unsubscribe links the core signs with web.secret_key."""
    from distributor.plugin import is_list_channel
    from distributor.registry import PluginError, get_adapter_class

    try:
        return is_list_channel(get_adapter_class(channel.type))
    except (KeyError, PluginError):
        return False  # reported where the type is looked up


def missing_files(config: Config) -> list[ConfigError]:
    """Warnings for what a source reads that is not there (yet): an article folder, a local
    feed file; each with the file and line of its key."""
    from distributor.config import DirectorySourceConfig, FeedSourceConfig

    found = []
    for index, source in enumerate(config.sources):
        if isinstance(source, DirectorySourceConfig) and not source.path.is_dir():
            found.append(at(config, ("sources", index, "path"), f"source {source.name}: the "
                            f"folder {source.path} does not exist (yet); create it or fix `path:`"))
        elif isinstance(source, FeedSourceConfig):
            local = _local_feed(source.url)
            if local is not None and not local.exists():
                found.append(at(config, ("sources", index, "url"), f"source {source.name}: the "
                                f"feed file {local} does not exist (yet); create it or fix `url:`"))
    return found


def _local_feed(url: str) -> Path | None:
    """The file of a feed read from a local path (``feed.xml``, ``file:///...``), else None
    (as the feed source reads it)."""
    if url.lower().startswith("file:"):
        from urllib.parse import unquote, urlsplit
        from urllib.request import url2pathname

        return Path(url2pathname(unquote(urlsplit(url).path)))
    return None if "://" in url else Path(url).expanduser()

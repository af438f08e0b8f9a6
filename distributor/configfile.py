"""Reading channels.yaml: ${ENV} interpolation, YAML with line numbers, validation into the
models of :mod:`distributor.config`, errors that name the file and line."""
from __future__ import annotations

import difflib
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, SecretStr, ValidationError

from distributor.config import (
    DEFAULT_CONFIG,
    SOURCE_TYPES,
    ChannelConfig,
    Config,
    ConfigError,
    ConfigErrors,
    DirectorySourceConfig,
    FeedSourceConfig,
    known_keys,
    nearest_line,
)
from distributor.values import format_key, interpolate, is_secret_key, secrets_in_file

Path_ = tuple[str | int, ...]


@dataclass
class _Loaded:
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    errors: list[ConfigError] = field(default_factory=list)
    missing: dict[Path_, list[str]] = field(default_factory=dict)
    raw: dict[Path_, Any] = field(default_factory=dict)  # each scalar as the file writes it


# --------------------------------------------------------------------------- YAML with lines
#: a configuration is small: more values than this is an alias bomb, not a newsroom's setup
MAX_VALUES = 10_000
MAX_DEPTH = 40


class _TooBig(Exception):
    def __init__(self, line: int):
        super().__init__(line)
        self.line = line


#: libyaml's parser when PyYAML was built with it (the wheels are): the same nodes and line
#: marks, several times faster than the pure-Python one
_FAST_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _compose(text: str) -> Any:
    """The file's node tree. A file that does not parse is parsed again by the pure-Python
    parser, whose error names what it found (a tab, an alias's name) where libyaml's doesn't."""
    try:
        return yaml.compose(text, Loader=_FAST_LOADER)
    except yaml.YAMLError:
        return yaml.compose(text, Loader=yaml.SafeLoader)


def _load_yaml(text: str, file: str, env: dict[str, str]) -> _Loaded:
    loaded = _Loaded(data=None)
    try:
        root = _compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())  # one line
        loaded.errors.append(
            ConfigError(file, line, "", f"this is not valid YAML: {problem}; check the indentation "
                        "and quote values that contain ': ' or start with a special character")
        )
        return loaded
    constructor = yaml.SafeLoader("")
    budget = [MAX_VALUES]
    at = [0]  # the line being read, for a value that cannot be constructed

    def convert(node: yaml.Node, path: Path_) -> Any:
        at[0] = node.start_mark.line + 1
        budget[0] -= 1
        if budget[0] < 0 or len(path) > MAX_DEPTH:
            raise _TooBig(node.start_mark.line + 1)
        loaded.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = constructor.construct_object(key_node)
                if not isinstance(key, str):
                    key = str(key)
                if key in result:
                    loaded.errors.append(ConfigError(
                        file, key_node.start_mark.line + 1, format_key((*path, key)),
                        "this key appears twice in the same block; keep one"))
                child = (*path, key)
                result[key] = convert(value_node, child)
                loaded.lines[child] = key_node.start_mark.line + 1
            return result
        if isinstance(node, yaml.SequenceNode):
            return [convert(item, (*path, i)) for i, item in enumerate(node.value)]
        value = loaded.raw[path] = constructor.construct_object(node)
        if isinstance(value, str) and "${" in value:
            value, missing = interpolate(value, env)
            if missing:
                loaded.missing[path] = missing
        return value

    try:
        loaded.data = convert(root, ()) if root is not None else {}
    except _TooBig as exc:
        loaded.errors.append(ConfigError(
            file, exc.line, "", f"this file expands to more than {MAX_VALUES:,} values or nests "
            f"deeper than {MAX_DEPTH} levels (YAML aliases that repeat each other?); write the "
            "values out instead"))
        loaded.data = None
    except (yaml.YAMLError, ValueError, TypeError) as exc:  # an unknown !tag, a bad date
        mark = getattr(exc, "problem_mark", None)
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        loaded.errors.append(ConfigError(
            file, mark.line + 1 if mark is not None else at[0] or None, "",
            f"this value cannot be read ({problem}); quote it, or remove the '!' tag"))
        loaded.data = None
    return loaded


# --------------------------------------------------------------------------- validation


def _line_for(lines: dict[Path_, int], path: Path_) -> int | None:
    """:func:`nearest_line`, else the line of the document itself."""
    line = nearest_line(lines, path)
    return line if line is not None else lines.get(())


def _pydantic_errors(
    exc: ValidationError, model: type[BaseModel], prefix: Path_, file: str,
    lines: dict[Path_, int],
) -> list[ConfigError]:
    out: list[ConfigError] = []
    errors = exc.errors()
    missing: dict[tuple[Any, ...], list[str]] = {}  # the required keys missing in each block
    for err in errors:
        if err["type"] == "missing" and err["loc"]:
            missing.setdefault(tuple(err["loc"][:-1]), []).append(str(err["loc"][-1]))

    def meant(loc: tuple[Any, ...]) -> list[str]:  # what an unknown key is a typo of, if any
        return (difflib.get_close_matches(str(loc[-1]), missing.get(loc[:-1], []), n=1)
                or difflib.get_close_matches(str(loc[-1]), known_keys(model, loc[:-1]), n=1))

    # a required key written with a typo: the unknown key's error says it all (one typo, one line)
    misspelt = {(*err["loc"][:-1], hint) for err in errors
                if err["type"] == "extra_forbidden" and err["loc"]
                for hint in meant(tuple(err["loc"]))}
    for err in errors:
        raw_loc = tuple(err["loc"])
        loc = tuple(p for p in raw_loc if not (isinstance(p, str) and p in SOURCE_TYPES))
        path = (*prefix, *loc)
        kind = err["type"]
        if kind == "extra_forbidden":
            name = str(loc[-1]) if loc else "?"
            known = known_keys(model, raw_loc[:-1])
            hint = meant(raw_loc) if raw_loc else []
            suggestion = f" Did you mean {hint[0]!r}?" if hint else ""
            message = (f"unknown key {name!r}.{suggestion} Known keys here: "
                       f"{', '.join(sorted(known))}.")
        elif kind == "missing":
            if raw_loc in misspelt:
                continue
            message = f"required key {loc[-1]!r} is missing; add it"
        elif kind == "union_tag_invalid":
            expected = err["msg"].split("does not match any of the expected tags: ")[-1]
            message = f"unknown type; expected one of {expected}"
            path = (*path, "type")
        else:
            msg = err["msg"]
            msg = msg.removeprefix("Value error, ")
            message = msg[0].lower() + msg[1:] if msg else kind
            if "input" in err and not isinstance(err["input"], dict) and \
                    repr(err["input"]) not in message:
                shown = err["input"]
                secret = is_secret_key(model, loc) or path == ("database",) or any(
                    word in str(path).lower() for word in ("secret", "token", "password"))
                if not isinstance(shown, list) and not secret:  # a secret's value: never shown
                    message += f" (got {shown!r})"
        out.append(ConfigError(file, _line_for(lines, path), format_key(path), message))
    return out


def _iter_channel_items(data: dict[str, Any]) -> Iterator[tuple[int, Any]]:
    channels = data.get("channels")
    if isinstance(channels, list):
        yield from enumerate(channels)


def resolve_config_path(path: str | os.PathLike[str] | None) -> Path:
    if path:
        return Path(path)
    env = os.environ.get("DISTRIBUTOR_CONFIG")
    return Path(env) if env else Path(DEFAULT_CONFIG)


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    dry_run: bool = False,
    env: dict[str, str] | None = None,
) -> Config:
    """Read, interpolate and validate a channels.yaml. Raises :class:`ConfigErrors`."""
    from distributor.registry import PluginError, adapter_types, get_adapter_class

    file_path = resolve_config_path(path)
    file = str(file_path)
    try:
        text = file_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigErrors([ConfigError(
            file, None, "", "no such configuration file; pass --config PATH, set "
            "DISTRIBUTOR_CONFIG, or copy channels.yaml from the distributor repository")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        what = "a folder, not a file; pass the file in it: --config PATH/channels.yaml" \
            if isinstance(exc, IsADirectoryError) else f"cannot read it: {exc}"
        raise ConfigErrors([ConfigError(file, None, "", what)]) from None

    loaded = _load_yaml(text, file, dict(os.environ) if env is None else env)
    errors = loaded.errors
    data = loaded.data
    if errors and data is None:
        raise ConfigErrors(errors)
    if not isinstance(data, dict):
        raise ConfigErrors([ConfigError(file, 1, "", "the file must be a mapping with site:, "
                                        "sources: and channels: at the top")])

    # missing ${VARS}: errors, except the credentials of a disabled channel, and of any
    # channel under --dry-run
    missing_credentials: dict[str, list[str]] = {}
    stand_ins: dict[str, list[str]] = {}
    by_line = sorted(loaded.missing.items(), key=lambda kv: loaded.lines.get(kv[0], 0))
    for var_path, names in by_line:
        if var_path[0] not in known_keys(Config, ()):
            continue  # an unknown section (a typo of channels:?): its own error says it
        in_channel = len(var_path) >= 2 and var_path[0] == "channels"
        item = data["channels"][var_path[1]] if in_channel else None
        disabled = isinstance(item, dict) and item.get("enabled") is False
        if in_channel and (dry_run or disabled):
            channel_name = item.get("name", f"channels[{var_path[1]}]") if isinstance(item, dict) \
                else str(var_path[1])
            missing_credentials.setdefault(str(channel_name), []).extend(names)
            continue
        secret = _is_secret(data, var_path)  # a secret has no default in the file
        if dry_run and secret:  # a dry run needs no credential (web.secret_key): filled below
            stand_ins.setdefault(format_key(var_path), []).extend(names)
            continue
        for name in names:
            errors.append(ConfigError(
                file, loaded.lines.get(var_path), format_key(var_path),
                f"environment variable {name} is not set; export {name}=..." + ("" if secret
                else f" or write ${{{name}:-default}} to give a default")))

    # a key whose ${VAR} is not set is said once: the variable, not also the empty value
    unset = {format_key(p) for p in loaded.missing if any(e.key == format_key(p) for e in errors)}
    said_unset = {id(e) for e in errors}

    # channels: each validated against its adapter's own model
    channels: list[ChannelConfig] = []
    places: list[int] = []  # each valid channel's index in the file (some may be invalid)
    known_types = adapter_types()
    for index, item in _iter_channel_items(data):
        prefix: Path_ = ("channels", index)
        if not isinstance(item, dict):
            errors.append(ConfigError(file, _line_for(loaded.lines, prefix), format_key(prefix),
                                      "each channel must be a mapping with name: and type:"))
            continue
        kind = item.get("type")
        if kind is None:
            errors.append(ConfigError(file, _line_for(loaded.lines, prefix), format_key(prefix),
                                      "required key 'type' is missing; one of: "
                                      + ", ".join(known_types)))
            continue
        try:
            adapter_cls = get_adapter_class(str(kind))
        except PluginError as exc:
            errors.append(ConfigError(file, _line_for(loaded.lines, (*prefix, "type")),
                                      format_key((*prefix, "type")), str(exc)))
            continue
        except KeyError:
            hint = difflib.get_close_matches(str(kind), known_types, n=1)
            suggestion = f"did you mean {hint[0]!r}? " if hint else ""
            errors.append(ConfigError(
                file, _line_for(loaded.lines, (*prefix, "type")), format_key((*prefix, "type")),
                f"no channel type {kind!r}; {suggestion}installed types: "
                f"{', '.join(known_types)} (a plugin's type appears once its package is "
                "installed)"))
            continue
        model = adapter_cls.config_model
        try:
            channels.append(model.model_validate(item, context={"site": data.get("site")}))
            places.append(index)
        except ValidationError as exc:
            errors.extend(_pydantic_errors(exc, model, prefix, file, loaded.lines))

    top = dict(data)
    top["channels"] = []
    config: Config | None = None
    try:
        config = Config.model_validate(top)
    except ValidationError as exc:
        errors.extend(_pydantic_errors(exc, Config, (), file, loaded.lines))

    # names must be unique; cross-field checks that need the site
    for kind_name, items in (("sources", data.get("sources")), ("channels", data.get("channels"))):
        seen: dict[str, int] = {}
        for index, item in enumerate(items if isinstance(items, list) else []):
            item_name = item.get("name") if isinstance(item, dict) else None
            if isinstance(item_name, str):
                if item_name in seen:
                    errors.append(ConfigError(
                        file, _line_for(loaded.lines, (kind_name, index, "name")),
                        format_key((kind_name, index, "name")),
                        f"the name {item_name!r} is already used by "
                        f"{kind_name}[{seen[item_name]}]; names must be unique"))
                seen[item_name] = index

    if config is not None:
        for index, channel in zip(places, channels, strict=True):
            for problem_key, problem in _channel_checks(channel, config):
                key_path: Path_ = ("channels", index, *problem_key)
                errors.append(ConfigError(file, _line_for(loaded.lines, key_path),
                                          format_key(key_path), problem))

    errors = [e for e in errors if id(e) in said_unset or e.key not in unset]
    errors.sort(key=lambda e: (e.line or 0))
    if errors or config is None:
        raise ConfigErrors(errors)

    if not dry_run:  # a dry run sends nothing: its stand-ins (the demo's) are no secrets
        named = [(("channels", i), c, c.name) for i, c in zip(places, channels, strict=True)]
        config.warnings = [  # config.channels is still empty: each channel by its place
            ConfigError(file, _line_for(loaded.lines, key), format_key(key), what) for key, what
            in secrets_in_file(loaded.raw, [((), config, "distributor"), *named])]
        # said by the interface, once (the command line: warning: FILE:LINE: ... lines)
    base = file_path.resolve().parent
    config.channels = channels
    config.path = file_path
    config.missing_credentials = missing_credentials
    config.locate(loaded.lines, stand_ins)
    if "web.secret_key" in stand_ins:  # a dry run signs its links with a throwaway key
        config.web.secret_key = SecretStr(secrets.token_urlsafe(32))
    config.database = _resolve_sqlite(config.database, base)
    if config.templates is not None and not config.templates.is_absolute():
        config.templates = base / config.templates
    if not config.outbox.is_absolute():
        config.outbox = (base / config.outbox).resolve()
    for source in config.sources:
        if isinstance(source, DirectorySourceConfig) and not source.path.is_absolute():
            source.path = base / source.path
        elif isinstance(source, FeedSourceConfig) and "://" not in source.url and \
                not Path(source.url).is_absolute():
            source.url = str(base / source.url)
    for channel in channels:
        channel_path = getattr(channel, "path", None)
        if isinstance(channel_path, Path) and not channel_path.is_absolute():
            channel.path = base / channel_path  # type: ignore[attr-defined]
    return config


def _is_secret(data: dict[str, Any], path: Path_) -> bool:
    """Whether the key at ``path`` holds a secret (a channel's: by its own model)."""
    from distributor.registry import PluginError, get_adapter_class

    if len(path) < 2 or path[0] != "channels":
        return is_secret_key(Config, path)
    try:
        model = get_adapter_class(str(data["channels"][path[1]].get("type"))).config_model
    except (AttributeError, KeyError, PluginError):
        return False
    return is_secret_key(model, path[2:])


def _channel_checks(channel: ChannelConfig, config: Config) -> list[tuple[Path_, str]]:
    from distributor.registry import digest_problem

    check = getattr(channel, "check_with_site", None)
    problems = list(check(config.site)) if check else []
    digest = digest_problem(channel)
    return problems + ([(("publish",), digest)] if digest else [])


def _resolve_sqlite(url: str, base: Path) -> str:
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith("sqlite:////"):
        rest = url[len(prefix):]
        if rest and not rest.startswith(":memory:"):
            return prefix + str(base / rest)
    return url

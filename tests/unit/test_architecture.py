"""The house rules of docs/architecture.md, checked on the source itself.

- the layers: a module imports only modules of its own layer or of the layers below it;
- no import circle (every import counts, also one inside a function);
- a channel package imports nothing of the core but the plugin API (`distributor.plugin`);
- only a platform's own package imports its library (python-telegram-bot, tweepy, aiosmtplib);
- modules stay under about 400 lines;
- no module outside channels/ compares a channel's type with a platform's name (the core asks
  a channel what it can do through the plugin API: capabilities, ``audience``, ...).

Each list of known exceptions below is debt, written down: a new exception fails the test, and
so does one that no longer exists (take it off the list).
"""

from __future__ import annotations

import ast
import functools
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "distributor"

#: lowest first; a module may import its own layer and the ones before it
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("foundation", ("distributor", "distributor.clock", "distributor.logs",
                    "distributor.articles", "distributor.text", "distributor.config",
                    "distributor.values")),
    ("render", ("distributor.render",)),
    ("plugin", ("distributor.plugin",)),
    ("registry", ("distributor.registry", "distributor.configfile")),
    ("channels", ("distributor.channels",)),
    ("sources", ("distributor.sources",)),
    ("store", ("distributor.store",)),
    ("runtime", ("distributor.runtime",)),
    ("ledger", ("distributor.ledger",)),
    ("engine", ("distributor.engine",)),
    ("services", ("distributor.services",)),
    ("interfaces", ("distributor.interfaces", "distributor.__main__")),
]

#: what a channel package may import from the core besides its own package
CHANNEL_MAY_IMPORT = ("distributor.plugin",)

PLATFORM_LIBRARIES = {
    "telegram": "distributor.channels.telegram",
    "tweepy": "distributor.channels.x",
    "aiosmtplib": "distributor.channels.email",
    "atproto": "distributor.channels.bluesky",
    "atproto_client": "distributor.channels.bluesky",
}

MAX_LINES = 400

# -- known debt (shrinks; see docs/architecture.md) --------------------------------------------

KNOWN_LAYER_BREAKS: set[tuple[str, str]] = set()  # none left
KNOWN_CHANNEL_BREAKS: set[tuple[str, str]] = set()  # none left
KNOWN_CIRCLES: set[frozenset[str]] = set()  # none left
KNOWN_LONG_MODULES: dict[str, int] = {}  # none left
#: (module, platform) where the core still branches on a channel's type: none left (the
#: dashboard's previews follow the style each channel declares)
KNOWN_PLATFORM_BRANCHES: set[tuple[str, str]] = set()


# -- reading the source ------------------------------------------------------------------------


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@functools.cache
def parsed(path: Path) -> ast.Module:
    """A module's syntax tree, read once for every rule (the tests only read it)."""
    return ast.parse(path.read_text(encoding="utf-8"))


@functools.cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts}


def imports_of(path: Path, known: set[str]) -> set[str]:
    """Every module of the package this file imports, anywhere in it."""
    tree = parsed(path)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from package import module` depends on that module, not on the package's
            # __init__ (as import-linter and pydeps count it)
            submodules = [f"{node.module}.{a.name}" for a in node.names]
            names = [s for s in submodules if s in known]
            if len(names) < len(submodules):
                names.append(node.module)
        else:
            continue
        for name in names:
            if name in known:
                found.add(name)
    return found


def external_imports_of(path: Path) -> set[str]:
    tree = parsed(path)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def layer_of(module: str) -> int:
    best, best_len = -1, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    assert best >= 0, f"{module} is in no layer: add it to LAYERS and docs/architecture.md"
    return best


@functools.cache
def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(path, known) - {name} for name, path in mods.items()}


def circles(edges: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[frozenset[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def platform_names() -> set[str]:
    """Every channel type a platform gives its name to: the built-in entry points, the
    platform packages, the example plugin, and the platforms planned in DESIGN.md."""
    import tomllib

    project = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text(encoding="utf-8"))
    entry_points = project["project"].get("entry-points", {}).get("distributor.channels", {})
    packages = {p.name for p in (PACKAGE / "channels").iterdir()
                if p.is_dir() and (p / "__init__.py").exists()}
    return set(entry_points) | packages | {"webhook", "mastodon", "bluesky", "discord", "slack"}


def _is_channel_type(node: ast.expr) -> bool:
    """``something.type``, ``type_name``, ``channel_type``: what names a channel's type."""
    if isinstance(node, ast.Attribute):
        return node.attr in ("type", "channel_type", "type_name")
    return isinstance(node, ast.Name) and node.id in ("channel_type", "type_name", "kind")


def _literals(node: ast.expr) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return {e.value for e in node.elts if isinstance(e, ast.Constant)
                and isinstance(e.value, str)}
    return set()


def platform_branches(path: Path, platforms: set[str]) -> set[str]:
    """The platforms whose names this file compares a channel's type with."""
    found: set[str] = set()
    for node in ast.walk(parsed(path)):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        if any(_is_channel_type(o) for o in operands):
            for operand in operands:
                found |= _literals(operand) & platforms
    return found


def _own_package(module: str) -> str:
    return ".".join(module.split(".")[:3])


# -- the rules ---------------------------------------------------------------------------------


def test_every_module_imports_only_its_layer_and_those_below() -> None:
    breaks = {(m, i) for m, deps in graph().items() for i in deps if layer_of(i) > layer_of(m)}
    assert breaks - KNOWN_LAYER_BREAKS == set(), "imports from a layer above"
    assert KNOWN_LAYER_BREAKS - breaks == set(), "fixed: take these off KNOWN_LAYER_BREAKS"


def test_channel_packages_import_only_the_plugin_api_from_the_core() -> None:
    breaks = set()
    for module, deps in graph().items():
        if not module.startswith("distributor.channels."):
            continue
        own = _own_package(module)
        for dep in deps:
            if dep == own or dep.startswith(own + ".") or dep == "distributor.channels":
                continue
            if not any(dep == ok or dep.startswith(ok + ".") for ok in CHANNEL_MAY_IMPORT):
                breaks.add((module, dep))
    assert breaks - KNOWN_CHANNEL_BREAKS == set(), "a channel imports the core past the plugin API"
    assert KNOWN_CHANNEL_BREAKS - breaks == set(), "fixed: take these off KNOWN_CHANNEL_BREAKS"


def test_there_is_no_import_circle() -> None:
    found = set(circles(graph()))
    assert found - KNOWN_CIRCLES == set(), "import circles"
    assert KNOWN_CIRCLES - found == set(), "fixed: take these off KNOWN_CIRCLES"


def test_only_a_platform_package_imports_its_library() -> None:
    wrong = defaultdict(set)
    for module, path in modules().items():
        for library in external_imports_of(path) & set(PLATFORM_LIBRARIES):
            owner = PLATFORM_LIBRARIES[library]
            if not (module == owner or module.startswith(owner + ".")):
                wrong[library].add(module)
    assert dict(wrong) == {}


def test_a_platform_package_is_imported_by_no_module_outside_it() -> None:
    """Nothing outside a channel's package knows its platform: the core finds channels through
    the registry and asks them through the plugin API (capabilities, measure, editor bots)."""
    platforms = {"distributor.channels.telegram", "distributor.channels.x",
                 "distributor.channels.email", "distributor.channels.mastodon",
                 "distributor.channels.bluesky", "distributor.channels.discord",
                 "distributor.channels.slack"}
    outside = {(m, d) for m, deps in graph().items() for d in deps for p in platforms
               if (d == p or d.startswith(p + ".")) and not (m == p or m.startswith(p + "."))}
    assert outside == set()


def test_modules_stay_under_about_400_lines() -> None:
    long = {}
    for module, path in modules().items():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            long[module] = lines
    grown = {m: n for m, n in long.items() if n > KNOWN_LONG_MODULES.get(m, MAX_LINES)}
    assert grown == {}, "split these modules along what they own"
    assert set(KNOWN_LONG_MODULES) - set(long) == set(), "now short: take off KNOWN_LONG_MODULES"


def test_no_module_outside_the_channels_compares_a_channel_type_with_a_platform_name() -> None:
    platforms = platform_names()
    branches = {(module, name) for module, path in modules().items()
                if not module.startswith("distributor.channels.")
                for name in platform_branches(path, platforms)}
    assert branches - KNOWN_PLATFORM_BRANCHES == set(), \
        "the core knows a platform: ask the channel through the plugin API (docs/plugins.md)"
    assert KNOWN_PLATFORM_BRANCHES - branches == set(), \
        "fixed: take these off KNOWN_PLATFORM_BRANCHES"


def test_the_platform_branch_finder_sees_every_way_of_writing_one(tmp_path: Path) -> None:
    source = tmp_path / "core.py"
    source.write_text(
        "def f(c, type_name):\n"
        "    a = c.type == 'email'\n"
        "    b = 'telegram' != channel.type\n"
        "    d = c.config.type in ('x', 'feed')\n"
        "    e = type_name == 'slack'\n"
        "    g = c.name == 'bluesky' or c.publish == 'digest'  # names, not types\n",
        encoding="utf-8")
    assert platform_branches(source, platform_names()) == {"email", "telegram", "x", "slack"}

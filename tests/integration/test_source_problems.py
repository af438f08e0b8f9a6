"""What a source's read skipped (a malformed article file, a feed cut off, ...) is kept with the
source, not only printed once by the `fetch` that met it: `sources list` (text and JSON), the
dashboard's channels page and /metrics show it until a read no longer meets it. Real files in a
real folder, a real SQLite ledger, the real web app."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import httpx
from support.web import login, make_editor

from distributor.configfile import load_config
from distributor.interfaces.web import create_app
from distributor.ledger.ingest import MAX_SOURCE_PROBLEMS, poll_all
from distributor.runtime import Runtime

Cli = Callable[..., CompletedProcess[str]]
GOOD = ("Jakarta — Banjir setinggi satu meter merendam ratusan rumah di Jakarta Timur pada "
        "Selasa pagi setelah hujan deras semalaman.\n\nPewarta: Siti\n")
BROKEN = {"sampah.txt": b"\x00\xff\xfe\x00junk\x00" * 50,
          "kosong.txt": b"",
          "depan.md": b"---\ntitle: [tidak ditutup\n---\nIsi berita.\n"}


def _write(folder: Path, files: dict[str, bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    settled = time.time() - 600  # written a while ago: read at once
    for name, data in files.items():
        (folder / name).write_bytes(data)
        os.utime(folder / name, (settled, settled))


def _config(write_config: Callable[..., Path]) -> Path:
    return write_config("""\
sources:
  - name: newsroom
    type: directory
    path: articles/
    url_template: https://rinews.example/berita/{slug}
channels:
  - name: files
    type: outbox
    path: outbox/
""")


def _listed(run_cli: Cli, config: Path) -> dict[str, dict[str, object]]:
    out = run_cli("--config", config, "sources", "list", "--json")
    assert out.returncode == 0, out.stderr
    return {s["name"]: s for s in json.loads(out.stdout)}


def test_skipped_files_stay_listed_with_the_source_until_they_are_fixed(
        write_config: Callable[..., Path], run_cli: Cli) -> None:
    config = _config(write_config)
    folder = config.parent / "articles"
    _write(folder, {"banjir.txt": GOOD.encode(), **BROKEN})

    first = run_cli("--config", config, "fetch")
    assert first.returncode == 0, first.stderr
    assert "1 new" in first.stdout + first.stderr
    listed = _listed(run_cli, config)["newsroom"]
    assert listed["state"] == "skipping" and listed["articles"] == 1
    problems = listed["problems"]
    assert isinstance(problems, list) and len(problems) == len(BROKEN)
    assert {name for name in BROKEN if any(name in str(p) for p in problems)} == set(BROKEN)

    # the folder did not change: the next read skips nothing new, the source still says why
    again = run_cli("--config", config, "fetch")
    assert "not modified" in again.stdout + again.stderr
    assert _listed(run_cli, config)["newsroom"]["problems"] == problems
    text = run_cli("--config", config, "sources", "list").stdout
    assert re.search(r"newsroom\s+directory\s+skipping 3 items: ", text), text

    for name in BROKEN:  # the newsroom fixes them
        (folder / name).unlink()
    run_cli("--config", config, "fetch")
    fixed = _listed(run_cli, config)["newsroom"]
    assert fixed["state"] == "ok" and fixed["problems"] == []


async def test_the_dashboard_and_metrics_show_what_a_source_skipped(
        write_config: Callable[..., Path]) -> None:
    config = _config(write_config)
    many = {f"rusak-{i:02d}.txt": b"" for i in range(MAX_SOURCE_PROBLEMS + 5)}
    _write(config.parent / "articles", {"banjir.txt": GOOD.encode(), **many,
                                        "<i>aneh<i>.txt": b""})
    rt = Runtime.open(load_config(config))
    try:
        await poll_all(rt)
        make_editor(rt)
        transport = httpx.ASGITransport(app=create_app(rt))
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8000"
                                     ) as client:
            assert (await login(client)).status_code == 303
            page = (await client.get("/dashboard/channels")).text
            metrics = (await client.get("/metrics")).text
    finally:
        await rt.close()
    [row] = re.findall(r'<tr data-source="newsroom" data-state="skipping">(.*?)</tr>', page,
                       re.S)
    assert "rusak-00.txt" in row and "and 6 more" in row  # 26 kept as 20 lines and a count
    # a file name is text, not markup
    assert "<i>aneh<i>" not in page and "&lt;i&gt;aneh&lt;i&gt;" in row
    assert 'distributor_source_problems{source="newsroom"} 26.0' in metrics

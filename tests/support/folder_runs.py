"""A folder of article files that a process posts to an outbox channel: the configuration,
the files (settled, or just written), and what was posted."""

from __future__ import annotations

import os
import time
from pathlib import Path

BODY = "JAKARTA — Banjir masih menggenangi sejumlah kawasan di ibu kota pada Kamis pagi.\n"


def folder_to_outbox(*, every: str = "1s", settle: str = "0s") -> str:
    """The sources and channels of a channels.yaml: the folder articles/, polled ``every``,
    its files read once ``settle`` has passed since their last change, posted to outbox/."""
    return f"""\
sources:
  - name: newsroom
    type: directory
    path: articles/
    every: {every}
    settle: {settle}
    url_template: https://rinews.example/berita/{{slug}}
channels:
  - name: files
    type: outbox
    path: outbox/
"""


def article(folder: Path, name: str, title: str, *, settled: bool = True) -> Path:
    """An article file; ``settled``: last changed a minute ago, else just now."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"{title}\n\n{BODY}", encoding="utf-8")
    if settled:
        old = time.time() - 60
        os.utime(path, (old, old))
    return path


def posted(outbox: Path) -> list[Path]:
    """The posts the outbox channel wrote."""
    return sorted(outbox.rglob("*.json")) if outbox.exists() else []

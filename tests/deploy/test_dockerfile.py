"""The Dockerfile, parsed (there is no Docker engine here to build it: the image was never built in these tests):
multi-stage, a slim Python 3.11 runtime that ends on a non-root USER with a HEALTHCHECK, nothing secret in a layer,
and a .dockerignore that keeps local environments, data, secrets and test output out of the build context."""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECRET_WORDS = re.compile(r"PASSPHRASE|PASSWORD|SECRET|TOKEN|API_KEY|PRIVATE", re.IGNORECASE)


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [arg for kw, arg in self.instructions if kw == keyword]


def parse_dockerfile(text: str) -> list[Stage]:
    """Instructions (continuation lines joined, comments dropped) grouped by ``FROM``."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued instruction"
    stages: list[Stage] = []
    for instruction in logical:
        keyword, _, arg = instruction.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            match = re.fullmatch(r"(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", arg.strip(), re.IGNORECASE)
            assert match, instruction
            stages.append(Stage(match.group(1), match.group(2)))
            continue
        assert stages or keyword in {"ARG"}, f"{keyword} before the first FROM"
        if stages:
            stages[-1].instructions.append((keyword, arg.strip()))
    return stages


def _stages() -> list[Stage]:
    return parse_dockerfile((ROOT / "Dockerfile").read_text(encoding="utf-8"))


def test_the_parser_reads_stages_users_and_continued_lines() -> None:
    stages = parse_dockerfile("FROM a:1 AS one\nRUN x \\\n  # note\n  && y\nFROM b:2\nUSER 10:10\n")
    assert [(s.base, s.name) for s in stages] == [("a:1", "one"), ("b:2", None)]
    assert stages[0].args("RUN") == ["x  && y"]
    assert stages[1].args("USER") == ["10:10"]


def test_the_dockerfile_is_multi_stage() -> None:
    stages = _stages()
    assert len(stages) >= 2
    names = {s.name for s in stages[:-1]}
    runtime = stages[-1]
    copied_from = {m.group(1) for arg in runtime.args("COPY") if (m := re.search(r"--from=(\S+)", arg))}
    assert copied_from and copied_from <= names, "the runtime stage copies the build's results from earlier stages"
    assert not any(("pip install" in run or "npm" in run) for run in runtime.args("RUN")), "build tools in the runtime"


def test_the_runtime_is_python_3_11_slim() -> None:
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", _stages()[-1].base)


def test_the_image_ends_on_a_non_root_user() -> None:
    runtime = _stages()[-1]
    users = runtime.args("USER")
    assert users, "the runtime stage sets no USER: the container would run as root"
    last = users[-1].split(":")[0]
    assert last not in {"root", "0"}
    position = [kw for kw, _ in runtime.instructions]
    assert "RUN" not in position[len(position) - position[::-1].index("USER") :], "a RUN after USER runs as that user"
    run = " ".join(runtime.args("RUN"))
    assert re.search(rf"useradd .*{re.escape(last)}\b", run), f"the user {last} is created in the runtime stage"


def test_the_image_has_a_healthcheck_on_readyz() -> None:
    [check] = _stages()[-1].args("HEALTHCHECK")
    assert not check.upper().startswith("NONE")
    command = json.loads(check[check.index("CMD") + 3 :].strip())
    assert command[0] == "python" and "/readyz" in command[-1]


def test_no_secret_is_built_into_a_layer() -> None:
    for stage in _stages():
        for keyword, arg in stage.instructions:
            if keyword in {"ENV", "ARG", "LABEL"}:
                assert not SECRET_WORDS.search(arg), f"{keyword} {arg}: a secret in the image"
            if keyword in {"COPY", "ADD"}:
                assert "secrets" not in arg and ".env" not in arg.split(), f"{keyword} {arg}"


def test_every_file_the_dockerfile_copies_from_the_context_exists() -> None:
    for stage in _stages():
        for arg in stage.args("COPY"):
            if "--from=" in arg:
                continue
            *sources, _target = [p for p in arg.split() if not p.startswith("--")]
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"


def _ignored(path: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(path, p) or path.startswith(p.rstrip("/") + "/") for p in patterns)


def test_dockerignore_keeps_local_state_secrets_and_test_output_out() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for path in (".venv/bin/python", "node_modules/x/y.js", "var/keys/keystore.json", "secrets/db_password.txt",
                 "tests/web/screenshots/a.png", ".env", ".git/HEAD"):  # fmt: skip
        assert _ignored(path, patterns), f"{path} would enter the build context"
    for path in ("xacthuc/app.py", "package-lock.json", "deploy/setup.sh", "pyproject.toml", "README.md"):
        assert not _ignored(path, patterns), f"{path} is needed by the build"

"""Dependencies point one way (ARCHITECTURE.md): keys <- ledger, identity <- verifier <- xacthuc.

Read from the source, so a forbidden import fails here even if no test happens to execute it. Domain packages also
never import FastAPI outside their ``api/`` folders.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = {
    "keys": {"keys"},
    "ledger": {"keys", "ledger"},
    "identity": {"keys", "identity"},
    "verifier": {"keys", "ledger", "identity", "verifier"},
    "xacthuc": {"keys", "ledger", "identity", "verifier", "xacthuc"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _files(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_no_package_imports_upwards(package: str) -> None:
    bad = []
    for path in _files(package):
        for module in _imports(path):
            top = module.split(".")[0]
            if top in ALLOWED and top not in ALLOWED[package]:
                bad.append(f"{path.relative_to(ROOT)} imports {module}")
    assert bad == []


@pytest.mark.parametrize("package", ["keys", "ledger", "identity", "verifier"])
def test_domain_code_imports_no_web_framework(package: str) -> None:
    bad = []
    for path in _files(package):
        if "api" in path.relative_to(ROOT).parts:
            continue
        bad += [
            f"{path.relative_to(ROOT)} imports {m}"
            for m in _imports(path)
            if m.split(".")[0] in ("fastapi", "starlette")
        ]
    assert bad == []

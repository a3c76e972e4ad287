"""ledger's packages say what they export, and their eager ``__init__`` imports cannot form a cycle.

Each package ``__init__`` imports its modules' public names. That is safe only while no module imports its own
package (it would meet a half-initialised ``__init__``) and ``ledger.chain`` never imports ``ledger.documents`` (whose
``__init__`` imports ``ledger.chain``). Read from the source, like tests/test_layering.py.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

LEDGER = Path(__file__).resolve().parents[2] / "ledger"
PACKAGES = ["ledger", "ledger.api", "ledger.chain", "ledger.documents"]


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_every_exported_name_exists_once(package: str) -> None:
    module = importlib.import_module(package)
    exported = module.__all__
    assert len(exported) == len(set(exported))
    assert [name for name in exported if not hasattr(module, name)] == []
    assert not any(name.startswith("_") for name in exported)


@pytest.mark.parametrize("package", ["chain", "documents", "api"])
def test_no_module_imports_its_own_package(package: str) -> None:
    own = f"ledger.{package}"
    bad = [
        f"{path.name} imports {module}"
        for path in sorted((LEDGER / package).glob("*.py"))
        if path.name != "__init__.py"
        for module in _imports(path)
        if module == own
    ]
    assert bad == []


def test_the_chain_never_imports_the_documents() -> None:
    bad = [
        f"{path.name} imports {module}"
        for path in sorted((LEDGER / "chain").glob("*.py"))
        for module in _imports(path)
        if module.startswith("ledger.documents") or module.startswith("ledger.api")
    ]
    assert bad == []


def test_the_ledger_package_imports_only_its_errors() -> None:
    assert _imports(LEDGER / "__init__.py") == {"ledger.errors"}

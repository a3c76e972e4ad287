"""Settings are read at the edge, in one place: every setting the code reads is a field of ``Settings`` and a row of
README.md's configuration table, and no other module reads an ``XACTHUC_*`` variable from the environment."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from xacthuc.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("keys", "ledger", "identity", "verifier", "xacthuc", "bench", "scripts")
SETTINGS_MODULE = ROOT / "xacthuc" / "settings.py"


def _readme_variables() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `XACTHUC_")]
    return {name for row in rows for name in re.findall(r"`(XACTHUC_[A-Z0-9_]+)`", row.split("|")[1])}


def test_every_setting_is_in_the_readme_table_and_every_row_is_a_setting() -> None:
    fields = {f"XACTHUC_{name.upper()}" for name in Settings.model_fields}
    documented = _readme_variables()
    assert sorted(fields - documented) == [], "settings missing from README.md's configuration table"
    assert sorted(documented - fields) == [], "README.md's configuration table lists what Settings does not read"


def _module_constants(tree: ast.Module) -> dict[str, str]:
    return {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def _is_environ(node: ast.expr) -> bool:
    """``os.environ`` or a bare ``environ``."""
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ"
    )


def _environment_keys(tree: ast.Module) -> list[ast.expr]:
    """The key expressions of every environment read: ``os.getenv(k)``, ``os.environ.get(k)``, ``os.environ[k]``,
    ``os.environ.setdefault(k)``, ``os.environ.pop(k)``."""
    keys: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            getenv = isinstance(func, ast.Attribute | ast.Name) and getattr(func, "attr", getattr(func, "id", "")) in (
                "getenv",
                "getenvb",
            )
            environ_method = (
                isinstance(func, ast.Attribute)
                and func.attr in ("get", "setdefault", "pop")
                and _is_environ(func.value)
            )
            if getenv or environ_method:
                keys.append(node.args[0])
        elif isinstance(node, ast.Subscript) and _is_environ(node.value) and isinstance(node.ctx, ast.Load):
            keys.append(node.slice)
    return keys


def _reads_xacthuc_variable(path: Path, root: Path = ROOT) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    constants = _module_constants(tree)
    found = []
    for key in _environment_keys(tree):
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            name: str | None = key.value
        elif isinstance(key, ast.Name):
            name = constants.get(key.id)
        else:
            name = None  # computed: it could be anything, an XACTHUC_ name included
        if name is None or name.startswith("XACTHUC_"):
            found.append(f"{path.relative_to(root)}:{key.lineno} reads {name or ast.unparse(key)}")
    return found


def test_no_module_but_the_settings_reads_xacthuc_variables_from_the_environment() -> None:
    found = [
        read
        for package in PACKAGES
        if (ROOT / package).is_dir()
        for path in sorted((ROOT / package).rglob("*.py"))
        if path != SETTINGS_MODULE and "migrations" not in path.parts
        for read in _reads_xacthuc_variable(path)
    ]
    assert found == []


def test_the_environment_check_sees_the_ways_of_reading_it(tmp_path: Path) -> None:
    source = tmp_path / "reader.py"
    source.write_text(
        "import os\nNAME = 'XACTHUC_WALLET_PASSPHRASE'\n"
        "a = os.environ.get(NAME)\nb = os.getenv('XACTHUC_LOG_LEVEL')\nc = os.environ['XACTHUC_X']\n"
        "d = os.environ.get('HOME')\ne = os.environ[name_from_somewhere]\n",
        encoding="utf-8",
    )
    assert [line.split(" reads ")[1] for line in _reads_xacthuc_variable(source, tmp_path)] == [
        "XACTHUC_WALLET_PASSPHRASE",
        "XACTHUC_LOG_LEVEL",
        "XACTHUC_X",
        "name_from_somewhere",
    ]

"""docs/threat-model.md (issue 15) holds: every test it cites exists, every threat has a test and a defence, every
asset and actor the issue lists has a threat, and every code path it names as a defence exists.

The cited test files are parsed with ``ast``, never imported: a citation is checked without running anything.
A citation is ``tests/path/test_file.py::test_name``, ``...::TestClass::test_name``, or either with a parametrized
id (``[id]``) after the function's name.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "threat-model.md"

#: The issue's lists, word for word as the document writes them.
ASSETS = ("signing keys", "keystore passphrase", "citizen data", "registry", "verdicts", "staff sessions")
ACTORS = (
    "forger",
    "malicious or careless agency",
    "insider clerk",
    "stolen key",
    "network attacker",
    "curious verifier",
    "abusive client",
)

_CITATION = re.compile(r"`(tests/[\w/]+\.py)::((?:[A-Z]\w*::)?test_\w+)(\[[^\]`]*\])?`")
_CODE_PATH = re.compile(r"`((?:keys|ledger|identity|verifier|xacthuc|contracts|deploy|scripts)/[\w./-]+\.(?:py|sol))")
_THREAT = re.compile(r"^### (T\d+)\. (.+)$")


@dataclass
class Threat:
    id: str
    title: str
    assets: list[str] = field(default_factory=list)
    actors: list[str] = field(default_factory=list)
    defence: str = ""
    tests: list[tuple[str, str]] = field(default_factory=list)  # (file, [Class::]function)
    code_paths: list[str] = field(default_factory=list)


def _names(line: str) -> list[str]:
    return [n.strip().strip(".").lower() for n in line.split(":", 1)[1].split(";") if n.strip()]


def parse(text: str) -> list[Threat]:
    """The threats of the document: each ``### Tn. title`` section under ``## Threats`` with its ``- Assets:``,
    ``- Actors:`` (names separated by ``;``), ``- Defence:`` and ``- Tests:`` lines."""
    threats: list[Threat] = []
    section = ""
    current: Threat | None = None
    field_name = ""
    for line in text.splitlines():
        if line.startswith("## "):
            section, current = line[3:].strip().lower(), None
            continue
        heading = _THREAT.match(line)
        if section == "threats" and heading:
            current = Threat(heading[1], heading[2].strip())
            threats.append(current)
            field_name = ""
            continue
        if current is None:
            continue
        stripped = line.strip()
        for name in ("Assets", "Actors", "Defence", "Tests"):
            if stripped.startswith(f"- {name}:"):
                field_name = name
                stripped = stripped.split(":", 1)[1]
                if name == "Assets":
                    current.assets = _names(line)
                elif name == "Actors":
                    current.actors = _names(line)
        if field_name == "Defence":
            current.defence += " " + stripped
            current.code_paths += _CODE_PATH.findall(line)
        if field_name == "Tests":
            current.tests += [(m[0], m[1]) for m in _CITATION.findall(line)]
    return threats


@cache
def _defined(path: str) -> frozenset[str]:
    """The test functions a test file defines: ``test_x`` at module level and ``Class::test_y`` in classes."""
    file = ROOT / path
    if not file.is_file():
        return frozenset()
    tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names |= {
                f"{node.name}::{item.name}"
                for item in node.body
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
            }
    return frozenset(names)


def missing_tests(threats: list[Threat]) -> list[str]:
    return [f"{t.id}: {path}::{name}" for t in threats for path, name in t.tests if name not in _defined(path)]


def problems(threats: list[Threat]) -> list[str]:
    """Everything wrong with the threats besides missing tests: no test, no defence, an unknown asset or actor,
    a code path that does not exist, an asset or actor of the issue with no threat."""
    found = []
    for t in threats:
        if not t.tests:
            found.append(f"{t.id} cites no test")
        if not t.defence.strip(" -"):
            found.append(f"{t.id} names no defence")
        if not t.assets or not t.actors:
            found.append(f"{t.id} names no asset or no actor")
        found += [f"{t.id}: unknown asset {a!r}" for a in t.assets if a not in ASSETS]
        found += [f"{t.id}: unknown actor {a!r}" for a in t.actors if a not in ACTORS]
        found += [f"{t.id}: no such file {p}" for p in t.code_paths if not (ROOT / p).exists()]
    found += [f"asset {a!r} has no threat" for a in ASSETS if not any(a in t.assets for t in threats)]
    found += [f"actor {a!r} has no threat" for a in ACTORS if not any(a in t.actors for t in threats)]
    ids = [t.id for t in threats]
    found += [f"{i} appears twice" for i in sorted({i for i in ids if ids.count(i) > 1})]
    return found


def _threats() -> list[Threat]:
    return parse(DOC.read_text(encoding="utf-8"))


def test_every_test_the_threat_model_cites_exists() -> None:
    threats = _threats()
    assert sum(len(t.tests) for t in threats) >= 50
    assert missing_tests(threats) == []


def test_every_threat_has_a_defence_and_a_test_and_every_asset_and_actor_a_threat() -> None:
    threats = _threats()
    assert len(threats) >= 20
    assert problems(threats) == []


def test_the_document_lists_the_issues_assets_and_actors() -> None:
    text = DOC.read_text(encoding="utf-8").lower()
    for name in (*ASSETS, *ACTORS):
        assert f"**{name}**" in text, f"{name} is not described in its section"


_SAMPLE = """
## Threats
### T1. A forged receipt
- Assets: signing keys; verdicts
- Actors: forger
- Defence: the allow-list in `keys/jws.py` and `keys/no_such_module.py`
- Tests: `tests/keys/test_jws.py::test_alg_none_rejected`, `tests/keys/test_jws.py::test_no_such_test[id]`,
  `tests/keys/no_such_file.py::test_x`
### T2. Nothing proves it
- Assets: registry
- Actors: curious verifier; somebody
- Defence: -
- Tests:
"""


def test_the_checker_catches_a_missing_test_an_untested_threat_and_an_unknown_actor() -> None:
    """A control: the checks above fail on a document that is wrong in each way they look for."""
    threats = parse(_SAMPLE)
    assert [t.id for t in threats] == ["T1", "T2"]
    assert missing_tests(threats) == [
        "T1: tests/keys/test_jws.py::test_no_such_test",
        "T1: tests/keys/no_such_file.py::test_x",
    ]
    found = problems(threats)
    assert "T2 cites no test" in found
    assert "T2 names no defence" in found
    assert "T2: unknown actor 'somebody'" in found
    assert "T1: no such file keys/no_such_module.py" in found
    assert "asset 'citizen data' has no threat" in found
    assert "actor 'stolen key' has no threat" in found

"""The committed artefacts are exactly what the pinned compiler builds from the committed source."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ledger.chain._abi import REVERT_ERRORS, load_artifact

ROOT = Path(__file__).resolve().parents[2]
ARTIFACT = ROOT / "contracts" / "artifacts" / "DocumentRegistry.json"
PACKAGED = ROOT / "ledger" / "chain" / "registry_artifact.json"


def node() -> str:
    found = shutil.which("node")
    if found is None:
        pytest.fail("node is not installed (make install)")
    return found


def test_rebuild_matches_committed_artefact(tmp_path: Path) -> None:
    """One rebuild (viaIR makes it take seconds); `node contracts/build.mjs --check` does the same by hand."""
    subprocess.run([node(), "contracts/build.mjs", "--out", str(tmp_path)], cwd=ROOT, check=True, timeout=240)
    assert (tmp_path / "DocumentRegistry.json").read_bytes() == ARTIFACT.read_bytes()
    assert PACKAGED.read_bytes() == ARTIFACT.read_bytes()


def test_artefact_pins() -> None:
    doc = json.loads(ARTIFACT.read_text(encoding="utf-8"))
    assert doc["compiler"]["version"].startswith("0.8.28+")
    assert doc["settings"]["evmVersion"] == "cancun"
    assert doc["settings"]["optimizer"]["enabled"] is True
    assert ARTIFACT.read_text(encoding="utf-8").endswith("}\n")
    source = (ROOT / "contracts" / "DocumentRegistry.sol").read_text(encoding="utf-8")
    assert "pragma solidity 0.8.28;" in source


def test_every_solidity_error_has_a_ledger_error() -> None:
    abi_errors = {item["name"] for item in load_artifact().abi if item["type"] == "error"}
    assert abi_errors == set(REVERT_ERRORS)
    codes = [cls.code for cls in REVERT_ERRORS.values()]
    assert len(set(codes)) == len(codes)

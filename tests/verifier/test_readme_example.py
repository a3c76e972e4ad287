"""README.md's "bank verifying a QR from Python in five lines" runs as written, against a real city service and a real
anvil, so the example and the code never drift apart."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.chain.client import RegistryClient
from tests.verifier.served import Served, serve_city
from xacthuc.devchain import AnvilNode

pytestmark = pytest.mark.anvil

README = Path(__file__).resolve().parents[2] / "README.md"
MARKER = "A bank verifying a QR from Python in five lines"


def readme_example() -> str:
    text = README.read_text(encoding="utf-8")
    after = text[text.index(MARKER) :]
    found = re.search(r"```python\n(.*?)```", after, re.DOTALL)
    assert found is not None, "README.md lost the bank's Python example"
    return found.group(1)


@pytest.fixture
def served(tmp_path: Path, anvil: AnvilNode, anvil_registry: RegistryClient) -> Iterator[Served]:
    with serve_city(tmp_path / "city", anvil, anvil_registry) as city:
        yield city


def test_the_example_is_five_lines() -> None:
    assert len([line for line in readme_example().splitlines() if line.strip()]) == 5


def test_the_readme_example_verifies_a_qr_code(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = served.issue("2392/QĐ-UBND", b"a decision")
    revoked = served.issue("2393/QĐ-UBND", b"annulled")
    served.anchor()
    served.revoke(revoked["id"])
    bank = tmp_path / "bank"
    bank.mkdir()
    (bank / "root.jwk").write_bytes(served.get("/v1/trust-root").content)
    monkeypatch.chdir(bank)
    for document, verdict in ((doc, "valid"), (revoked, "revoked")):
        (bank / "qr.png").write_bytes(served.get(f"/v1/documents/{document['id']}/qr.png").content)
        exec(readme_example(), {"RPC_URL": served.anvil.url, "SERVICE_URL": served.base})
        assert capsys.readouterr().out.strip() == verdict

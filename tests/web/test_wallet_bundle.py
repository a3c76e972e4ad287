"""The wallet's library bundle (xacthuc/web/static/wallet/lib/) is exactly what the pinned esbuild builds from the
pinned npm packages, stays small, and its XI2 transport speaks Python's format: the same preset dictionary, and
payloads the Python decoder restores to the exact SD-JWT (in the structured container, not the raw fallback)."""

from __future__ import annotations

import json
import re
import subprocess
import zlib
from pathlib import Path

from playwright.sync_api import expect

from identity import transport
from keys import qrtext
from tests.contracts.test_build import node
from tests.web.conftest import ROOT, NewPage, Server
from tests.web.test_wallet_page import issue_into, open_wallet

LIB = ROOT / "xacthuc" / "web" / "static" / "wallet" / "lib"
BUNDLES = ("sd-jwt.js", "pako.js", "qrcode.js")
MAX_BUNDLE_BYTES = 110_000  # about 96 KB today (31 KB gzipped): a guard against pulling in a whole package by mistake


def test_rebuild_matches_committed_bundle(tmp_path: Path) -> None:
    """`npm run build:wallet` writes these files; a rebuild gives the same bytes."""
    subprocess.run([node(), "xacthuc/web/wallet_build.mjs", "--out", str(tmp_path)], cwd=ROOT, check=True, timeout=120)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(BUNDLES)
    for name in BUNDLES:
        assert (tmp_path / name).read_bytes() == (LIB / name).read_bytes(), name


def test_bundle_stays_small() -> None:
    assert sum((LIB / name).stat().st_size for name in BUNDLES) < MAX_BUNDLE_BYTES


def test_xi2_dictionary_is_the_same_bytes_as_pythons(server: Server, new_page: NewPage) -> None:
    page = open_wallet(new_page, server)
    js = page.evaluate("async () => Array.from((await import('/static/wallet/transport.js')).ZDICT)")
    assert bytes(js) == transport.ZDICT


def test_base43_matches_pythons(server: Server, new_page: NewPage) -> None:
    page = open_wallet(new_page, server)
    samples = [b"", b"\x00", b"\xff", b"\xff\xff", bytes(range(256)), b"xacthuc"]
    for data in samples:
        js = page.evaluate(
            "async (d) => (await import('/static/wallet/transport.js')).b43encode(Uint8Array.from(d))", list(data)
        )
        assert js == qrtext.b43encode(data), data


def test_js_payload_decodes_in_python_to_the_exact_presentation_in_structured_mode(
    server: Server, new_page: NewPage
) -> None:
    page = open_wallet(new_page, server)
    issue_into(page, server)
    expect(page.locator("[data-credential-card]")).to_have_count(1)
    out = page.evaluate(
        """async () => {
          const { allCredentials } = await import('/static/wallet/store.js');
          const { present } = await import('/static/wallet/sdjwt.js');
          const { encode } = await import('/static/wallet/transport.js');
          const [entry] = await allCredentials();
          const compact = await present(entry.compact, ['full_name', 'personal_id', 'age_over_18'],
                                        { aud: 'https://bank.example', nonce: 'n-0S6_WzA2Mj' });
          return { compact, payload: await encode(compact) };
        }"""
    )
    assert transport.decode(out["payload"]) == out["compact"]
    body = zlib.decompressobj(-15, transport.ZDICT).decompress(qrtext.b43decode(out["payload"][4:]))
    assert body[0] == 1  # has a KB-JWT, structured (bit 1, the raw-text fallback, not set)
    assert len(out["payload"]) < len(transport.encode(out["compact"])) + 60  # within a few bytes of Python's


def test_wallet_strings_exist_in_both_languages_for_every_key_the_page_uses() -> None:
    messages = ROOT / "xacthuc" / "web" / "messages"
    vi = json.loads((messages / "wallet.vi.json").read_text(encoding="utf-8"))
    en = json.loads((messages / "wallet.en.json").read_text(encoding="utf-8"))
    assert set(vi) == set(en)
    assert all(key.startswith("wallet.") for key in vi)
    web = ROOT / "xacthuc" / "web"
    used = set(re.findall(r't\("(wallet\.[\w.]+)"\)', (web / "templates" / "wallet.html").read_text(encoding="utf-8")))
    used |= set(re.findall(r"t\('(wallet\.[\w.]+)'\)", (web / "templates" / "wallet.html").read_text(encoding="utf-8")))
    script = (web / "static" / "wallet" / "wallet-page.js").read_text(encoding="utf-8")
    used |= {f"wallet.js.{k}" for k in re.findall(r'\bt\(\s*"([\w.]+)"', script)}
    used |= {f"wallet.js.error.camera_{p}" for p in ("denied", "missing", "error")}  # built from cameraProblem()
    used |= {f"wallet.js.status.{s}" for s in ("valid", "revoked", "suspended", "unknown")}  # from revocationStatus()
    assert used - {*vi, "wallet.title"} == set()  # wallet.title: in vi.json/en.json
    assert len(used) > 40

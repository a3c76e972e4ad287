"""verifier.offline on both databases: the bundle built from stored documents, status lists and a bootstrapped city,
then verified with nothing else (no chain, no server). Anchoring is recorded in the database as the worker would
(batch cut and confirmed); revocation is recorded through ledger.documents.revocation and confirmed as the worker
would."""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from identity import service
from identity.models import Credential
from identity.presentation import present
from keys.bootstrap import City, bootstrap_city
from keys.errors import XacthucError
from keys.generate import generate_signing_key
from keys.holder_key import P256Key
from keys.keystore import TEST_KDF
from ledger.chain.outbox import AnchorBatch, BatchState, cut_batches
from ledger.documents.issuing import DocumentRow, issue_batch, issue_document
from ledger.documents.receipt import Registry
from ledger.documents.revocation import revoke_document
from ledger.documents.status import build_bundle, get_document
from verifier.offline import (
    OfflineBundleError,
    OfflineState,
    is_offline_bundle,
    offline_bundle_payload,
    sign_offline_bundle,
    verify_bundle_offline,
    verify_offline,
    verify_offline_bundle,
)
from xacthuc.database import make_engine, migrate
from xacthuc.offline_bundle import build_offline_bundle

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=3)  # when the offline verifier runs
PUBLIC = "https://xacthuc.hochiminhcity.gov.vn"
STATUS_BASE = PUBLIC + "/v1/status-lists"
AUDIENCE = "https://bank.example/kyc"
REGISTRY = Registry.of(31337, "0x" + "5e" * 20)
META = {
    "number": "2392/QĐ-UBND",
    "title": "Về việc phê duyệt Kế hoạch chuyển đổi số",
    "issuing_body": "Ủy ban nhân dân Thành phố Hồ Chí Minh",
    "place": "Thành phố Hồ Chí Minh",
    "issued_on": "2026-03-01",
    "signer_name": "Nguyễn Văn Dũng",
    "signer_title": "Phó Chủ tịch",
}
CITIZEN = {
    "cccd": "079303001234",
    "full_name": "Nguyễn Thị Minh Khai",
    "birth_date": "2003-05-17",
    "sex": "female",
    "place_of_origin": "Xã Phước Hưng, Huyện Long Điền, Tỉnh Bà Rịa - Vũng Tàu",
    "place_of_residence": "Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh",
}


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> City:
    """One bootstrapped city (keystore only matters here) for the module; documents go into each test's engine."""
    root = tmp_path_factory.mktemp("city")
    engine = make_engine(f"sqlite:///{root / 'keys.db'}")
    migrate(engine)
    with Session(engine) as session:
        c = bootstrap_city(root / "var", session, "offline tests", NOW - timedelta(days=1), kdf=TEST_KDF)
        session.commit()
    engine.dispose()
    return c


@dataclass
class World:
    session: Session
    city: City

    def issue(self, number: str = "2392/QĐ-UBND", file: bytes = b"decision") -> tuple[str, str]:
        issued = issue_document(
            self.session,
            agency_id="ubnd-hcm",
            signer=self.city.keyring("ubnd-hcm").signer(NOW),
            account_address=self.city.eth_address("ubnd-hcm"),
            registry=REGISTRY,
            fields={**META, "number": number},
            file_bytes=file,
            now=NOW,
            public_url=PUBLIC,
        )
        self.session.commit()
        return issued.id, issued.verify_url

    def anchor(self, block: int = 7) -> None:
        """What the worker records: a batch cut, sent and confirmed at ``block``."""
        for cut in cut_batches(self.session, NOW, batch_max=1024, interval=timedelta(seconds=2), force=True):
            batch = self.session.get(AnchorBatch, cut.id)
            assert batch is not None
            batch.state = BatchState.CONFIRMED
            batch.tx_hash = "0x" + f"{block:064x}"
            batch.block_number = block
            batch.anchored_at = NOW + timedelta(seconds=block)
            self.session.add(batch)
        self.session.commit()

    def revoke(
        self, doc_id: str, reason: str | None = "annulled", replaced_by: str | None = None, block: int = 9
    ) -> None:
        """Recorded through ledger.documents.revocation, then what the worker records: its transaction confirmed at
        ``block``."""
        row = self.session.get(DocumentRow, doc_id)
        assert row is not None
        view = revoke_document(
            self.session,
            row,
            agency_id="ubnd-hcm",
            reason=reason,
            note=None,
            replaced_by=replaced_by,
            now=NOW + timedelta(minutes=30),
        )
        sent = view.revocation
        assert sent is not None
        sent.state = BatchState.CONFIRMED
        sent.tx_hash = "0x" + f"{block:064x}"
        sent.set_mined(block, "0x" + f"{block:064x}", NOW + timedelta(minutes=30, seconds=block))
        self.session.add(sent)
        self.session.commit()

    def credential(self, cccd: str = CITIZEN["cccd"]) -> tuple[str, str, P256Key]:
        holder = P256Key.generate()
        citizen = service.register_citizen(self.session, {**CITIZEN, "cccd": cccd}, NOW, agency_id="ca-hcm")
        cred_id, compact = service.issue_credential(
            self.session,
            citizen.id,
            self.city.keyring("ca-hcm").signer(NOW),
            "ca-hcm",
            holder.public_jwk(),
            NOW,
            status_base_url=STATUS_BASE,
        )
        self.session.commit()
        return cred_id, compact, holder

    def bundle(self, *, now: datetime = NOW, ttl: timedelta = timedelta(hours=24)) -> str:
        return build_offline_bundle(
            self.session,
            root_signer=self.city.root_signer,
            trust_list=self.city.build_trust_list(now),
            registry=REGISTRY,
            block=42,
            signer_for=lambda agency: self.city.keyring(agency).signer(now),
            status_base_url=STATUS_BASE,
            now=now,
            ttl=ttl,
        )

    def state(self, token: str | None = None, now: datetime = LATER) -> OfflineState:
        return verify_offline_bundle(token or self.bundle(), self.city.root_jwk(), now)


@pytest.fixture
def w(engine: Engine, city: City) -> Iterator[World]:
    with Session(engine, expire_on_commit=False) as session:
        yield World(session, city)


def _codes(report: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["code"] for c in report["checks"]}


def _presentation(compact: str, holder: P256Key, now: datetime = LATER) -> str:
    return present(compact, ["given_name", "age_over_18"], holder, audience=AUDIENCE, now=now)


# ------------------------------------------------------------------------------------------------------------ valid
def test_document_and_citizen_id_verify_offline_valid(w: World) -> None:
    doc_id, link = w.issue()
    w.anchor()
    _, compact, holder = w.credential()
    token = w.bundle()
    assert is_offline_bundle(token) and not is_offline_bundle('{"type": "xacthuc-proof-bundle"}')
    state = w.state(token)

    report = verify_offline(state, link, now=LATER, file_bytes=b"decision").to_dict()
    assert report["verdict"] == "valid", report
    assert report["claims"]["number"] == "2392/QĐ-UBND"
    assert report["anchor"]["block"] == 7
    anchored = next(c for c in report["checks"] if c["name"] == "anchored")
    assert anchored["data"]["offline_bundle"] == {
        "iat": "2026-03-01T09:00:00Z",
        "exp": "2026-03-02T09:00:00Z",
        "block": 42,
        "chain_id": REGISTRY.chain_id,
        "contract": REGISTRY.hex_address,
    }

    id_report = verify_offline(state, _presentation(compact, holder), now=LATER, audience=AUDIENCE).to_dict()
    assert id_report["verdict"] == "valid", id_report
    assert id_report["claims"] == {"given_name": "Thị Minh Khai", "age_over_18": True}
    status = next(c for c in id_report["checks"] if c["name"] == "status")
    assert status["code"] == "NOT_REVOKED" and status["data"]["offline_bundle"]["exp"] == "2026-03-02T09:00:00Z"

    bundle = build_bundle(get_document(w.session, doc_id), trust_list="", root_kid="", public_url=PUBLIC)
    assert verify_bundle_offline(state, bundle, now=LATER).verdict.value == "valid"


def test_many_documents_in_several_batches(w: World) -> None:
    """Proofs are rebuilt from each root's leaves: every document of every batch verifies."""
    links = []
    for batch in range(3):
        for i in range(5 + batch):
            links.append(w.issue(number=f"{100 + 10 * batch + i}/QĐ-UBND", file=f"{batch}-{i}".encode())[1])
        w.anchor(block=10 + batch)
    state = w.state()
    assert len(state.roots) == 3
    for link in links:
        assert verify_offline(state, link, now=LATER).verdict.value == "valid", link


# ---------------------------------------------------------------------------------------------------------- revoked
def test_revoked_and_superseded_in_the_bundle(w: World) -> None:
    old_id, old_link = w.issue()
    annulled_id, annulled_link = w.issue(number="2393/QĐ-UBND", file=b"annulled")
    new_id, new_link = w.issue(number="2400/QĐ-UBND", file=b"new")
    w.anchor()
    w.revoke(annulled_id)
    w.revoke(old_id, reason=None, replaced_by=new_id)
    cred_id, compact, holder = w.credential()
    service.revoke_credential(w.session, cred_id, NOW + timedelta(minutes=5))
    w.session.commit()
    state = w.state()

    revoked = verify_offline(state, annulled_link, now=LATER).to_dict()
    assert revoked["verdict"] == "revoked" and _codes(revoked)["not_revoked"] == "DOC_REVOKED"
    superseded = verify_offline(state, old_link, now=LATER).to_dict()
    assert superseded["verdict"] == "superseded"
    check = next(c for c in superseded["checks"] if c["name"] == "not_revoked")
    assert check["data"]["replacement"] == {"number": "2400/QĐ-UBND", "document_id": new_id}
    assert "offline_bundle" in check["data"]
    assert verify_offline(state, new_link, now=LATER).verdict.value == "valid"

    id_report = verify_offline(state, _presentation(compact, holder), now=LATER).to_dict()
    assert id_report["verdict"] == "revoked" and _codes(id_report)["status"] == "REVOKED"
    assert w.session.exec(select(Credential.revoked_at).where(Credential.id == cred_id)).one() is not None


# ---------------------------------------------------------------------------------------------------------- pending
def test_root_not_anchored_in_the_bundle_is_pending(w: World) -> None:
    doc_id, _ = w.issue()
    w.anchor()
    proof_bundle = build_bundle(get_document(w.session, doc_id), trust_list="", root_kid="", public_url=PUBLIC)
    _, late_link = w.issue(number="2401/QĐ-UBND", file=b"late")  # issued, not anchored yet
    state = w.state()
    report = verify_offline(state, late_link, now=LATER).to_dict()
    assert report["verdict"] == "pending" and _codes(report)["anchored"] == "DOC_NOT_ANCHORED"

    # A proof bundle whose root the offline bundle does not know (anchored after it was made): pending too.
    state.roots.clear()
    report = verify_bundle_offline(state, proof_bundle, now=LATER).to_dict()
    assert report["verdict"] == "pending" and _codes(report)["anchored"] == "ROOT_NOT_ON_CHAIN"


# ------------------------------------------------------------------------------------------------- refused bundles
def test_expired_bundle_is_an_error_never_valid(w: World) -> None:
    _, link = w.issue()
    w.anchor()
    token = w.bundle(ttl=timedelta(hours=1))
    with pytest.raises(OfflineBundleError) as exc:
        verify_offline_bundle(token, w.city.root_jwk(), NOW + timedelta(hours=1))
    assert exc.value.code == "OFFLINE_BUNDLE_EXPIRED"
    # A state kept past its expiry stops answering too.
    state = verify_offline_bundle(token, w.city.root_jwk(), NOW + timedelta(minutes=59))
    with pytest.raises(OfflineBundleError) as exc:
        verify_offline(state, link, now=NOW + timedelta(hours=2))
    assert exc.value.code == "OFFLINE_BUNDLE_EXPIRED"


def test_bundle_expiry_is_capped_by_its_trust_list(w: World) -> None:
    state = w.state(w.bundle(ttl=timedelta(days=30)), now=NOW)
    assert state.exp == state.trust_list.expires_at == NOW + timedelta(days=1)


@pytest.mark.parametrize("where", ["header", "payload", "signature"])
def test_tampered_bundle_one_byte_is_a_typed_error(w: World, where: str) -> None:
    w.issue()
    w.anchor()
    token = w.bundle()
    header, payload, signature = token.split(".")
    part = {"header": 0, "payload": 1, "signature": 2}[where]
    parts = [header, payload, signature]
    i = len(parts[part]) // 2
    parts[part] = parts[part][:i] + ("A" if parts[part][i] != "A" else "B") + parts[part][i + 1 :]
    with pytest.raises(OfflineBundleError) as exc:
        verify_offline_bundle(".".join(parts), w.city.root_jwk(), LATER)
    assert exc.value.code in ("OFFLINE_BUNDLE_SIGNATURE_INVALID", "OFFLINE_BUNDLE_UNTRUSTED")


def test_bundle_signed_by_another_root_is_refused(w: World) -> None:
    w.issue()
    w.anchor()
    token = w.bundle()
    other = generate_signing_key("ES256")
    raw = base64.urlsafe_b64decode(token.split(".")[1] + "==")
    forged = sign_offline_bundle(other, json.loads(raw))
    with pytest.raises(OfflineBundleError) as exc:
        verify_offline_bundle(forged, w.city.root_jwk(), LATER)
    assert exc.value.code == "OFFLINE_BUNDLE_UNTRUSTED"
    # Pinning another root refuses the genuine bundle the same way.
    with pytest.raises(OfflineBundleError) as exc:
        verify_offline_bundle(token, other.public_jwk(), LATER)
    assert exc.value.code == "OFFLINE_BUNDLE_UNTRUSTED"


class _KidLiar:
    """Signs with a foreign key while naming the pinned root's kid."""

    alg = "ES256"

    def __init__(self, kid: str) -> None:
        self.kid = kid
        self._key = generate_signing_key("ES256")

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def public_jwk(self) -> dict[str, Any]:
        return self._key.public_jwk()


def test_foreign_signature_under_the_pinned_kid_is_refused(w: World) -> None:
    token = w.bundle()
    raw = base64.urlsafe_b64decode(token.split(".")[1] + "==")
    forged = sign_offline_bundle(_KidLiar(w.city.root_jwk()["kid"]), json.loads(raw))
    with pytest.raises(OfflineBundleError) as exc:
        verify_offline_bundle(forged, w.city.root_jwk(), LATER)
    assert exc.value.code == "OFFLINE_BUNDLE_SIGNATURE_INVALID"


def test_trust_list_token_is_not_an_offline_bundle(w: World) -> None:
    """Type confusion: the trust list is signed by the same root key; it must not pass for a bundle."""
    with pytest.raises(OfflineBundleError) as exc:
        verify_offline_bundle(w.city.build_trust_list(NOW), w.city.root_jwk(), LATER)
    assert exc.value.code == "OFFLINE_BUNDLE_INVALID"


def test_bundle_whose_trust_list_does_not_verify_is_refused(w: World) -> None:
    raw = json.loads(base64.urlsafe_b64decode(w.bundle().split(".")[1] + "=="))
    raw["trust_list"] = w.city.build_trust_list(NOW - timedelta(days=2))  # expired inside a fresh bundle
    with pytest.raises(OfflineBundleError) as exc:
        verify_offline_bundle(sign_offline_bundle(w.city.root_signer, raw), w.city.root_jwk(), LATER)
    assert exc.value.code == "OFFLINE_BUNDLE_TRUST_LIST_INVALID" and "TRUST_LIST_EXPIRED" in exc.value.message


def test_compressed_registry_bomb_is_refused(w: World) -> None:
    payload = offline_bundle_payload(
        trust_list=w.city.build_trust_list(NOW),
        status_lists={},
        registry=None,
        block=None,
        roots=[],
        revocations=[],
        now=NOW,
    )
    payload["registry_z"] = base64.urlsafe_b64encode(zlib.compress(b" " * (64 << 20), 9)).decode().rstrip("=")
    del payload["registry"]
    with pytest.raises(OfflineBundleError) as exc:
        verify_offline_bundle(sign_offline_bundle(w.city.root_signer, payload), w.city.root_jwk(), LATER)
    assert exc.value.code == "OFFLINE_BUNDLE_INVALID"


def test_unknown_status_list_is_an_error_not_valid(w: World) -> None:
    _, compact, holder = w.credential()
    state = w.state()
    state.status_lists.clear()
    report = verify_offline(state, _presentation(compact, holder), now=LATER).to_dict()
    assert report["verdict"] == "error" and _codes(report)["status"] == "OFFLINE_STATUS_LIST_MISSING"


def test_bundle_without_registry_state_never_says_valid(w: World) -> None:
    _, link = w.issue()
    w.anchor()
    token = build_offline_bundle(
        w.session,
        root_signer=w.city.root_signer,
        trust_list=w.city.build_trust_list(NOW),
        registry=None,
        block=None,
        signer_for=lambda agency: w.city.keyring(agency).signer(NOW),
        status_base_url=STATUS_BASE,
        now=NOW,
    )
    with pytest.raises(XacthucError) as exc:
        verify_offline(w.state(token), link, now=LATER)
    assert exc.value.code == "OFFLINE_REGISTRY_UNAVAILABLE"


# ------------------------------------------------------------------------------------------------------------- size
def test_thousand_documents_bundle_is_compact(w: World) -> None:
    signer = w.city.keyring("ubnd-hcm").signer(NOW)
    for chunk in range(2):
        issue_batch(
            w.session,
            agency_id="ubnd-hcm",
            signer=signer,
            account_address=w.city.eth_address("ubnd-hcm"),
            registry=REGISTRY,
            items=[({**META, "number": f"{chunk * 500 + i + 1}/QĐ-UBND"}, f"{chunk}-{i}".encode()) for i in range(500)],
            now=NOW,
            public_url=PUBLIC,
        )
        w.session.commit()
    w.anchor()
    token = w.bundle()
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert "registry_z" in claims  # hex leaves, deflated
    # 1,000 leaf hashes are 32,000 raw bytes: hex, deflated, base64url inside the JWS's base64url. Measured 68.8 KB
    # (docs/documents.md); uncompressed hex would be 85 KB.
    assert len(token) < 75_000, len(token)
    state = w.state(token)
    assert sum(len(r.leaves) for r in state.roots.values()) == 1000
    one = w.session.exec(select(DocumentRow.payload).limit(1)).one()
    assert verify_offline(state, one, now=LATER).verdict.value == "valid"


def test_errors_are_xacthuc_errors_with_stable_codes() -> None:
    from verifier import offline

    codes = {
        name: cls.code
        for name, cls in vars(offline).items()
        if isinstance(cls, type) and issubclass(cls, XacthucError) and name.startswith("Offline")
    }
    assert codes == {
        "OfflineBundleError": "OFFLINE_BUNDLE_INVALID",
        "OfflineBundleExpired": "OFFLINE_BUNDLE_EXPIRED",
        "OfflineBundleSignatureInvalid": "OFFLINE_BUNDLE_SIGNATURE_INVALID",
        "OfflineBundleTooLarge": "OFFLINE_BUNDLE_TOO_LARGE",
        "OfflineBundleTrustListInvalid": "OFFLINE_BUNDLE_TRUST_LIST_INVALID",
        "OfflineBundleUntrusted": "OFFLINE_BUNDLE_UNTRUSTED",
        "OfflineRegistryUnavailable": "OFFLINE_REGISTRY_UNAVAILABLE",
        "OfflineStatusListMissing": "OFFLINE_STATUS_LIST_MISSING",
    }

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from identity.errors import DisclosureInvalid, SdJwtMalformed
from identity.sdjwt import issue_sd_jwt, make_disclosure, parse_disclosure, parse_jws, split_compact
from tests.identity.conftest import TestSigner

VECTORS = json.loads((Path(__file__).parents[1] / "vectors/sdjwt/rfc9901_disclosures.json").read_text("utf-8"))


@pytest.mark.parametrize("case", VECTORS["cases"], ids=[c["id"] for c in VECTORS["cases"]])
def test_rfc9901_disclosure_vectors(case: dict[str, Any]) -> None:
    d = parse_disclosure(case["disclosure"])
    assert (d.salt, d.name, d.value) == (case["salt"], case["name"], case["value"])
    if "digest" in case:
        assert d.digest == case["digest"]
    if case.get("encode"):
        assert make_disclosure(case["salt"], case["name"], case["value"]).encoded == case["disclosure"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)


@given(
    salt=st.text(min_size=1, max_size=30),
    name=st.text(max_size=20).filter(lambda n: n not in ("_sd", "...")),
    value=json_values,
)
def test_disclosure_round_trip(salt: str, name: str, value: Any) -> None:
    d = make_disclosure(salt, name, value)
    back = parse_disclosure(d.encoded)
    assert (back.salt, back.name, back.value) == (salt, name, value)
    assert back.digest == d.digest


@pytest.mark.parametrize("name", ["_sd", "..."])
def test_reserved_names_are_refused(name: str) -> None:
    with pytest.raises(DisclosureInvalid):
        make_disclosure("salt", name, 1)
    with pytest.raises(DisclosureInvalid):
        parse_disclosure(make_disclosure("salt", "x", 1).encoded.replace("", "") and _encode(["salt", name, 1]))


def _encode(array: list[Any]) -> str:
    import base64

    return base64.urlsafe_b64encode(json.dumps(array).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "bad", ["", "!!!", _encode({"a": 1}), _encode([1, "n", 2]), _encode(["s", 3, 2]), _encode(["s"])]
)  # type: ignore[arg-type]
def test_malformed_disclosures(bad: str) -> None:
    with pytest.raises(DisclosureInvalid):
        parse_disclosure(bad)


def test_issued_sd_jwt_shape() -> None:
    signer = TestSigner()
    counter = iter(range(10_000))
    rng = lambda n: bytes([next(counter) % 256]) * n  # noqa: E731
    issued = issue_sd_jwt(signer, {"iss": "x", "vct": "v"}, {"a": 1, "b": "two", "c": True}, rng, decoys=2)
    sd = split_compact(issued.compact)
    jws = parse_jws(sd.issuer_jwt)
    assert jws.header == {"alg": "ES256", "typ": "dc+sd-jwt", "kid": signer.kid}
    assert jws.payload["_sd_alg"] == "sha-256"
    assert len(jws.payload["_sd"]) == 5
    assert jws.payload["_sd"] == sorted(jws.payload["_sd"])
    assert {d.digest for d in issued.disclosures} < set(jws.payload["_sd"])
    assert sd.kb_jwt is None and len(sd.disclosures) == 3
    assert len(parse_disclosure(sd.disclosures[0]).salt) == 22  # 128 bits


def test_visible_and_selective_may_not_overlap() -> None:
    with pytest.raises(DisclosureInvalid):
        issue_sd_jwt(TestSigner(), {"iss": "x"}, {"iss": "y"}, lambda n: b"\0" * n)


@pytest.mark.parametrize("bad", ["", "a.b.c", "abc~", "a.b.c~~", "a.b.c~d~e.f", "é.b.c~"])
def test_split_compact_refuses_malformed(bad: str) -> None:
    if bad == "a.b.c":
        with pytest.raises(SdJwtMalformed):
            split_compact(bad)
        return
    with pytest.raises(SdJwtMalformed):
        split_compact(bad)

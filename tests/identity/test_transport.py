from __future__ import annotations

import json
import zlib
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from identity import transport
from identity.errors import TransportError, TransportTooLarge
from keys.encoding import b64url_encode

b64 = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=80)
json_part = st.dictionaries(st.text(max_size=10), st.text(max_size=40) | st.integers() | b64, max_size=6)


def _enc(obj: object) -> str:
    import json

    return b64url_encode(json.dumps(obj, ensure_ascii=False).encode())


@settings(max_examples=60)
@given(
    header=json_part,
    payload=json_part,
    sig=st.binary(max_size=80),
    disclosures=st.lists(st.lists(st.text(max_size=20) | b64, min_size=2, max_size=3), max_size=5),
    kb=st.none() | st.tuples(json_part, json_part, st.binary(max_size=70)),
)
def test_structured_round_trip(header, payload, sig, disclosures, kb) -> None:  # type: ignore[no-untyped-def]
    compact = ".".join([_enc(header), _enc(payload), b64url_encode(sig)]) + "~"
    compact += "".join(_enc(d) + "~" for d in disclosures)
    if kb is not None:
        compact += ".".join([_enc(kb[0]), _enc(kb[1]), b64url_encode(kb[2])])
    payload_text = transport.encode(compact)
    assert payload_text.startswith("XI2:")
    assert set(payload_text) <= set(transport._B43)
    assert transport.decode(payload_text) == compact


def _presentation_with_refs(nonce: str = "n-1") -> str:
    """A compact SD-JWT+KB whose payload lists its disclosures' digests and whose KB-JWT carries the real sd_hash."""
    from identity.presentation import sd_hash
    from identity.sdjwt import make_disclosure

    ds = [make_disclosure(f"salt-{i}-0123456789abcdef", f"c{i}", i) for i in range(3)]
    payload = {"iss": "https://x", "_sd": sorted([d.digest for d in ds] + ["A" * 43]), "_sd_alg": "sha-256"}
    presented = ".".join([_enc({"alg": "ES256", "typ": "dc+sd-jwt"}), _enc(payload), b64url_encode(b"s" * 64)]) + "~"
    presented += "".join(d.encoded + "~" for d in ds[:2])
    kb = {"iat": 1, "aud": "a", "nonce": nonce, "sd_hash": sd_hash(presented)}
    return presented + ".".join([_enc({"alg": "ES256", "typ": "kb+jwt"}), _enc(kb), b64url_encode(b"k" * 64)])


def test_computable_strings_travel_as_references() -> None:
    compact = _presentation_with_refs()
    container = transport._inflate(transport.b43_decode(transport.encode(compact)[4:]))
    assert bytes([transport._REF, 0]) in container and bytes([transport._REF, 1]) in container
    assert bytes([transport._SD_HASH]) in container
    assert transport.decode(transport.encode(compact)) == compact


def test_a_reference_to_a_missing_disclosure_is_refused() -> None:
    compact = _presentation_with_refs()
    container = transport._inflate(transport.b43_decode(transport.encode(compact)[4:]))
    forged = container.replace(bytes([transport._REF, 1]), bytes([transport._REF, 9]), 1)
    with pytest.raises(TransportError):
        transport.decode("XI2:" + transport.b43_encode(transport._deflate(forged)))


def test_payload_needs_no_escaping_in_a_link() -> None:
    payload_text = transport.encode(_presentation_with_refs())
    assert quote(payload_text, safe="$*+-./:") == payload_text


def test_xi1_payloads_still_decode() -> None:
    vector = json.loads((Path(__file__).parent / "transport_xi1_vector.json").read_text("utf-8"))
    assert vector["payload"].startswith("XI1:")
    assert transport.is_transport(vector["payload"])
    assert transport.decode(vector["payload"]) == vector["compact"]
    assert transport.decode(transport.encode(vector["compact"])) == vector["compact"]


@settings(max_examples=60)
@given(parts=st.lists(b64, min_size=3, max_size=3), tail=st.lists(b64, max_size=4))
def test_round_trip_of_non_canonical_text_falls_back_exactly(parts: list[str], tail: list[str]) -> None:
    compact = ".".join(parts) + "~" + "".join(t + "~" for t in tail)
    assert transport.decode(transport.encode(compact)) == compact


@given(st.binary(max_size=200))
def test_base45_round_trip(data: bytes) -> None:
    assert transport.b45_decode(transport.b45_encode(data)) == data


@given(st.binary(max_size=200))
def test_base43_round_trip(data: bytes) -> None:
    text = transport.b43_encode(data)
    assert len(text) == len(transport.b45_encode(data))
    assert transport.b43_decode(text) == data


@given(st.binary(max_size=64))
def test_base43_is_the_documents_codec(data: bytes) -> None:
    # One alphabet and digit order for XD1 and XI2, so that the two codecs can become one shared module.
    from ledger.documents.receipt import b43encode

    assert transport.b43_encode(data) == b43encode(data)


def test_base43_examples() -> None:
    # 65535 = 3 + 19 * 43 + 35 * 1849; 255 = 40 + 5 * 43 (alphabet: 0-9 A-Z $ * + - . / :).
    assert transport.b43_encode(b"\xff\xff") == "3JZ"
    assert transport.b43_encode(b"\xff") == ".5"
    assert transport.b43_encode(b"") == ""


@pytest.mark.parametrize("bad", ["::[", "0", "0000", " 00", "%00", "abc", "4JZ", ".6"])
def test_base43_is_strict(bad: str) -> None:
    with pytest.raises(TransportError):
        transport.b43_decode(bad)


def test_base45_rfc9285_examples() -> None:
    assert transport.b45_encode(b"AB") == "BB8"
    assert transport.b45_encode(b"Hello!!") == "%69 VD92EX0"
    assert transport.b45_encode(b"base-45") == "UJCLQE7W581"
    assert transport.b45_decode("QED8WEX0") == b"ietf!"


def test_decompression_bomb_is_refused() -> None:
    c = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, transport.ZDICT)
    bomb = c.compress(b"\x02" + b"A" * (4 * 1024 * 1024)) + c.flush()
    for payload in ("XI2:" + transport.b43_encode(bomb), "XI1:" + transport.b45_encode(bomb)):
        assert len(payload) < transport.MAX_PAYLOAD_CHARS
        with pytest.raises(TransportTooLarge) as info:
            transport.decode(payload)
        assert info.value.code == "TRANSPORT_TOO_LARGE"


def test_oversized_input_is_refused_before_decoding() -> None:
    with pytest.raises(TransportTooLarge):
        transport.decode("XI2:" + "0" * transport.MAX_PAYLOAD_CHARS)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "XI3:AAA",
        "XI2:a",
        "XI2: 00",
        "XI2:::::",
        "XI2:0",
        "XI2:" + transport.b43_encode(b"\x00\x01"),
        "XI1:a",
        "XI1:::::",
        "XI1:0",
        "XI1:" + transport.b45_encode(b"\x00\x01"),
    ],
)
def test_bad_payloads(bad: str) -> None:
    with pytest.raises(TransportError):
        transport.decode(bad)


def test_truncated_container_is_refused() -> None:
    c = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, transport.ZDICT)
    data = c.compress(b"\x00\x01\x50abc") + c.flush()
    with pytest.raises(TransportError):
        transport.decode("XI2:" + transport.b43_encode(data))

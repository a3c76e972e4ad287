from __future__ import annotations

import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from identity import transport
from identity._crypto import b64u_encode
from identity.errors import TransportError, TransportTooLarge

b64 = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=80)
json_part = st.dictionaries(st.text(max_size=10), st.text(max_size=40) | st.integers() | b64, max_size=6)


def _enc(obj: object) -> str:
    import json

    return b64u_encode(json.dumps(obj, ensure_ascii=False).encode())


@settings(max_examples=60)
@given(
    header=json_part,
    payload=json_part,
    sig=st.binary(max_size=80),
    disclosures=st.lists(st.lists(st.text(max_size=20) | b64, min_size=2, max_size=3), max_size=5),
    kb=st.none() | st.tuples(json_part, json_part, st.binary(max_size=70)),
)
def test_structured_round_trip(header, payload, sig, disclosures, kb) -> None:  # type: ignore[no-untyped-def]
    compact = ".".join([_enc(header), _enc(payload), b64u_encode(sig)]) + "~"
    compact += "".join(_enc(d) + "~" for d in disclosures)
    if kb is not None:
        compact += ".".join([_enc(kb[0]), _enc(kb[1]), b64u_encode(kb[2])])
    payload_text = transport.encode(compact)
    assert payload_text.startswith("XI1:")
    assert set(payload_text) <= set(transport._B45)
    assert transport.decode(payload_text) == compact


@settings(max_examples=60)
@given(parts=st.lists(b64, min_size=3, max_size=3), tail=st.lists(b64, max_size=4))
def test_round_trip_of_non_canonical_text_falls_back_exactly(parts: list[str], tail: list[str]) -> None:
    compact = ".".join(parts) + "~" + "".join(t + "~" for t in tail)
    assert transport.decode(transport.encode(compact)) == compact


@given(st.binary(max_size=200))
def test_base45_round_trip(data: bytes) -> None:
    assert transport.b45_decode(transport.b45_encode(data)) == data


def test_base45_rfc9285_examples() -> None:
    assert transport.b45_encode(b"AB") == "BB8"
    assert transport.b45_encode(b"Hello!!") == "%69 VD92EX0"
    assert transport.b45_encode(b"base-45") == "UJCLQE7W581"
    assert transport.b45_decode("QED8WEX0") == b"ietf!"


def test_decompression_bomb_is_refused() -> None:
    c = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, transport.ZDICT)
    bomb = c.compress(b"\x02" + b"A" * (4 * 1024 * 1024)) + c.flush()
    payload = "XI1:" + transport.b45_encode(bomb)
    assert len(payload) < transport.MAX_PAYLOAD_CHARS
    with pytest.raises(TransportTooLarge) as info:
        transport.decode(payload)
    assert info.value.code == "TRANSPORT_TOO_LARGE"


def test_oversized_input_is_refused_before_decoding() -> None:
    with pytest.raises(TransportTooLarge):
        transport.decode("XI1:" + "0" * transport.MAX_PAYLOAD_CHARS)


@pytest.mark.parametrize(
    "bad", ["", "XI2:AAA", "XI1:a", "XI1:::::", "XI1:0", "XI1:" + transport.b45_encode(b"\x00\x01")]
)
def test_bad_payloads(bad: str) -> None:
    with pytest.raises(TransportError):
        transport.decode(bad)


def test_truncated_container_is_refused() -> None:
    c = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, transport.ZDICT)
    data = c.compress(b"\x00\x01\x50abc") + c.flush()
    with pytest.raises(TransportError):
        transport.decode("XI1:" + transport.b45_encode(data))

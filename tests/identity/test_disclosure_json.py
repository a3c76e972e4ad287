"""The hand-written disclosure JSON (identity._disclosure_json) gives exactly what the plain encoder gives."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from identity._disclosure_json import disclosure_json
from identity.sdjwt import make_disclosure
from keys.encoding import b64url_decode, json_bytes

_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
_VALUES = st.recursive(
    _SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4), max_leaves=8
)


def _plain(salt: str, name: str | None, value: Any) -> str:
    return json_bytes([salt, value] if name is None else [salt, name, value]).decode("utf-8")


@given(st.text(), st.none() | st.text(), _VALUES)
def test_disclosure_json_equals_the_plain_encoder(salt: str, name: str | None, value: Any) -> None:
    assert disclosure_json(salt, name, value) == _plain(salt, name, value)


@given(st.text(), st.text().filter(lambda n: n not in ("_sd", "...")), _VALUES)
def test_a_disclosure_is_the_plain_encoding(salt: str, name: str, value: Any) -> None:
    assert b64url_decode(make_disclosure(salt, name, value).encoded) == json_bytes([salt, name, value])


def test_int_and_str_subclasses_take_the_plain_path() -> None:
    class Name(str):
        pass

    for value in (True, False, 10**40, -1, Name('x\u2028"\\'), "\x00\x7f\u00e9", 1.5, None, [1, "a"], {"b": {}}):
        assert disclosure_json("s", "n", value) == _plain("s", "n", value)
        assert disclosure_json("s", None, value) == _plain("s", None, value)

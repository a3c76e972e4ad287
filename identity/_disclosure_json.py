"""A disclosure's JSON written directly: the one speed trick behind :func:`identity.sdjwt.make_disclosure`, kept apart.

Worth it by ``make bench``: through the JSON encoder, issuing a credential of ten disclosures is about 9 % slower
(docs/benchmarks.md). For the scalar claims a credential carries (strings, integers, booleans) this writes what
:func:`keys.encoding.json_bytes` writes for ``[salt, name, value]``; any other value goes through ``json_bytes``.
tests/identity/test_disclosure_json.py proves the two equal.
"""

from __future__ import annotations

from json.encoder import encode_basestring  # the string encoder json.dumps uses with ensure_ascii=False
from typing import Any

from keys.encoding import json_bytes

__all__ = ["disclosure_json"]


def disclosure_json(salt: str, name: str | None, value: Any) -> str:
    """``json_bytes([salt, name, value])`` as text (``[salt, value]`` for an array element, ``name`` None)."""
    head = "[" + encode_basestring(salt) + ("," if name is None else "," + encode_basestring(name) + ",")
    return head + _value(value) + "]"


def _value(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is str:
        return encode_basestring(value)
    if type(value) is int:
        return int.__repr__(value)
    return json_bytes(value).decode("utf-8")

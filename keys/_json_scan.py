"""JSON text parsed by the decoder's C scanner directly: the one speed trick behind :func:`keys.encoding.json_loads`.

``json.loads`` runs two whitespace regular expressions around the C scanner; for the small JSON of a JWS part or a
disclosure they cost more than the parse itself. Worth it by ``make bench``: through ``json.loads``, digital-ID
presentations are verified about 6 % slower (docs/benchmarks.md). ``scan_once`` is the standard decoder's private
attribute (CPython's ``json.decoder.JSONDecoder`` sets it). tests/keys/test_encoding.py proves the result equals
``json.loads``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = ["loads"]

_DECODER = json.JSONDecoder()
_SCAN: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]


def loads(text: str) -> Any:
    """``json.loads(text)``: the same value, and a ``ValueError`` for what it refuses."""
    try:
        value, end = _SCAN(text, 0)
    except StopIteration:
        return _DECODER.decode(text)  # leading whitespace (allowed), or the error message for bad JSON
    if end != len(text) and text[end:].strip(" \t\n\r"):
        raise ValueError("extra data after the JSON value")
    return value

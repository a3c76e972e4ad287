"""How deeply a JSON text nests, found without parsing it, so untrusted JSON can be refused before a parser
recurses into it.

Python's ``json`` parser recurses once per ``[`` or ``{``. Under the default recursion limit a deep document raises
``RecursionError``; under a raised one (some dependencies raise it to 100,000 at import) it overflows the C stack
and the process dies. ``check_json_depth`` answers in linear time, in C-speed passes (a regular expression drops the
strings, a byte translation keeps the brackets, a running sum finds the deepest point), and never recurses itself.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from keys.errors import JsonTooDeep
from keys.limits import JSON_DEPTH

__all__ = ["MAX_JSON_DEPTH", "check_json_depth", "json_depth", "loads"]

MAX_JSON_DEPTH = JSON_DEPTH

# A string from its opening quote to its closing one, escapes skipped; an unterminated string runs to the end of
# the text (possessive and with an optional close, so the match never backtracks and the pass stays linear).
_STRING = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"?', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1
_OPENERS = (b"[", b"{")


def json_depth(data: str | bytes) -> int:
    """The deepest nesting of ``data`` (``0`` for a scalar, ``1`` for ``[]``), read as ``json.loads`` reads it.

    For any text, it is at least the depth the parser reaches before it finishes or fails, so it is safe to test
    before parsing: brackets inside strings do not count, brackets after a syntax error may (invalid JSON can only
    be over-counted). Bytes are decoded as ``json.loads`` decodes them (UTF-8, -16 or -32, by their first bytes);
    bytes that do not decode have depth 0, since the parser refuses them before it recurses.
    """
    if isinstance(data, bytes | bytearray):
        try:
            text = bytes(data).decode(json.detect_encoding(data), "surrogatepass")
        except (UnicodeDecodeError, LookupError):
            return 0
    else:
        text = data
    brackets = _STRING.sub("", text).encode("utf-8", "surrogatepass").translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def check_json_depth(data: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raises ``JsonTooDeep`` when ``data`` nests deeper than ``max_depth``."""
    # Too few brackets to nest that deep: no need to look closer. (Every encoding json reads keeps a bracket's
    # byte, so counting bytes never undercounts.)
    openers = data.count("[") + data.count("{") if isinstance(data, str) else sum(data.count(o) for o in _OPENERS)
    if openers <= max_depth:
        return
    if json_depth(data) > max_depth:
        raise JsonTooDeep(f"the JSON nests deeper than {max_depth} levels", max_depth=max_depth)


def loads(data: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` for untrusted input: refuses a document nested deeper than ``max_depth`` before parsing."""
    check_json_depth(data, max_depth)
    return json.loads(data)

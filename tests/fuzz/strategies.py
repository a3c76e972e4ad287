"""Hypothesis strategies for fuzzing decoders: random text and bytes, and mutations of a valid encoding (a flipped
character or byte, a cut, a splice of junk or of the encoding's own pieces, parts duplicated, dropped or swapped
around a separator), and structural mutations of a JSON document (a value replaced, a key dropped or added).

Mutating a valid encoding reaches the deep parts of a decoder that random input never gets past the first check of.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

__all__ = [
    "B43",
    "B64URL",
    "json_values",
    "junk_bytes",
    "junk_text",
    "mutated_bytes",
    "mutated_json",
    "mutated_text",
]

B43 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ$*+-./:"
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
#: Characters a decoder's own syntax gives meaning to.
_SYNTAX = '~.:/#?=&%{}[]",\\ \x00\n'

_scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=30)
json_values = st.recursive(
    _scalars | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def junk_text(alphabet: str = B64URL, max_size: int = 400) -> st.SearchStrategy[str]:
    """Random text: any Unicode, the format's own alphabet, and the alphabet mixed with its syntax characters."""
    return st.one_of(
        st.text(max_size=max_size),
        st.text(alphabet=alphabet, max_size=max_size),
        st.text(alphabet=alphabet + _SYNTAX, max_size=max_size),
    )


def junk_bytes(max_size: int = 2000) -> st.SearchStrategy[bytes]:
    return st.binary(max_size=max_size)


def _pieces(text: str) -> st.SearchStrategy[str]:
    """Junk to splice in: random text, the alphabet, or a slice of the encoding itself."""
    n = len(text)
    own = st.tuples(st.integers(0, n), st.integers(0, 64)).map(lambda t: text[t[0] : t[0] + t[1]])
    return st.one_of(own, st.text(alphabet=B64URL + B43 + _SYNTAX, max_size=24), st.text(max_size=8))


@st.composite
def _text_step(draw: st.DrawFn, text: str, separators: str) -> str:
    n = len(text)
    op = draw(st.sampled_from(("flip", "cut", "splice", "delete", "parts")))
    if op == "flip" and n:
        i = draw(st.integers(0, n - 1))
        return text[:i] + draw(st.sampled_from(B64URL + B43 + _SYNTAX) | st.characters()) + text[i + 1 :]
    if op == "cut":
        i = draw(st.integers(0, n))
        return text[:i] if draw(st.booleans()) else text[i:]
    if op == "splice":
        i = draw(st.integers(0, n))
        return text[:i] + draw(_pieces(text)) + text[i:]
    if op == "delete" and n:
        i = draw(st.integers(0, n - 1))
        return text[:i] + text[i + draw(st.integers(1, 16)) :]
    sep = draw(st.sampled_from(separators))
    parts = text.split(sep)
    if len(parts) < 2:
        return text + sep + text[: draw(st.integers(0, n))]
    i, j = draw(st.integers(0, len(parts) - 1)), draw(st.integers(0, len(parts) - 1))
    how = draw(st.sampled_from(("duplicate", "drop", "swap", "empty")))
    if how == "duplicate":
        parts.insert(j, parts[i])
    elif how == "drop":
        del parts[i]
    elif how == "swap":
        parts[i], parts[j] = parts[j], parts[i]
    else:
        parts[i] = ""
    return sep.join(parts)


@st.composite
def mutated_text(draw: st.DrawFn, valid: str, separators: str = "~.") -> str:
    """``valid`` with one to three mutations; may, rarely, come back unchanged."""
    text = valid
    for _ in range(draw(st.integers(1, 3))):
        text = draw(_text_step(text, separators))
    return text


@st.composite
def mutated_bytes(draw: st.DrawFn, valid: bytes) -> bytes:
    """``valid`` with one to three byte-level mutations (flip, cut, splice, delete, a range duplicated)."""
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 3))):
        n = len(data)
        op = draw(st.sampled_from(("flip", "cut", "splice", "delete", "repeat")))
        i = draw(st.integers(0, max(n - 1, 0)))
        if op == "flip" and n:
            data[i] ^= draw(st.integers(1, 255))
        elif op == "cut":
            data = data[:i]
        elif op == "splice":
            data[i:i] = draw(st.binary(max_size=32) | st.sampled_from([b"%%EOF", b"/XacthucStamp", b"<<", b">>"]))
        elif op == "delete":
            del data[i : i + draw(st.integers(1, 64))]
        else:
            data[i:i] = data[i : i + draw(st.integers(1, 64))]
    return bytes(data)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        copy = dict(value)
        if new is _DROP and not rest:
            del copy[head]
        else:
            copy[head] = _replace(value[head], rest, new)
        return copy
    items = list(value)
    if new is _DROP and not rest:
        del items[head]
    else:
        items[head] = _replace(value[head], rest, new)
    return items


_DROP = object()


@st.composite
def mutated_json(draw: st.DrawFn, valid: Any) -> Any:
    """``valid`` (a JSON document) with one or two nodes replaced by random JSON, dropped, or given a new key."""
    value = valid
    for _ in range(draw(st.integers(1, 2))):
        path = draw(st.sampled_from(_paths(value)))
        how = draw(st.sampled_from(("replace", "drop", "add")))
        if how == "drop" and path:
            value = _replace(value, path, _DROP)
        elif how == "add":
            target: Any = value
            for p in path:
                target = target[p]
            if isinstance(target, dict):
                value = _replace(value, path, {**target, draw(st.text(max_size=8)): draw(json_values)})
            else:
                value = _replace(value, path, draw(json_values))
        else:
            value = _replace(value, path, draw(json_values))
    return value

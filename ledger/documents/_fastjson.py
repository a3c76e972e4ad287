"""The stored metadata's JSON filled into a fixed template: the one speed trick behind bulk issuance's rows, kept apart.

Worth it by ``make bench``: with ``json.dumps`` per document (or an encoder built once), bulk issuance measured 4-9 %
slower (docs/benchmarks.md). The keys are always the Decree 30 fields, so only the values are encoded, by the
string encoder ``json.dumps`` itself uses. tests/ledger/test_fastjson.py proves the text equals
``json.dumps(meta, ensure_ascii=False, sort_keys=True)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from json.encoder import encode_basestring  # what json.dumps uses for strings with ensure_ascii=False
from typing import Any

from ledger.documents.metadata import DOCUMENT_FIELDS

__all__ = ["metadata_json"]

_KEYS = tuple(sorted(DOCUMENT_FIELDS))
_TEMPLATE = "{" + ", ".join(f'"{k}": %s' for k in _KEYS) + "}"
_encode: Callable[[str], str] = encode_basestring


def metadata_json(meta: Mapping[str, Any]) -> str:
    """``json.dumps(meta, ensure_ascii=False, sort_keys=True)`` for a metadata dict: the Decree 30 fields, each a
    string or None (``Document.to_dict``)."""
    return _TEMPLATE % tuple(["null" if meta[k] is None else _encode(meta[k]) for k in _KEYS])

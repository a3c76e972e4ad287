"""Every error code in Vietnamese and English: the one catalogue the API, the pages and the CLI share.

The sentences live in ``error_messages.vi.json`` and ``error_messages.en.json`` beside this module (keys/ is the
bottom layer, so every package may use them): ``codes`` holds one template per code, filled in with the fields the
exception carries (``{number}``, ``{document_id}``, ``{label}`` for the Vietnamese name of ``field``, ...); ``fields``
names the fields people type (the agency portal's form labels come from here too); ``details`` (Vietnamese only)
translates the reasons a ``DOC_FIELD_INVALID`` family error gives in English ("is in the future"), so the issue
form's live errors say what is wrong and not just which field.

A template is a string or a list of variants, the first that fits wins: a variant ``{"if": "kid", "text": ...}``
fits when the exception has that field (not None, False or empty), a plain string when every placeholder has a value.

English stays the exception's own ``message`` (specific, and what machine clients have always read); the English
templates serve where there is only a code. ``tests/keys/test_error_messages.py`` proves every pinned code has both
languages and that every template renders with the fields its exception really carries.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from keys.errors import InvalidInput, XacthucError

__all__ = [
    "LANGS",
    "code_message",
    "codes",
    "error_dict",
    "field_label",
    "field_labels",
    "lang_from_accept_language",
    "lang_from_locale",
    "message",
    "placeholders",
    "template_values",
]

LANGS = ("vi", "en")
_DIR = Path(__file__).resolve().parent
# a batch's refused item: "documents[3]: ..." or "documents[3].file_base64: ..."
_ITEM_RE = re.compile(r"documents\[(?P<item>\d+)\](?:\.(?P<field>[\w-]+))?: ")
_Variant = str | dict[str, Any]


@cache
def _catalogue(lang: str) -> dict[str, Any]:
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}")
    data: dict[str, Any] = json.loads((_DIR / f"error_messages.{lang}.json").read_text(encoding="utf-8"))
    return data


@cache
def _details() -> list[tuple[re.Pattern[str], str]]:
    """The Vietnamese ``details``: each English reason turned into a pattern (``{name}`` matches any text)."""
    out = []
    for english, vietnamese in _catalogue("vi")["details"]:
        parts = string.Formatter().parse(english)
        pattern = "".join(re.escape(text) + (f"(?P<{name}>.+?)" if name else "") for text, name, _, _ in parts)
        out.append((re.compile(pattern), vietnamese))
    return out


def codes(lang: str) -> frozenset[str]:
    """The codes the catalogue has a message for in ``lang``."""
    return frozenset(_catalogue(lang)["codes"])


def field_labels(lang: str) -> dict[str, str]:
    """The names of the fields people type, in ``lang`` (``number`` → ``Số, ký hiệu``)."""
    return dict(_catalogue(lang)["fields"])


def field_label(name: str, lang: str) -> str:
    """One field's name in ``lang``; a field the catalogue does not name is shown as it is spelled."""
    label: str = _catalogue(lang)["fields"].get(name, name)
    return label


def lang_from_accept_language(header: str | None) -> str:
    """``vi`` when the most preferred language the header names that we have is Vietnamese, else ``en`` (no header,
    ``*``, or any other language: English, what machine clients have always read)."""
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate((header or "").split(",")):
        tag, _, params = item.strip().partition(";")
        q = 1.0
        match = re.search(r"q\s*=\s*([^\s;]*)", params)
        if match is not None:
            try:
                q = float(match[1])
            except ValueError:
                q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if q > 0 and primary in ("vi", "en", "*"):
            ranked.append((-q, position, primary))
    return "vi" if ranked and min(ranked)[2] == "vi" else "en"


def lang_from_locale(environ: Mapping[str, str]) -> str:
    """``vi`` when the locale for messages (``LC_ALL``, else ``LC_MESSAGES``, else ``LANG``: POSIX's order) starts
    with ``vi``, else ``en``."""
    for value in (environ.get("LC_ALL", ""), environ.get("LC_MESSAGES", ""), environ.get("LANG", "")):
        if value:
            return "vi" if value.lower().startswith("vi") else "en"
    return "en"


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _split(exc: XacthucError) -> tuple[str, int | None, str | None]:
    """The exception's own reason, without the ``documents[i]:`` of a batch or the ``field:`` prefix; the item
    and the field those named."""
    rest, item, field = exc.message, None, getattr(exc, "field", None)
    match = _ITEM_RE.match(rest)
    if match is not None:
        rest, item = rest[match.end() :], int(match["item"])
        field = field or match["field"]
    if isinstance(field, str) and rest.startswith(f"{field}: "):
        rest = rest[len(field) + 2 :]
    return rest, item, field if isinstance(field, str) else None


def template_values(exc: XacthucError, lang: str) -> dict[str, Any]:
    """What a template may name for this exception: its fields (those set, as text), ``label`` (the field's name in
    ``lang``), ``n`` / ``first_n`` / ``second_n`` (a batch item counted from 1) and ``detail`` (the English
    message, when it says more than the code's default)."""
    values: dict[str, Any] = {}
    for name, value in vars(exc).items():
        if name.startswith("_") or name == "message" or value is None or value is False or value == "":
            continue
        values[name] = value if isinstance(value, bool) else _text(value)
    rest, item, field = _split(exc)
    if field is not None:
        values["field"] = field
        values["label"] = field_label(field, lang)
    if item is not None:
        values.setdefault("item", str(item))
    for name in ("item", "first", "second"):
        if name in values:
            values[f"{name}_n" if name != "item" else "n"] = str(int(values[name]) + 1)
    if exc.message != exc.default_message():
        values["detail"] = rest
    return values


def _fits(variant: _Variant, values: Mapping[str, Any]) -> str | None:
    text = variant if isinstance(variant, str) else variant["text"]
    if isinstance(variant, dict):
        wanted = variant["if"] if isinstance(variant["if"], list) else [variant["if"]]
        if not all(values.get(name) for name in wanted):
            return None
    try:
        return text.format_map(values)
    except (KeyError, IndexError):
        return None


def _variants(code: str, lang: str) -> list[_Variant]:
    template = _catalogue(lang)["codes"][code]
    return list(template) if isinstance(template, list) else [template]


def placeholders(code: str, lang: str) -> set[str]:
    """Every name the templates of ``code`` in ``lang`` use (placeholders and ``if`` conditions)."""
    names: set[str] = set()
    for variant in _variants(code, lang):
        text = variant if isinstance(variant, str) else variant["text"]
        names.update(name for _, name, _, _ in string.Formatter().parse(text) if name)
        if isinstance(variant, dict):
            names.update(variant["if"] if isinstance(variant["if"], list) else [variant["if"]])
    return names


def code_message(code: str, lang: str, **fields: Any) -> str:
    """The message for a bare ``code`` (an HTTP status, a code a page knows) in ``lang``, filled in from ``fields``
    when its templates name them; a code the catalogue lacks gets the general sentence and the code."""
    values = {k: _text(v) if not isinstance(v, bool) else v for k, v in fields.items() if v is not None}
    if code in _catalogue(lang)["codes"]:
        for variant in _variants(code, lang):
            text = _fits(variant, values)
            if text is not None:
                return text
    unknown: str = _catalogue(lang)["unknown_code"]
    return unknown.format(code=code)


def _template_code(exc: XacthucError, lang: str) -> str:
    """The code whose template speaks for ``exc``: its own, else its nearest ancestor's (a class added before the
    catalogue caught up still gets a sentence)."""
    known = _catalogue(lang)["codes"]
    for cls in type(exc).__mro__:
        code = getattr(cls, "code", None)
        if isinstance(code, str) and code in known:
            return code
    return "XACTHUC_ERROR"


def message(exc: XacthucError, lang: str) -> str:
    """``exc`` said in ``lang``: English is the exception's own message; Vietnamese is the catalogue's template
    for its code filled in with its fields (a batch item's number in front)."""
    if lang == "en":
        return exc.message
    values = template_values(exc, lang)
    rest, item, _ = _split(exc)
    text = None
    if isinstance(exc, InvalidInput):
        for pattern, template in _details():
            match = pattern.fullmatch(rest)
            if match is not None:
                text = _fits(template, {**values, **match.groupdict()})
                if text is not None:
                    break
    if text is None:
        code = _template_code(exc, lang)
        text = next((t for v in _variants(code, lang) if (t := _fits(v, values)) is not None), None)
        text = text or code_message(exc.code, lang)
    if item is not None and "second" not in values:  # a duplicate inside a batch names both items itself
        text = _catalogue(lang)["batch_item"].format(n=item + 1, item=item, message=text)
    return text


def error_dict(exc: XacthucError, lang: str) -> dict[str, str]:
    """The API's error object (``code``, ``message``, ``field`` when known) with the message in ``lang``, and
    ``lang`` saying which language that is."""
    return {**exc.to_dict(), "message": message(exc, lang), "lang": lang}

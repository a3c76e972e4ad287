"""The pages' language: Vietnamese by default, English one click away, the choice remembered in a cookie.

Page strings live in ``messages/vi.json`` and ``messages/en.json`` (the same keys in both: a test proves it); the
check codes' messages live in ``verifier.messages``, which the API shares; the names of the fields people type
(``agency.field.number``: "Số, ký hiệu") come from ``keys.error_messages``, the catalogue the API's errors name them
from, so a form's label and the error about it never differ.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from keys.error_messages import field_labels

__all__ = ["COOKIE", "DEFAULT_LANG", "LANGS", "Translator", "catalogue", "choose_lang"]

LANGS = ("vi", "en")
DEFAULT_LANG = "vi"
COOKIE = "lang"
_DIR = Path(__file__).resolve().parent / "messages"


@cache
def catalogue(lang: str) -> dict[str, str]:
    """Every page string in ``lang`` (one of :data:`LANGS`), by key."""
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}")
    data: dict[str, str] = json.loads((_DIR / f"{lang}.json").read_text(encoding="utf-8"))
    for part in sorted(_DIR.glob(f"*.{lang}.json")):  # a part's own strings (agency.vi.json: the portal's)
        data.update(json.loads(part.read_text(encoding="utf-8")))
    data.update({f"agency.field.{name}": label for name, label in field_labels(lang).items()})
    return data


def choose_lang(query: str | None, cookie: str | None) -> str:
    """``?lang=`` wins, then the remembered cookie, then Vietnamese."""
    for candidate in (query, cookie):
        if candidate in LANGS:
            assert candidate is not None
            return candidate
    return DEFAULT_LANG


class Translator:
    """``t("key", name=...)``: the page string in this language, its ``{name}`` fields filled in."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.messages = catalogue(lang)

    def __call__(self, key: str, **fields: Any) -> str:
        text = self.messages[key]  # a missing key is a bug the page tests catch, never a blank on the page
        return text.format(**fields) if fields else text

    def prefixed(self, prefix: str) -> dict[str, str]:
        """The strings whose key starts with ``prefix`` (what a page's script needs, sent as JSON data)."""
        return {k: v for k, v in self.messages.items() if k.startswith(prefix)}

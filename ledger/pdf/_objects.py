"""The one place that adds an object to a pypdf writer (pypdf has no public name for it; its own docs use this)."""

from __future__ import annotations

from pypdf import PdfWriter
from pypdf.generic import IndirectObject, PdfObject

__all__ = ["add_object"]


def add_object(writer: PdfWriter, obj: PdfObject) -> IndirectObject:
    """Add ``obj`` to ``writer`` as a new indirect object and return its reference."""
    return writer._add_object(obj)

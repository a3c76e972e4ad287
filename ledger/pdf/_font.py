"""A TrueType font embedded as a subset, so PDF text can be Vietnamese: ``Văn bản điện tử được xác thực``.

pypdf writes objects but lays out no text and embeds no font, and the 14 standard PDF fonts have no Vietnamese
letters (ạ, ữ, ơ...). So the text is shown with a Type0 font (Identity-H, two bytes per glyph id) over a subset of
DejaVu Sans (Debian's ``fonts-dejavu-core``; Noto Sans as a fallback), cut by fontTools to the glyphs used, with
glyph ids kept (``retain_gids``) so a character's code is its glyph id in the full font, and a ToUnicode map, so the
text can be selected, searched and read aloud.
"""

from __future__ import annotations

import functools
import io
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont
from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    FloatObject,
    IndirectObject,
    NameObject,
    NumberObject,
    StreamObject,
    TextStringObject,
)

from ._objects import add_object
from .errors import PdfFontUnavailable

__all__ = ["FONT_CANDIDATES", "EmbeddedFont", "load_font"]

FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf"),
)


@functools.cache
def _full_font(path: Path) -> tuple[bytes, dict[int, str], dict[str, int], int]:
    data = path.read_bytes()
    font = TTFont(io.BytesIO(data))
    cmap = font.getBestCmap()
    order = font.getGlyphOrder()
    gids = {name: i for i, name in enumerate(order)}
    return data, {cp: name for cp, name in cmap.items()}, gids, int(font["head"].unitsPerEm)


def _widths(path: Path) -> dict[str, int]:
    font = TTFont(str(path))
    return {name: int(adv) for name, (adv, _lsb) in font["hmtx"].metrics.items()}


_widths_cached = functools.cache(_widths)


def load_font(candidates: Iterable[Path] = FONT_CANDIDATES) -> Path:
    """The first font file that exists; :class:`PdfFontUnavailable` when none does (install fonts-dejavu-core)."""
    for path in candidates:
        if path.is_file():
            return path
    raise PdfFontUnavailable(
        "no font with Vietnamese letters was found (looked for "
        + ", ".join(str(p) for p in candidates)
        + "): install Debian's fonts-dejavu-core"
    )


class EmbeddedFont:
    """Measures and encodes text in one font; :meth:`add_to` embeds the subset of every character encoded so far."""

    def __init__(self, path: Path) -> None:
        self.path = path
        _data, self._cmap, self._gids, self._upem = _full_font(path)
        self._advance = _widths_cached(path)
        self._used: dict[int, str] = {}  # glyph id -> the text it stands for

    def _glyph(self, ch: str) -> str:
        name = self._cmap.get(ord(ch))
        if name is None:
            name = self._cmap.get(ord("?"), ".notdef")
        return name

    def width(self, text: str, size: float) -> float:
        """The advance width of ``text`` at ``size`` points."""
        text = unicodedata.normalize("NFC", text)
        return sum(self._advance.get(self._glyph(ch), 0) for ch in text) * size / self._upem

    def encode(self, text: str) -> str:
        """The text as a PDF hex string of 2-byte glyph ids (Identity-H), e.g. ``<00370048>``."""
        out = []
        for ch in unicodedata.normalize("NFC", text):
            name = self._glyph(ch)
            gid = self._gids[name]
            self._used.setdefault(gid, ch)
            out.append(f"{gid:04X}")
        return "<" + "".join(out) + ">"

    def add_to(self, writer: PdfWriter) -> IndirectObject:
        """Add the Type0 font (subset, widths, ToUnicode) to ``writer``; returns its reference."""
        options = subset.Options()
        options.retain_gids = True
        options.notdef_outline = True
        options.name_IDs = ["*"]
        options.drop_tables += ["FFTM", "GPOS", "GSUB", "GDEF", "kern"]
        font = TTFont(str(self.path), recalcTimestamp=False)  # the same stamp for the same document
        subsetter = subset.Subsetter(options)
        subsetter.populate(gids=sorted({0, *self._used}))
        subsetter.subset(font)
        buf = io.BytesIO()
        font.save(buf)
        data = buf.getvalue()
        scale = 1000 / self._upem
        head, hhea = font["head"], font["hhea"]

        file_stream = StreamObject()
        file_stream.set_data(data)
        file_stream[NameObject("/Length1")] = NumberObject(len(data))
        file_stream = file_stream.flate_encode()
        descriptor = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/FontDescriptor"),
                NameObject("/FontName"): NameObject("/XACTHU+DejaVuSans"),
                NameObject("/Flags"): NumberObject(32),
                NameObject("/FontBBox"): ArrayObject(
                    FloatObject(round(v * scale)) for v in (head.xMin, head.yMin, head.xMax, head.yMax)
                ),
                NameObject("/ItalicAngle"): NumberObject(0),
                NameObject("/Ascent"): FloatObject(round(hhea.ascent * scale)),
                NameObject("/Descent"): FloatObject(round(hhea.descent * scale)),
                NameObject("/CapHeight"): FloatObject(round(hhea.ascent * scale)),
                NameObject("/StemV"): NumberObject(80),
                NameObject("/FontFile2"): add_object(writer, file_stream),
            }
        )
        widths = ArrayObject()
        for gid in sorted(self._used):
            name = font.getGlyphOrder()[gid] if gid < len(font.getGlyphOrder()) else ".notdef"
            adv = self._advance.get(self._glyph(self._used[gid]), self._advance.get(name, 0))
            widths += [NumberObject(gid), ArrayObject([FloatObject(round(adv * scale))])]
        cid_font = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/CIDFontType2"),
                NameObject("/BaseFont"): NameObject("/XACTHU+DejaVuSans"),
                NameObject("/CIDSystemInfo"): DictionaryObject(
                    {
                        NameObject("/Registry"): TextStringObject("Adobe"),
                        NameObject("/Ordering"): TextStringObject("Identity"),
                        NameObject("/Supplement"): NumberObject(0),
                    }
                ),
                NameObject("/FontDescriptor"): add_object(writer, descriptor),
                NameObject("/W"): widths,
                NameObject("/CIDToGIDMap"): NameObject("/Identity"),
            }
        )
        to_unicode = DecodedStreamObject()
        to_unicode.set_data(_to_unicode(self._used).encode("ascii"))
        type0 = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type0"),
                NameObject("/BaseFont"): NameObject("/XACTHU+DejaVuSans"),
                NameObject("/Encoding"): NameObject("/Identity-H"),
                NameObject("/DescendantFonts"): ArrayObject([add_object(writer, cid_font)]),
                NameObject("/ToUnicode"): add_object(writer, to_unicode.flate_encode()),
            }
        )
        return add_object(writer, type0)


def _to_unicode(used: dict[int, str]) -> str:
    lines = [
        "/CIDInit /ProcSet findresource begin",
        "12 dict begin",
        "begincmap",
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
        "/CMapName /Adobe-Identity-UCS def",
        "/CMapType 2 def",
        "1 begincodespacerange",
        "<0000> <FFFF>",
        "endcodespacerange",
    ]
    items = sorted(used.items())
    for start in range(0, len(items), 100):
        chunk = items[start : start + 100]
        lines.append(f"{len(chunk)} beginbfchar")
        lines += [f"<{gid:04X}> <{''.join(f'{u:04X}' for u in _utf16(ch))}>" for gid, ch in chunk]
        lines.append("endbfchar")
    lines += ["endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
    return "\n".join(lines) + "\n"


def _utf16(ch: str) -> list[int]:
    raw = ch.encode("utf-16-be")
    return [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]

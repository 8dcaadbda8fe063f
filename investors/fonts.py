"""The Japanese font every document embeds: IPAexGothic, shipped by the ``matplotlib-fontja``
wheel, so it installs with ``pip`` alone.

Why a TrueType font and not reportlab's CID fonts: a CID font is only *named* in the PDF, and a
viewer without Japanese fonts shows blanks. A ``TTFont`` is embedded as a subset of the glyphs
the document uses (``FontFile2``), so the document reads the same everywhere. The IPA Font
License v1.0 (shipped next to the font) allows embedding in documents (第2条 2項・3項).

Speed. Parsing the 4 MB font takes a noticeable fraction of a second, so it is registered once
per process. Building and compressing a font subset is most of the cost of a one-page document,
and statements of one kind share most of their characters (labels, digits, dates). So a document
first *seeds* its first subset with a fixed alphabet (:func:`seed_alphabet`: the characters of
the labels of its language, then digits and ASCII, then cheap filler glyphs, 254 in all), which
makes that subset the same for every document of the language; :class:`CachedTTFont` keeps the
finished, compressed subset objects by content, so a batch builds them once. Characters outside
the alphabet (names, addresses) go to a second, small subset built per document. The output
depends only on the document, never on what was rendered before: the cache holds bytes that the
same inputs always produce.
"""

from __future__ import annotations

import zlib
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from reportlab.pdfbase import pdfdoc, pdfmetrics
from reportlab.pdfbase.ttfonts import (
    FF_NONSYMBOLIC,
    FF_SYMBOLIC,
    SUBSETN,
    TTFont,
    makeToUnicodeCMap,
)

FONT_NAME = "IPAexGothic"
_PACKAGE = "matplotlib_fontja"
_FONT_FILE = "ipaexg.ttf"
_LICENCE_FILE = "IPA_Font_License_Agreement_v1.0.txt"
# Codes 0 (.notdef) and 32 (space) are reserved in every subset: 254 codes remain.
_SUBSET_CODES = 254
_CACHE_SIZE = 64


def font_path() -> Path:
    """Where the installed wheel keeps ``ipaexg.ttf``."""
    return Path(str(files(_PACKAGE) / "fonts" / _FONT_FILE))


def licence_path() -> Path:
    """The IPA Font License shipped with the font."""
    return Path(str(files(_PACKAGE) / "fonts" / _LICENCE_FILE))


@dataclass(frozen=True)
class _SubsetParts:
    """The finished bytes of one embedded subset: what a document needs to reference it."""

    base_name: str
    last_char: int
    widths: bytes
    to_unicode: bytes
    font_file: bytes
    font_file_length: int


def _flate(content: bytes) -> pdfdoc.PDFStream:
    """A stream whose content is already Flate-compressed, so reportlab does not compress it
    again for every document."""
    dictionary = pdfdoc.PDFDictionary({"Filter": pdfdoc.PDFArray([pdfdoc.PDFName("FlateDecode")])})
    return pdfdoc.PDFStream(dictionary, content)


class CachedTTFont(TTFont):  # type: ignore[misc]  # reportlab ships no type hints
    """A ``TTFont`` whose embedded subsets are built once per distinct content and reused.

    The objects written are those reportlab writes (TrueType font, Widths, ToUnicode CMap,
    FontDescriptor with ``FontFile2``), only their bytes come from a small LRU cache keyed by
    the subset's number and characters.
    """

    def __init__(self, name: str, filename: str) -> None:
        super().__init__(name, filename, asciiReadable=False)
        self._parts: OrderedDict[tuple[int, tuple[int, ...]], _SubsetParts] = OrderedDict()
        self._keep_tables()

    def _keep_tables(self) -> None:
        """Keep each font table once read: building a subset reads ten tables, the glyph table
        alone megabytes long, and reportlab copies them out of the file for every subset. The
        tables are immutable bytes, so keeping them changes nothing but the time."""
        read = self.face.get_table
        tables: dict[str, bytes] = {}

        def get_table(tag: str) -> bytes:
            if tag not in tables:
                tables[tag] = read(tag)
            return tables[tag]

        self.face.get_table = get_table

    def _subset_parts(self, number: int, subset: tuple[int, ...]) -> _SubsetParts:
        key = (number, subset)
        parts = self._parts.get(key)
        if parts is None:
            parts = self._build_parts(number, subset)
            self._parts[key] = parts
            if len(self._parts) > _CACHE_SIZE:
                self._parts.popitem(last=False)
        else:
            self._parts.move_to_end(key)
        return parts

    def _build_parts(self, number: int, subset: tuple[int, ...]) -> _SubsetParts:
        face = self.face
        base_name = b"".join((SUBSETN(number), b"+", face.name, face.subfontNameX)).decode("pdfdoc")
        widths = " ".join(str(face.getCharWidth(code)) for code in subset)
        font_file = face.makeSubset(list(subset))
        return _SubsetParts(base_name, len(subset) - 1, f"[ {widths} ]".encode("ascii"),
                            zlib.compress(makeToUnicodeCMap(base_name, subset).encode("ascii")),
                            zlib.compress(font_file), len(font_file))

    def _descriptor(self, doc: Any, parts: _SubsetParts) -> Any:
        face = self.face
        font_file = _flate(parts.font_file)
        font_file.dictionary["Length1"] = parts.font_file_length
        font_file_ref = doc.Reference(font_file, f"fontFile:{face.filename}({parts.base_name})")
        flags = (face.flags & ~FF_NONSYMBOLIC) | FF_SYMBOLIC  # as reportlab marks subsets
        descriptor = pdfdoc.PDFDictionary({
            "Type": "/FontDescriptor", "Ascent": face.ascent, "CapHeight": face.capHeight,
            "Descent": face.descent, "Flags": flags, "FontBBox": pdfdoc.PDFArray(face.bbox),
            "FontName": pdfdoc.PDFName(parts.base_name), "ItalicAngle": face.italicAngle,
            "StemV": face.stemV, "FontFile2": font_file_ref, "MissingWidth": face.defaultWidth})
        return doc.Reference(descriptor, "fontDescriptor:" + parts.base_name)

    def seed(self, doc: Any, alphabet: str) -> None:
        """Give ``doc`` the first subset of ``alphabet`` before anything is drawn: the same
        codes as ``splitString(alphabet, doc)`` would assign, copied from a template."""
        template = self._seeded_state(alphabet)
        state = self._assignState(doc)
        state.assignments = dict(template.assignments)
        state.subsets = [list(subset) for subset in template.subsets]
        state.nextCode = template.nextCode

    @lru_cache(maxsize=16)  # noqa: B019 (one font object per process)
    def seeded_codes(self, alphabet: str) -> dict[str, int]:
        """Each character of ``alphabet`` and its code in the seeded first subset."""
        assignments = self._seeded_state(alphabet).assignments
        return {char: assignments[ord(char)] for char in alphabet
                if assignments.get(ord(char), 256) < 256}

    @lru_cache(maxsize=16)  # noqa: B019 (one font object per process)
    def _seeded_state(self, alphabet: str) -> Any:
        scratch = _Scratch()
        self.splitString(alphabet, scratch)
        return self.state.pop(scratch)

    def addObjects(self, doc: Any) -> None:  # noqa: N802 (reportlab's name)
        """Write every subset the document used, from the cache where possible."""
        if not doc.compression:
            super().addObjects(doc)
            return
        state = self._assignState(doc)
        state.frozen = 1
        for number, subset in enumerate(state.subsets):
            parts = self._subset_parts(number, tuple(subset))
            internal_name = self.getSubsetInternalName(number, doc)[1:]
            font = pdfdoc.PDFTrueTypeFont()
            font.Name = internal_name
            font.BaseFont = parts.base_name
            font.FirstChar = 0
            font.LastChar = parts.last_char
            font.Widths = parts.widths
            font.ToUnicode = doc.Reference(_flate(parts.to_unicode),
                                           "toUnicodeCMap:" + parts.base_name)
            font.FontDescriptor = self._descriptor(doc, parts)
            doc.Reference(font, internal_name)
            doc.idToObject["BasicFonts"].dict[internal_name] = font
        del self.state[doc]


class _Scratch:
    """A stand-in document: the font keeps per-document state in a weak-keyed mapping."""


@cache
def register_japanese_font() -> str:
    """Register IPAexGothic with reportlab (once per process) and return its name.

    reportlab names each embedded subset after its number (``AAAAAA+IPAexGothic``), so the
    bytes of a document depend on the document alone, not on what was rendered before it.
    """
    if FONT_NAME not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(CachedTTFont(FONT_NAME, str(font_path())))
    return FONT_NAME


def japanese_font() -> CachedTTFont:
    """The registered font object (for seeding and encoding text)."""
    font = pdfmetrics.getFont(register_japanese_font())
    assert isinstance(font, CachedTTFont)
    return font


# Characters IPAexGothic lacks, replaced by the glyph Japanese typesetting uses for them.
_SUBSTITUTES = {"≥": "≧", "≤": "≦", "⁄": "/"}
_MISSING = "〓"  # geta mark: the traditional placeholder for a character the font lacks


@lru_cache(maxsize=1)
def _covered() -> frozenset[int]:
    return frozenset(japanese_font().face.charToGlyph)


@lru_cache(maxsize=16384)
def printable(text: str) -> str:
    """``text`` with every character the font cannot draw replaced: ``≥`` by ``≧``, anything
    else unknown by ``〓``, so a reader sees that a character is missing rather than a blank or
    a box that looks like a real glyph."""
    if text.isascii():
        return text
    covered = _covered()
    return "".join(ch if ord(ch) in covered or ch in "\n\t" else _SUBSTITUTES.get(ch, _MISSING)
                   for ch in text)


# Characters every document uses, before the labels: figures, dates, units.
_COMMON = "0123456789,.%:/-()+#円年月日令和平成元度口倍人歩～（）：・、。－—–…×→=≧abcdef"
_ASCII = "".join(chr(c) for c in range(33, 127))


@lru_cache(maxsize=1)
def _cheapest_glyphs() -> str:
    """Characters whose glyphs take the fewest bytes (spaces, strokes, small marks), cheapest
    first: they fill the seeded subset so that names start a subset of their own, at almost no
    cost in file size."""
    face = japanese_font().face
    positions = face.glyphPos
    sizes = sorted((positions[glyph + 1] - positions[glyph], code)
                   for code, glyph in face.charToGlyph.items() if code > 32 and code != 0xA0)
    return "".join(chr(code) for _, code in sizes[:2 * _SUBSET_CODES])


@lru_cache(maxsize=16)
def seed_alphabet(label_texts: tuple[str, ...]) -> str:
    """The first subset's characters, in order, for documents whose labels are ``label_texts``:
    common figures, the labels' characters, the rest of ASCII, then the cheapest glyphs —
    254 characters the font has, the same every time for the same labels."""
    covered = _covered()
    chosen: dict[str, None] = {}
    for group in (_COMMON, "".join(label_texts), _ASCII, _cheapest_glyphs()):
        for char in group:
            if ord(char) in covered and char != " " and char not in chosen:
                chosen[char] = None
                if len(chosen) == _SUBSET_CODES:
                    return "".join(chosen)
    return "".join(chosen)

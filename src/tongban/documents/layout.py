"""A page description independent of the output format: the PDF writer (pdf.py) and the OFD
writer (ofd.py) draw the same pages, so both files say the same thing at the same place.

Units are millimetres, origin at the top-left corner of the page, y grows downwards (as in
OFD, GB/T 33190). A ``Text``'s ``y`` is its baseline. Colours are (r, g, b) in 0–255.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont

FONT_NAME = "STSong-Light"  # Adobe-GB1 CID font every PDF reader provides; never embedded
if FONT_NAME not in pdfmetrics.getRegisteredFontNames():
    pdfmetrics.registerFont(UnicodeCIDFont(FONT_NAME))

BLACK = (0, 0, 0)
RED = (200, 16, 16)

# logical font names; each writer maps them to a font it can name or embed
SERIF = "serif"  # 宋体 / STSong-Light
SANS = "sans"  # 黑体
KAI = "kai"  # 楷体
FANGSONG = "fangsong"  # 仿宋 (the body face of GB/T 9704)


@dataclass
class Text:
    x: float
    y: float
    text: str
    size: float  # points
    font: str = SERIF
    color: tuple[int, int, int] = BLACK
    anchor: str = "start"  # "start" | "middle" | "end" (relative to x)
    rotate: float = 0.0  # degrees clockwise on the page, about (x, y) (the seal's arc text)
    role: str = ""  # "seal": part of the drawn seal (not the document's running text)


@dataclass
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    width: float = 0.35
    color: tuple[int, int, int] = BLACK


@dataclass
class Rect:
    x: float
    y: float
    w: float
    h: float
    stroke: tuple[int, int, int] | None = BLACK
    fill: tuple[int, int, int] | None = None
    width: float = 0.35


@dataclass
class Circle:
    cx: float
    cy: float
    r: float
    stroke: tuple[int, int, int] | None = BLACK
    fill: tuple[int, int, int] | None = None
    width: float = 0.35


@dataclass
class Polygon:
    points: list[tuple[float, float]]
    stroke: tuple[int, int, int] | None = None
    fill: tuple[int, int, int] | None = BLACK
    width: float = 0.35


@dataclass
class QrCode:
    """A QR symbol drawn as dark modules: ``matrix`` rows of booleans (True = dark), placed
    with a quiet zone of 4 modules inside the ``size`` square whose top-left is (x, y)."""

    x: float
    y: float
    size: float
    matrix: list[list[bool]]
    text: str = ""  # what it encodes (kept for writers that record it, e.g. OFD custom data)


MM_PER_POINT = 25.4 / 72


def text_width(text: str, size: float) -> float:
    """Advance width in mm of ``text`` at ``size`` points in the document face (STSong-Light
    metrics: CJK and full-width forms 1 em, Latin proportional). Both writers place text with
    these widths, so a layout's lines fit the same way in PDF and OFD."""
    return pdfmetrics.stringWidth(text, FONT_NAME, size) * MM_PER_POINT


_NO_LINE_START = set("，。、；：？！）》」』】〕”’,.;:?!)%")


def wrap(text: str, width: float, size: float) -> list[str]:
    """Break ``text`` into lines no wider than ``width`` mm (explicit newlines kept). Closing
    punctuation never starts a line: it stays at the end of the previous one (hanging)."""
    lines: list[str] = []
    for paragraph in str(text).split("\n"):
        current = ""
        for ch in paragraph:
            if current and text_width(current + ch, size) > width and ch not in _NO_LINE_START:
                lines.append(current)
                current = ch
            else:
                current += ch
        lines.append(current)
    return lines


Item = Text | Line | Rect | Circle | Polygon | QrCode


@dataclass
class Page:
    width: float = 210.0
    height: float = 297.0
    items: list[Item] = field(default_factory=list)


@dataclass
class Document:
    title: str
    pages: list[Page]
    author: str = "通办 Tongban"
    keywords: dict[str, str] = field(default_factory=dict)  # e.g. {"document_id": …, "qr": …}

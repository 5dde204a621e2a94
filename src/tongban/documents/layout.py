"""A page description independent of the output format: the PDF writer (pdf.py) and the OFD
writer (ofd.py) draw the same pages, so both files say the same thing at the same place.

Units are millimetres, origin at the top-left corner of the page, y grows downwards (as in
OFD, GB/T 33190). A ``Text``'s ``y`` is its baseline. Colours are (r, g, b) in 0–255.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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

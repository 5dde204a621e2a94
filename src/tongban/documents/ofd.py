"""OFD (GB/T 33190-2016) writer: the same pages the PDF writer draws, as an OFD package.

GB/T 36905 prescribes OFD for e-licence files; every licence and result document can be had
as ``.ofd`` next to its ``.pdf``. ``ofd_write(layout.Document) -> bytes`` writes a package
(a zip) of this shape::

    OFD.xml                          DocBody: DocInfo (DocID, Title, Author, CreationDate,
                                     Creator, CreatorVersion, CustomDatas) and DocRoot
    Doc_0/Document.xml               CommonData (MaxUnitID, PageArea, PublicRes), Pages
    Doc_0/PublicRes.xml              Fonts
    Doc_0/Pages/Page_N/Content.xml   Area, one Body Layer of TextObjects and PathObjects

Choices (docs/documents.md, "OFD"):

* Coordinates: the layout model already uses OFD's space (millimetres, origin top-left,
  y down), so numbers pass through unchanged; a Text's size in points becomes an OFD
  ``Size`` in millimetres (pt × 25.4 / 72).
* Fonts are *named*, not embedded: serif/sans/kai/fangsong → 宋体/黑体/楷体/仿宋, the standard
  Chinese faces OFD readers map to installed fonts. Every glyph is placed by ``DeltaX`` using the advance
  widths of the PDF writer's font (STSong-Light metrics: CJK 1 em, Latin proportional), so
  a reader substituting another face still puts each character where the PDF has it.
* Each layout Text is one TextObject with one TextCode (baseline ``Y`` inside its Boundary);
  lines, rectangles, polygons and circles (four cubic Béziers) are PathObjects with
  AbbreviatedData relative to their Boundary; a QR symbol is one PathObject whose runs of
  dark modules are segments stroked one module wide (the same area as filled rectangles).
* The document is not sealed with an OFD electronic seal (GB/T 38540): its authenticity is
  the SM2 signature carried in the printed QR (``CustomData Name="qr"``), which every node's
  /verify/ checks.
* Output is deterministic for a layout that names its document (``keywords["document_id"]``,
  as official_layout does): DocID is derived from it and zip entries carry the creation date.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
import uuid
import zipfile
from xml.sax.saxutils import escape, quoteattr

from tongban.documents import layout

NS = "http://www.ofdspec.org/2016"
CREATOR = "通办 Tongban"
CREATOR_VERSION = "1.0"

# logical font → (FontName, FamilyName, Serif)
FONTS = {
    layout.SERIF: ("宋体", "宋体", True),
    layout.SANS: ("黑体", "黑体", False),
    layout.KAI: ("楷体", "楷体", True),
    layout.FANGSONG: ("仿宋", "仿宋", True),
}
PT = 25.4 / 72  # one point in millimetres
KAPPA = 0.5522847498  # cubic Bézier control distance for a quarter circle

# characters XML 1.0 cannot carry (C0 controls except tab/newline/CR, surrogates, FFFE/FFFF)
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


# --- numbers, text metrics ----------------------------------------------------------------


def _n(value: float, places: int = 3) -> str:
    """A number as OFD writes it: up to 3 decimals (0.001 mm), no trailing zeros, no ``-0``."""
    text = f"{value:.{places}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def text_advances(text: str, size_pt: float) -> list[float]:
    """Each character's advance in millimetres, as the PDF writer sets it (layout.text_width:
    STSong-Light metrics, no kerning, so the advances add up to the string's width)."""
    return [layout.text_width(char, size_pt) for char in text]


def _delta_x(advances: list[float]) -> str:
    """DeltaX for a run: the advances of all but the last glyph, equal neighbours folded
    into GB/T 33190's ``g <count> <value>`` form."""
    values = [_n(a) for a in advances[:-1]]
    out: list[str] = []
    i = 0
    while i < len(values):
        j = i
        while j < len(values) and values[j] == values[i]:
            j += 1
        count = j - i
        if count >= 3:
            out += ["g", str(count), values[i]]
        else:
            out += values[i:j]
        i = j
    return " ".join(out)


def _clean(text: str) -> str:
    return _XML_INVALID.sub("", text)


def _color(rgb: tuple[int, int, int]) -> str:
    return " ".join(str(max(0, min(255, int(c)))) for c in rgb)


# --- XML building -------------------------------------------------------------------------


class _Xml:
    """A tiny writer: elements with the ``ofd:`` prefix, attributes in the order given."""

    def __init__(self) -> None:
        self.parts: list[str] = ['<?xml version="1.0" encoding="UTF-8"?>\n']

    @staticmethod
    def _attrs(attrs: dict) -> str:
        return "".join(f" {k}={quoteattr(str(v))}" for k, v in attrs.items() if v is not None)

    def open(self, name: str, attrs: dict | None = None, *, root: bool = False) -> None:
        ns = f' xmlns:ofd="{NS}"' if root else ""
        self.parts.append(f"<ofd:{name}{ns}{self._attrs(attrs or {})}>")

    def close(self, name: str) -> None:
        self.parts.append(f"</ofd:{name}>")

    def empty(self, name: str, attrs: dict) -> None:
        self.parts.append(f"<ofd:{name}{self._attrs(attrs)}/>")

    def text(self, name: str, value: str, attrs: dict | None = None) -> None:
        self.parts.append(
            f"<ofd:{name}{self._attrs(attrs or {})}>{escape(_clean(value))}</ofd:{name}>"
        )

    def bytes(self) -> bytes:
        return "".join(self.parts).encode("utf-8")


class _Ids:
    def __init__(self) -> None:
        self.last = 0

    def next(self) -> int:
        self.last += 1
        return self.last


# --- page objects ---------------------------------------------------------------------------


def _box(x: float, y: float, w: float, h: float) -> str:
    return f"{_n(x)} {_n(y)} {_n(max(w, 0.001))} {_n(max(h, 0.001))}"


def _text_object(xml: _Xml, ids: _Ids, item: layout.Text, font_ids: dict[str, int]) -> None:
    """One TextObject: the glyphs start where the PDF writer starts them (anchor applied along
    the baseline), each placed by DeltaX; a rotated Text (the seal's arc) turns about its
    anchor point through the object's CTM, inside a Boundary that holds the turned box."""
    text = _clean(item.text).replace("\n", " ").replace("\r", " ").replace("\t", " ")
    size = item.size * PT
    advances = text_advances(text, item.size)
    total = sum(advances)
    start = -total / 2 if item.anchor == "middle" else -total if item.anchor == "end" else 0.0
    # leading and trailing blanks carry no glyph: move the start, drop the tail
    while text and text[0].isspace():
        start += advances[0]
        text, advances = text[1:], advances[1:]
    while text and text[-1].isspace():
        text, advances = text[:-1], advances[:-1]
    if not text:
        return
    width = sum(advances)
    ascent, descent = size, size * 0.3
    angle = math.radians(item.rotate or 0.0)
    cos, sin = math.cos(angle), math.sin(angle)
    # the text box around the anchor point (x, y), turned clockwise on the page (y down)
    corners = [
        (start, -ascent),
        (start + width, -ascent),
        (start + width, descent),
        (start, descent),
    ]
    turned = [(item.x + u * cos - v * sin, item.y + u * sin + v * cos) for u, v in corners]
    bx, by, bw, bh = _bounds_of(turned, 0.0)
    px, py = item.x - bx, item.y - by  # the anchor point inside the Boundary
    font = item.font if item.font in FONTS else layout.SERIF
    attrs = {
        "ID": ids.next(),
        "Boundary": _box(bx, by, bw, bh),
        "Font": font_ids[font],
        "Size": _n(size),
    }
    if item.rotate:
        e, f = px - (cos * px - sin * py), py - (sin * px + cos * py)
        attrs["CTM"] = " ".join(_n(v, 6) for v in (cos, sin, -sin, cos, e, f))
    xml.open("TextObject", attrs)
    xml.empty("FillColor", {"Value": _color(item.color)})
    code = {"X": _n(px + start), "Y": _n(py)}
    if len(text) > 1:
        code["DeltaX"] = _delta_x(advances)
    xml.text("TextCode", text, code)
    xml.close("TextObject")


def _path_object(
    xml: _Xml,
    ids: _Ids,
    *,
    bounds: tuple[float, float, float, float],
    data: str,
    stroke: tuple[int, int, int] | None,
    fill: tuple[int, int, int] | None,
    width: float,
) -> None:
    x, y, w, h = bounds
    attrs: dict = {"ID": ids.next(), "Boundary": _box(x, y, w, h)}
    if stroke is not None:
        attrs["LineWidth"] = _n(width)
    else:
        attrs["Stroke"] = "false"
    if fill is not None:
        attrs["Fill"] = "true"
    xml.open("PathObject", attrs)
    if stroke is not None:
        xml.empty("StrokeColor", {"Value": _color(stroke)})
    if fill is not None:
        xml.empty("FillColor", {"Value": _color(fill)})
    xml.text("AbbreviatedData", data)
    xml.close("PathObject")


def _points_path(points: list[tuple[float, float]], ox: float, oy: float, *, close: bool) -> str:
    first, *rest = points
    parts = [f"M {_n(first[0] - ox)} {_n(first[1] - oy)}"]
    parts += [f"L {_n(px - ox)} {_n(py - oy)}" for px, py in rest]
    if close:
        parts.append("C")
    return " ".join(parts)


def _bounds_of(points: list[tuple[float, float]], pad: float) -> tuple[float, float, float, float]:
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return (min(xs) - pad, min(ys) - pad, max(xs) - min(xs) + 2 * pad, max(ys) - min(ys) + 2 * pad)


def _shape(xml: _Xml, ids: _Ids, item: layout.Item) -> None:
    if isinstance(item, layout.Line):
        pts = [(item.x1, item.y1), (item.x2, item.y2)]
        bounds = _bounds_of(pts, item.width / 2)
        data = _points_path(pts, bounds[0], bounds[1], close=False)
        _path_object(
            xml, ids, bounds=bounds, data=data, stroke=item.color, fill=None, width=item.width
        )
    elif isinstance(item, layout.Rect):
        pad = item.width / 2 if item.stroke is not None else 0.0
        bounds = (item.x - pad, item.y - pad, item.w + 2 * pad, item.h + 2 * pad)
        corners = [
            (item.x, item.y),
            (item.x + item.w, item.y),
            (item.x + item.w, item.y + item.h),
            (item.x, item.y + item.h),
        ]
        data = _points_path(corners, bounds[0], bounds[1], close=True)
        _path_object(
            xml, ids, bounds=bounds, data=data, stroke=item.stroke, fill=item.fill, width=item.width
        )
    elif isinstance(item, layout.Polygon):
        if len(item.points) < 2:
            return
        pad = item.width / 2 if item.stroke is not None else 0.0
        bounds = _bounds_of(item.points, pad)
        data = _points_path(item.points, bounds[0], bounds[1], close=True)
        _path_object(
            xml, ids, bounds=bounds, data=data, stroke=item.stroke, fill=item.fill, width=item.width
        )
    elif isinstance(item, layout.Circle):
        pad = item.width / 2 if item.stroke is not None else 0.0
        r, k = item.r, item.r * KAPPA
        ox, oy = item.cx - r - pad, item.cy - r - pad
        cx, cy = r + pad, r + pad  # the centre inside the Boundary
        data = " ".join(
            [
                f"M {_n(cx + r)} {_n(cy)}",
                f"B {_n(cx + r)} {_n(cy + k)} {_n(cx + k)} {_n(cy + r)} {_n(cx)} {_n(cy + r)}",
                f"B {_n(cx - k)} {_n(cy + r)} {_n(cx - r)} {_n(cy + k)} {_n(cx - r)} {_n(cy)}",
                f"B {_n(cx - r)} {_n(cy - k)} {_n(cx - k)} {_n(cy - r)} {_n(cx)} {_n(cy - r)}",
                f"B {_n(cx + k)} {_n(cy - r)} {_n(cx + r)} {_n(cy - k)} {_n(cx + r)} {_n(cy)}",
                "C",
            ]
        )
        bounds = (ox, oy, 2 * (r + pad), 2 * (r + pad))
        _path_object(
            xml, ids, bounds=bounds, data=data, stroke=item.stroke, fill=item.fill, width=item.width
        )
    elif isinstance(item, layout.QrCode):
        _qr_object(xml, ids, item)


def _qr_object(xml: _Xml, ids: _Ids, item: layout.QrCode) -> None:
    """One PathObject for the whole symbol: each horizontal run of dark modules is a segment
    through the middle of its row, stroked with a line one module wide (butt caps), which
    covers exactly the run's rectangle. Stroking rather than filling keeps the symbol
    scannable in readers that stroke every path and ignore ``Fill`` (easyofd does)."""
    rows = item.matrix
    if not rows:
        return
    module = item.size / (len(rows) + 8)
    quiet = 4 * module
    parts: list[str] = []
    for r, row in enumerate(rows):
        y = quiet + (r + 0.5) * module
        c = 0
        while c < len(row):
            if not row[c]:
                c += 1
                continue
            start = c
            while c < len(row) and row[c]:
                c += 1
            parts.append(
                f"M {_n(quiet + start * module)} {_n(y)} L {_n(quiet + c * module)} {_n(y)}"
            )
    if parts:
        _path_object(
            xml,
            ids,
            bounds=(item.x, item.y, item.size, item.size),
            data=" ".join(parts),
            stroke=layout.BLACK,
            fill=None,
            width=module,
        )


# --- the package -----------------------------------------------------------------------------


def _content_xml(page: layout.Page, ids: _Ids, font_ids: dict[str, int]) -> bytes:
    xml = _Xml()
    xml.open("Page", root=True)
    xml.open("Area")
    xml.text("PhysicalBox", f"0 0 {_n(page.width)} {_n(page.height)}")
    xml.close("Area")
    xml.open("Content")
    xml.open("Layer", {"ID": ids.next(), "Type": "Body"})
    for item in page.items:
        if isinstance(item, layout.Text):
            _text_object(xml, ids, item, font_ids)
        else:
            _shape(xml, ids, item)
    xml.close("Layer")
    xml.close("Content")
    xml.close("Page")
    return xml.bytes()


def _public_res_xml(font_ids: dict[str, int]) -> bytes:
    xml = _Xml()
    xml.open("Res", {"BaseLoc": "Res"}, root=True)
    xml.open("Fonts")
    for logical, font_id in font_ids.items():
        name, family, serif = FONTS[logical]
        attrs = {"ID": font_id, "FontName": name, "FamilyName": family}
        if serif:
            attrs["Serif"] = "true"
        xml.empty("Font", attrs)
    xml.close("Fonts")
    xml.close("Res")
    return xml.bytes()


def _document_xml(pages: list[tuple[int, str]], max_id: int, first: layout.Page) -> bytes:
    xml = _Xml()
    xml.open("Document", root=True)
    xml.open("CommonData")
    xml.text("MaxUnitID", str(max_id))
    xml.open("PageArea")
    xml.text("PhysicalBox", f"0 0 {_n(first.width)} {_n(first.height)}")
    xml.close("PageArea")
    xml.text("PublicRes", "PublicRes.xml")
    xml.close("CommonData")
    xml.open("Pages")
    for page_id, loc in pages:
        xml.empty("Page", {"ID": page_id, "BaseLoc": loc})
    xml.close("Pages")
    xml.close("Document")
    return xml.bytes()


def _ofd_xml(doc: layout.Document, doc_id: str, created: dt.date) -> bytes:
    xml = _Xml()
    xml.open("OFD", {"Version": "1.0", "DocType": "OFD"}, root=True)
    xml.open("DocBody")
    xml.open("DocInfo")
    xml.text("DocID", doc_id)
    xml.text("Title", doc.title)
    xml.text("Author", doc.author)
    xml.text("CreationDate", created.isoformat())
    xml.text("Creator", CREATOR)
    xml.text("CreatorVersion", CREATOR_VERSION)
    custom = {k: v for k, v in doc.keywords.items() if str(v)}
    if custom:
        xml.open("CustomDatas")
        for name, value in custom.items():
            xml.text("CustomData", str(value), {"Name": name})
        xml.close("CustomDatas")
    xml.close("DocInfo")
    xml.text("DocRoot", "Doc_0/Document.xml")
    xml.close("DocBody")
    xml.close("OFD")
    return xml.bytes()


def _doc_id(doc: layout.Document) -> str:
    """32 hex characters (a UUID, as GB/T 33190 asks), fixed for a given document id."""
    key = doc.keywords.get("document_id") or doc.keywords.get("qr")
    if key:
        return uuid.uuid5(uuid.NAMESPACE_URL, f"tongban-document:{key}").hex
    return uuid.uuid4().hex


def ofd_write(doc: layout.Document, *, created: dt.date | None = None) -> bytes:
    """The OFD package of ``doc`` (bytes of a zip file)."""
    if not doc.pages:
        raise ValueError("an OFD document needs at least one page")
    if created is None:
        issued = str(doc.keywords.get("issued_at", ""))[:10]
        try:
            created = dt.date.fromisoformat(issued)
        except ValueError:
            from django.utils import timezone

            created = timezone.localdate()
    ids = _Ids()
    used = [layout.SERIF, layout.SANS, layout.KAI, layout.FANGSONG]
    font_ids = {logical: ids.next() for logical in used}
    pages: list[tuple[int, str]] = []
    contents: list[tuple[str, bytes]] = []
    for index, page in enumerate(doc.pages):
        page_id = ids.next()
        loc = f"Pages/Page_{index}/Content.xml"
        contents.append((f"Doc_0/{loc}", _content_xml(page, ids, font_ids)))
        pages.append((page_id, loc))
    files = [
        ("OFD.xml", _ofd_xml(doc, _doc_id(doc), created)),
        ("Doc_0/Document.xml", _document_xml(pages, ids.last, doc.pages[0])),
        ("Doc_0/PublicRes.xml", _public_res_xml(font_ids)),
        *contents,
    ]
    stamp = (max(created.year, 1980), created.month, created.day, 0, 0, 0)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        for name, data in files:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            package.writestr(info, data)
    return buffer.getvalue()


def document_ofd(document) -> bytes:
    """The OFD file of an issued (or copied) document (``IssuedDocument``): the official
    layout the PDF draws, dated by the document's issue date in Beijing time."""
    from django.utils import timezone

    from tongban.documents.official import official_layout

    return ofd_write(official_layout(document), created=timezone.localdate(document.issued_at))

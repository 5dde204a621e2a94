"""Draw a layout.Document as PDF (reportlab).

Text uses the standard CID font STSong-Light (Adobe-GB1, UniGB-UCS2-H), which every PDF
reader provides: nothing is read from the system's font folders and nothing is embedded. The
QR symbol is drawn as vector modules. The document identifier and the QR text are also in the
PDF metadata (Keywords ``document_id=…; qr=…``) and the Subject.
"""

from __future__ import annotations

import io

from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from tongban.documents import layout
from tongban.documents.layout import FONT_NAME


def _rgb(color: tuple[int, int, int]) -> tuple[float, float, float]:
    return tuple(c / 255 for c in color)  # type: ignore[return-value]


def pdf_write(document: layout.Document) -> bytes:
    buffer = io.BytesIO()
    first = document.pages[0] if document.pages else layout.Page()
    c = canvas.Canvas(
        buffer, pagesize=(first.width * mm, first.height * mm), pageCompression=1, invariant=1
    )
    c.setTitle(document.title)
    c.setAuthor(document.author)
    c.setCreator("通办 Tongban")
    c.setSubject(document.keywords.get("document_id", ""))
    c.setKeywords("; ".join(f"{k}={v}" for k, v in document.keywords.items()))
    for page in document.pages:
        c.setPageSize((page.width * mm, page.height * mm))
        for item in page.items:
            _draw(c, item, page.height)
        c.showPage()
    c.save()
    return buffer.getvalue()


def _draw(c: canvas.Canvas, item: layout.Item, page_h: float) -> None:
    def y(v: float) -> float:
        return (page_h - v) * mm

    if isinstance(item, layout.Text):
        c.saveState()
        c.setFillColorRGB(*_rgb(item.color))
        c.setFont(FONT_NAME, item.size)
        c.translate(item.x * mm, y(item.y))
        if item.rotate:
            c.rotate(-item.rotate)
        draw = {
            "start": c.drawString,
            "middle": c.drawCentredString,
            "end": c.drawRightString,
        }[item.anchor]
        draw(0, 0, item.text)
        c.restoreState()
    elif isinstance(item, layout.Line):
        c.setStrokeColorRGB(*_rgb(item.color))
        c.setLineWidth(item.width * mm)
        c.line(item.x1 * mm, y(item.y1), item.x2 * mm, y(item.y2))
    elif isinstance(item, layout.Rect):
        _paint(c, item.stroke, item.fill, item.width)
        c.rect(
            item.x * mm,
            y(item.y + item.h),
            item.w * mm,
            item.h * mm,
            stroke=int(item.stroke is not None),
            fill=int(item.fill is not None),
        )
    elif isinstance(item, layout.Circle):
        _paint(c, item.stroke, item.fill, item.width)
        c.circle(
            item.cx * mm,
            y(item.cy),
            item.r * mm,
            stroke=int(item.stroke is not None),
            fill=int(item.fill is not None),
        )
    elif isinstance(item, layout.Polygon):
        _paint(c, item.stroke, item.fill, item.width)
        path = c.beginPath()
        (x0, y0), *rest = item.points
        path.moveTo(x0 * mm, y(y0))
        for px, py in rest:
            path.lineTo(px * mm, y(py))
        path.close()
        c.drawPath(path, stroke=int(item.stroke is not None), fill=int(item.fill is not None))
    elif isinstance(item, layout.QrCode):
        n = len(item.matrix)
        cell = item.size / (n + 8)
        c.setFillColorRGB(0, 0, 0)
        path = c.beginPath()
        for r, row in enumerate(item.matrix):
            for col, dark in enumerate(row):
                if dark:
                    path.rect(
                        (item.x + (col + 4) * cell) * mm,
                        y(item.y + (r + 5) * cell),
                        cell * mm,
                        cell * mm,
                    )
        c.drawPath(path, stroke=0, fill=1)


def _paint(c: canvas.Canvas, stroke, fill, width: float) -> None:
    if stroke is not None:
        c.setStrokeColorRGB(*_rgb(stroke))
        c.setLineWidth(width * mm)
    if fill is not None:
        c.setFillColorRGB(*_rgb(fill))

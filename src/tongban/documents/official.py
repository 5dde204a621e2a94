"""The official look of every printed document (GB/T 9704 conventions), as a format-neutral
page model (layout.py) that the PDF and OFD writers draw.

First page, top to bottom: the 发文机关标志 (the issuing organization's name, red, large,
centred), the 文号 centred under it, the red separator line, the title; then label/value rows
(the subject — person or enterprise — the case number, every signed fact, the validity), the
body paragraphs with a two-character indent. The last page ends with the 落款: the issuing
organization's name and the date in Chinese, right-aligned, under its electronic seal (red
ring, five-pointed star, the name along the arc, pressing on the date as usual), a small
"电子签名 SM2" mark, and at the bottom left the QR code (caption 扫码核验) with the
document's identifier and Beijing issue time. Long content flows onto further pages; every
page is numbered.

Everything printed comes from the signed record only (never from the database's current
state), so a verifier can lay out the record it fetched and compare it with a PDF's text
(verification.py, ``printed_lines``).
"""

from __future__ import annotations

import math

import segno

from tongban.documents.dates import date_cn, datetime_cn
from tongban.documents.layout import (
    FANGSONG,
    RED,
    SANS,
    SERIF,
    Circle,
    Document,
    Line,
    Page,
    Polygon,
    QrCode,
    Text,
    text_width,
    wrap,
)

PAGE_W, PAGE_H = 210.0, 297.0
LEFT, RIGHT = 28.0, 184.0  # GB/T 9704: 28 mm left, 26 mm right → 156 mm text width
TOP = 37.0
BOTTOM = 266.0  # last baseline of running text
FOOTER_Y = 282.0

ROW_SIZE = 12.0  # pt
ROW_LEAD = 6.6  # mm between baselines of a row's lines
ROW_GAP = 1.6  # mm between rows
LABEL_MAX = 42.0  # mm: label column at most this wide
BODY_SIZE = 12.0
BODY_LEAD = 7.0

SEAL_RED = (230, 0, 18)  # the seal's own red (the organization mark uses layout.RED)
SEAL_R = 20.0  # mm: a 42 mm government seal, less the ring's width
QR_SIZE = 30.0
CLOSING_HEIGHT = 70.0  # mm the 落款 block needs below the last row

SUBJECT_LABELS = {
    "licence_file": ("持证主体", "证件号码"),
    "certificate": ("当事人", "公民身份号码"),
}


def official_layout(document) -> Document:
    """The pages of an IssuedDocument (the QR carries its signature)."""
    from tongban.documents.services import document_qr_text

    return record_layout(document.record, document_qr_text(document))


def record_layout(record: dict, qr_text: str) -> Document:
    """The pages of a signed record; ``qr_text`` is its ``TBD1:`` text."""
    builder = _Builder(record, qr_text)
    return builder.build()


class _Builder:
    def __init__(self, record: dict, qr_text: str):
        self.record = record
        self.qr_text = qr_text
        self.pages: list[Page] = []
        self.page: Page
        self.y = 0.0
        self.lines: list[tuple[Page, float, list[Text]]] = []  # running text, line by line

    # ---- pages ---------------------------------------------------------------------------
    def new_page(self) -> None:
        self.page = Page(width=PAGE_W, height=PAGE_H)
        self.pages.append(self.page)
        self.y = TOP

    def text(self, x, y, text, size, **kw) -> None:
        if text:
            self.page.items.append(Text(x=x, y=y, text=text, size=size, **kw))

    def line(self, *parts: tuple[float, str, float, str]) -> None:
        """One line of running text at ``self.y``: (x, text, size, font) parts."""
        items = [
            Text(x=x, y=self.y, text=t, size=size, font=font) for x, t, size, font in parts if t
        ]
        self.page.items.extend(items)
        self.lines.append((self.page, self.y, items))

    def carry_over(self, count: int) -> None:
        """Move the last ``count`` lines of the previous page to the top of this (new) one,
        so the 落款 never stands alone on a page (GB/T 9704: adjust, do not leave it bare)."""
        previous = self.pages[-2]
        moved = [entry for entry in self.lines[-count:] if entry[0] is previous]
        if not moved:
            return
        first_y = moved[0][1]
        start = self.y
        for _page, y, items in moved:
            for item in items:
                previous.items.remove(item)
                item.y = start + (y - first_y)
                self.page.items.append(item)
        self.y = start + (moved[-1][1] - first_y) + ROW_LEAD

    def need(self, height: float) -> None:
        """Start a new page unless ``height`` mm of rows still fit above the bottom."""
        if self.y + height > BOTTOM:
            self.new_page()
            self.y = TOP + 6

    # ---- parts ---------------------------------------------------------------------------
    def header(self) -> None:
        record = self.record
        issuer = str(record.get("issuer", {}).get("name", ""))
        size = min(26.0, 156.0 / max(text_width(issuer, 1.0), 1e-6))
        y = TOP + 10
        self.text(PAGE_W / 2, y, issuer, size, font=SANS, color=RED, anchor="middle")
        y += 12
        doc_number = str(record.get("doc_number") or "")
        if doc_number:
            dn_size = min(13.0, 150.0 / max(text_width(doc_number, 1.0), 1e-6))
            self.text(PAGE_W / 2, y, doc_number, dn_size, font=FANGSONG, anchor="middle")
            y += 4
        self.page.items.append(Line(LEFT, y, RIGHT, y, width=0.8, color=RED))
        y += 14
        title_size = 20.0
        for line in wrap(str(record.get("title", "")), 150.0, title_size):
            self.text(PAGE_W / 2, y, line, title_size, font=SANS, anchor="middle")
            y += 10
        self.y = y + 4

    def rows(self, rows: list[tuple[str, str]]) -> None:
        if not rows:
            return
        label_w = min(max(text_width(f"{label}：", ROW_SIZE) for label, _ in rows) + 2.0, LABEL_MAX)
        value_x = LEFT + label_w
        for label, value in rows:
            labels = wrap(f"{label}：", label_w - 1.0, ROW_SIZE)
            values = wrap(value or "—", RIGHT - value_x, ROW_SIZE)
            first = True
            for i in range(max(len(labels), len(values))):
                self.need(0.0 if not first else min(3, len(values)) * ROW_LEAD)
                first = False
                self.line(
                    (LEFT, labels[i] if i < len(labels) else "", ROW_SIZE, SANS),
                    (value_x, values[i] if i < len(values) else "", ROW_SIZE, FANGSONG),
                )
                self.y += ROW_LEAD
            self.y += ROW_GAP

    def body(self, text: str) -> None:
        if not text:
            return
        self.y += 3
        for paragraph in text.split("\n"):
            paragraph = paragraph.strip()
            if not paragraph:
                continue
            lines = wrap("　　" + paragraph, RIGHT - LEFT, BODY_SIZE)
            for line in lines:
                self.need(BODY_LEAD)
                self.line((LEFT, line, BODY_SIZE, FANGSONG))
                self.y += BODY_LEAD

    def closing(self) -> None:
        """落款, seal, signature mark, QR — kept together on the last page."""
        record = self.record
        if self.y + CLOSING_HEIGHT > BOTTOM + 8:
            self.new_page()
            self.y = TOP + 6
            self.carry_over(2)
            self.y += 4
        name = str(record.get("issuer", {}).get("name", ""))
        date = date_cn(record.get("issued_at"))
        by = self.y + 30  # baseline of the organization name: the seal clears the text above
        size = 13.0
        date_right = RIGHT - 8
        date_w = text_width(date, size)
        centre = date_right - date_w / 2
        name_w = text_width(name, size)
        if centre + name_w / 2 > RIGHT:
            centre = RIGHT - name_w / 2
        self.text(centre, by, name, size, font=FANGSONG, anchor="middle")
        self.text(date_right, by + 8, date, size, font=FANGSONG, anchor="end")
        self.seal(centre, by - 8.5, name)
        self.text(
            centre - SEAL_R - 4,
            by + 8,
            "电子签名 SM2",
            9.0,
            font=SERIF,
            color=RED,
            anchor="end",
        )
        # the QR, bottom left, with what identifies the document for a person reading it
        qr_top = by - 14
        self.qr(LEFT - 3, qr_top, QR_SIZE)
        caption_y = qr_top + QR_SIZE + 3.5
        self.text(LEFT, caption_y, "扫码核验", 9.0, font=SANS)
        self.text(LEFT, caption_y + 4.5, f"文书标识 {record.get('id', '')}", 7.5)
        self.text(
            LEFT,
            caption_y + 8.5,
            f"签发时间 {datetime_cn(record.get('issued_at'))}（北京时间）",
            7.5,
        )
        self.y = caption_y + 12

    def seal(self, cx: float, cy: float, name: str) -> None:
        items = self.page.items
        items.append(Circle(cx, cy, SEAL_R, stroke=SEAL_RED, width=1.1))
        items.append(Polygon(_star(cx, cy, 6.0), stroke=None, fill=SEAL_RED))
        chars = [c for c in name if not c.isspace()]
        if not chars:
            return
        span = min(220.0, 21.0 * len(chars))
        step = span / len(chars)
        radius = SEAL_R - 6.2  # the glyphs' tops stay clear of the ring
        size = min(11.5, (math.radians(step) * radius * 0.88) / 0.3528)
        drop = size * 0.3528 * 0.36  # baseline sits inside the glyph's vertical centre
        for i, ch in enumerate(chars):
            theta = -span / 2 + step * (i + 0.5)
            t = math.radians(theta)
            r = radius - drop
            x = cx + r * math.sin(t)
            y = cy - r * math.cos(t)
            items.append(
                Text(
                    x,
                    y,
                    ch,
                    size,
                    font=SANS,
                    color=SEAL_RED,
                    anchor="middle",
                    rotate=theta,
                    role="seal",
                )
            )

    def qr(self, x: float, y: float, size: float) -> None:
        symbol = segno.make(self.qr_text, error="m", mode="byte")
        matrix = [[bool(v) for v in row] for row in symbol.matrix]
        self.page.items.append(QrCode(x=x, y=y, size=size, matrix=matrix, text=self.qr_text))

    def footers(self) -> None:
        total = len(self.pages)
        for number, page in enumerate(self.pages, start=1):
            page.items.append(
                Text(PAGE_W / 2, FOOTER_Y, f"— {number} / {total} —", 10.0, anchor="middle")
            )

    # ---- the whole document ---------------------------------------------------------------
    def build(self) -> Document:
        record = self.record
        self.new_page()
        self.header()
        self.rows(record_rows(record))
        self.body(str(record.get("body") or ""))
        self.closing()
        self.footers()
        return Document(
            title=str(record.get("title", "")),
            pages=self.pages,
            author=str(record.get("issuer", {}).get("name", "")) or "通办 Tongban",
            keywords={"document_id": str(record.get("id", "")), "qr": self.qr_text},
        )


def record_rows(record: dict) -> list[tuple[str, str]]:
    """The label/value rows a record prints, in order."""
    kind = str(record.get("kind", ""))
    name_label, id_label = SUBJECT_LABELS.get(kind, ("申请人", "证件号码"))
    rows: list[tuple[str, str]] = []
    subject = record.get("subject") or {}
    if subject.get("name"):
        rows.append((str(subject.get("label") or name_label), str(subject["name"])))
    if subject.get("id_masked"):
        rows.append((str(subject.get("id_label") or id_label), str(subject["id_masked"])))
    if record.get("case_number"):
        rows.append(("办件编号", str(record["case_number"])))
    for fact in record.get("facts") or []:
        rows.append((str(fact.get("label", "")), str(fact.get("value", ""))))
    stated = any(str(f.get("label", "")).startswith("有效期") for f in record.get("facts") or [])
    if record.get("valid_until") and not stated:
        rows.append(("有效期至", date_cn(record["valid_until"])))
    return rows


def _star(cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    points = []
    for i in range(10):
        radius = r if i % 2 == 0 else r * 0.382
        angle = math.radians(-90 + 36 * i)
        points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    return points

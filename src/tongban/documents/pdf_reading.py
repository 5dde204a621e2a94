"""Reading a printed document back: its QR code (pages rendered with poppler's pdftoppm,
read with zxing-cpp) and its text with positions (pdfplumber), compared with what the signed
record prints (official.py lays out the record the same way every time).

The comparison is line by line: the text of each page, grouped by baseline and read left to
right, must be exactly the lines the record's layout prints (whitespace ignored); the seal's
arc text (drawn in the seal's red) must be the issuer's name. Anything added, removed or
changed is a mismatch.
"""

from __future__ import annotations

import difflib
import io
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import zxingcpp
from PIL import Image

from tongban.documents import formats, layout
from tongban.documents.official import SEAL_RED, record_layout

MAX_PDF_BYTES = 20 * 1024 * 1024
MAX_PAGES = 20
RENDER_PIXELS = (1200, 2400)  # the long side: ≈100 dpi, then ≈200 dpi on A4
LINE_TOLERANCE_MM = 0.6


class PdfUnreadable(ValueError):
    """Not a PDF we can read (or pdftoppm is missing)."""


@dataclass(frozen=True)
class PrintedText:
    lines: list[list[str]]  # per page, the running text lines
    seal: str  # the seal's characters, sorted


def pdf_page_count(content: bytes) -> int:
    import pdfplumber

    try:
        with pdfplumber.open(io.BytesIO(content)) as pdf:
            return len(pdf.pages)
    except Exception as exc:  # noqa: BLE001 — hostile bytes reach a PDF parser
        raise PdfUnreadable(f"not a readable PDF: {exc.__class__.__name__}") from exc


def pdf_qr_text(content: bytes) -> str | None:
    """The first ``TBD1:`` QR text found, last page first (where the 落款 is); else any QR
    text found (e.g. a 亮证 code); else None."""
    if len(content) > MAX_PDF_BYTES:
        raise PdfUnreadable("PDF too large")
    pages = min(pdf_page_count(content), MAX_PAGES)
    other = None
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "document.pdf"
        source.write_bytes(content)
        # a quick, coarse look first (a 30 mm code is ≈ 2.5 px a module at 1,200 px on
        # A4), then the fine one: most documents are read at a quarter of the pixels
        for pixels in RENDER_PIXELS:
            found = _page_codes(source, Path(tmp), pages, pixels)
            for text in found:
                if text.startswith(formats.QR_PREFIX):
                    return text
            other = other or next(iter(found), None)
    return other


def _page_codes(source: Path, tmp: Path, pages: int, pixels: int) -> list[str]:
    """The QR texts found on the pages rendered ``pixels`` on their long side, last page
    first (the code is printed at the end of a document); stops at a page with a
    ``TBD1:`` code."""
    texts: list[str] = []
    for number in range(pages, 0, -1):
        prefix = tmp / f"p{number}-{pixels}"
        try:
            subprocess.run(
                [
                    "pdftoppm",
                    "-scale-to",  # the long side in pixels, bounded for any page size
                    str(pixels),  # a PDF may declare
                    "-gray",
                    "-png",
                    "-singlefile",
                    "-f",
                    str(number),
                    "-l",
                    str(number),
                    str(source),
                    str(prefix),
                ],
                check=True,
                capture_output=True,
                timeout=60,
            )
        except FileNotFoundError as exc:
            raise PdfUnreadable("pdftoppm (poppler-utils) is not installed") from exc
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            raise PdfUnreadable("the PDF could not be rendered") from exc
        with Image.open(prefix.with_suffix(".png")) as image:
            results = zxingcpp.read_barcodes(image.convert("L"))
        texts += [
            found.text
            for found in results
            if found.format == zxingcpp.BarcodeFormat.QRCode and found.text
        ]
        if any(text.startswith(formats.QR_PREFIX) for text in texts):
            break
    return texts


def _rgb_close(color, rgb: tuple[int, int, int]) -> bool:
    if not isinstance(color, (tuple, list)) or len(color) != 3:
        return False
    return all(abs(float(a) - b / 255) < 0.02 for a, b in zip(color, rgb, strict=True))


def _lines(entries: list[tuple[float, float, str]]) -> list[str]:
    """(baseline y mm, x mm, text) → lines, top to bottom, each read left to right."""
    lines: list[list[tuple[float, float, str]]] = []
    for entry in sorted(entries):
        if lines and entry[0] - lines[-1][-1][0] <= LINE_TOLERANCE_MM:
            lines[-1].append(entry)
        else:
            lines.append([entry])
    out = []
    for line in lines:
        text = "".join(t for _y, _x, t in sorted(line, key=lambda e: e[1]))
        text = "".join(text.split())
        if text:
            out.append(text)
    return out


def pdf_printed_text(content: bytes) -> PrintedText:
    """The text a PDF prints, by page and line (pdfplumber, with positions)."""
    import pdfplumber

    if len(content) > MAX_PDF_BYTES:
        raise PdfUnreadable("PDF too large")
    pages: list[list[str]] = []
    seal: list[str] = []
    try:
        with pdfplumber.open(io.BytesIO(content)) as pdf:
            for page in pdf.pages[:MAX_PAGES]:
                entries = []
                for char in page.chars:
                    if _rgb_close(char.get("non_stroking_color"), SEAL_RED):
                        seal.append(char["text"])
                        continue
                    baseline_mm = (
                        float(page.height) - float(char["matrix"][5])
                    ) * layout.MM_PER_POINT
                    x_mm = float(char["x0"]) * layout.MM_PER_POINT
                    entries.append((round(baseline_mm, 2), x_mm, char["text"]))
                pages.append(_lines(entries))
    except PdfUnreadable:
        raise
    except Exception as exc:  # noqa: BLE001 — hostile bytes reach a PDF parser
        raise PdfUnreadable(f"not a readable PDF: {exc.__class__.__name__}") from exc
    return PrintedText(lines=pages, seal="".join(sorted(c for c in seal if not c.isspace())))


def layout_printed_text(document: layout.Document) -> PrintedText:
    """The text a layout prints, by page and line, as pdf_printed_text reads it."""
    pages: list[list[str]] = []
    seal: list[str] = []
    for page in document.pages:
        entries = []
        for item in page.items:
            if not isinstance(item, layout.Text):
                continue
            if item.role == "seal":
                seal.extend(item.text)
                continue
            width = layout.text_width(item.text, item.size)
            x = {"start": item.x, "middle": item.x - width / 2, "end": item.x - width}[item.anchor]
            for offset, ch in enumerate(item.text):
                entries.append((round(item.y, 2), x + offset * 1e-3, ch))
        pages.append(_lines(entries))
    return PrintedText(lines=pages, seal="".join(sorted(c for c in seal if not c.isspace())))


def content_mismatches(content: bytes, record: dict, qr_text: str) -> list[str]:
    """How a PDF's printed text differs from what the signed record prints ([] = same)."""
    expected = layout_printed_text(record_layout(record, qr_text))
    actual = pdf_printed_text(content)
    problems: list[str] = []
    if len(actual.lines) != len(expected.lines):
        problems.append(f"{len(actual.lines)} pages printed, the record has {len(expected.lines)}")
    for number, (want, got) in enumerate(zip(expected.lines, actual.lines, strict=False), 1):
        for line in difflib.unified_diff(want, got, lineterm="", n=0):
            if line.startswith(("---", "+++", "@@")):
                continue
            sign = "printed, not signed" if line.startswith("+") else "signed, not printed"
            problems.append(f"page {number}: {sign}: {line[1:]}")
    if actual.seal != expected.seal:
        problems.append("the seal does not carry the issuer's name")
    return problems

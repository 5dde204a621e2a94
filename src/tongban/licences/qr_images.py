"""Reading a QR code from an uploaded picture (zxing-cpp) and drawing one (segno)."""

from __future__ import annotations

import io
import logging
import warnings

import segno
import zxingcpp
from django.utils.translation import gettext as _
from PIL import Image

from tongban.errors import DomainError

log = logging.getLogger(__name__)

MAX_IMAGE_BYTES = 10 * 1024 * 1024
# 40 megapixels (e.g. 8000 × 5000): more than any phone photo of a QR code needs,
# and 160 MB once decoded to RGBA — the bound is checked on the header, before decoding.
MAX_PIXELS = 40_000_000
FORMATS = ("PNG", "JPEG")


def _too_many_pixels() -> DomainError:
    return DomainError(
        "image_too_large",
        _("图片像素过多（不超过 4000 万像素），请截取二维码部分后重新上传"),
        status=413,
    )


def qr_text_from_image(content: bytes) -> str:
    """The text of the first QR code in a PNG/JPEG image; DomainError if there is none.

    The size in bytes and the pixel count the header declares are bounded before
    anything is decoded, so a small file that declares 20000 × 20000 pixels (a
    decompression bomb) is refused with 413, like a file that is too large.
    Anything else a picture decoder may raise on hostile bytes is ``not_an_image``.
    """
    if len(content) > MAX_IMAGE_BYTES:
        raise DomainError("image_too_large", _("图片过大（不超过 10 MB）"), status=413)
    try:
        with warnings.catch_warnings():
            # our own bound (MAX_PIXELS) is lower than Pillow's warning threshold
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content), formats=FORMATS) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise _too_many_pixels()
                image.load()
                results = zxingcpp.read_barcodes(image.convert("L"))
    except DomainError:
        raise
    except Image.DecompressionBombError as exc:
        raise _too_many_pixels() from exc
    except Exception as exc:  # noqa: BLE001 — hostile bytes reach a C decoder; refuse them all
        log.info("uploaded picture not readable: %s: %s", exc.__class__.__name__, exc)
        raise DomainError(
            "not_an_image", _("无法读取图片：请上传 PNG 或 JPEG 格式的二维码图片")
        ) from exc
    for result in results:
        if result.format == zxingcpp.BarcodeFormat.QRCode and result.text:
            return result.text
    raise DomainError("no_qr_code", _("图片中未找到可识别的二维码"))


def qr_png(text: str, *, scale: int = 4) -> bytes:
    buffer = io.BytesIO()
    segno.make(text, error="l").save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


def qr_svg_data_uri(text: str) -> str:
    return segno.make(text, error="l").svg_data_uri(scale=4, border=4)

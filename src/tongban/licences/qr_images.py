"""Reading a QR code from an uploaded picture (zxing-cpp) and drawing one (segno)."""

from __future__ import annotations

import io

import segno
import zxingcpp
from PIL import Image, UnidentifiedImageError

from tongban.errors import DomainError

MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000


def qr_text_from_image(content: bytes) -> str:
    """The text of the first QR code in a PNG/JPEG image; DomainError if there is none."""
    if len(content) > MAX_IMAGE_BYTES:
        raise DomainError("image_too_large", "图片过大（不超过 10 MB）", status=413)
    try:
        with Image.open(io.BytesIO(content)) as image:
            if image.width * image.height > MAX_PIXELS:
                raise DomainError("image_too_large", "图片像素过多", status=413)
            image.load()
            results = zxingcpp.read_barcodes(image.convert("L"))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DomainError(
            "not_an_image", "无法读取图片：请上传 PNG 或 JPEG 格式的二维码图片"
        ) from exc
    for result in results:
        if result.format == zxingcpp.BarcodeFormat.QRCode and result.text:
            return result.text
    raise DomainError("no_qr_code", "图片中未找到可识别的二维码")


def qr_png(text: str, *, scale: int = 4) -> bytes:
    buffer = io.BytesIO()
    segno.make(text, error="l").save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


def qr_svg_data_uri(text: str) -> str:
    return segno.make(text, error="l").svg_data_uri(scale=4, border=4)

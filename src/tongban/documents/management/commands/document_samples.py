"""tongban document-samples DIR — draw one page of every document kind to DIR/<kind>.png.

The samples (documents/samples.py) are laid out and written exactly as issued documents are;
they are signed with a throw-away key (kid ``sample``), so their QR codes parse but verify
nowhere, and nothing is stored in any database. A document longer than a page also gets its
last page (``<kind>-last.png``), where the seal and the QR code are.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand
from PIL import Image

from tongban.documents import formats
from tongban.documents.official import record_layout
from tongban.documents.pdf import pdf_write
from tongban.documents.samples import ISSUED_AT, SAMPLES, sample_arguments
from tongban.documents.services import record_build
from tongban.gm import sm2
from tongban.gm.sm3 import sm3_hex

NODE = "sh"
ORGANIZATION_CODE = "11310118MB2F00000X"  # sample


class Command(BaseCommand):
    help = "Render one page of each document kind to PNG (samples for the documentation)."

    def add_arguments(self, parser):
        parser.add_argument("directory")
        parser.add_argument("--dpi", type=int, default=80)

    def handle(self, *args, directory: str, dpi: int, **opts):
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        key = sm2.SigningKey.generate()
        for kind in formats.KINDS:
            arguments = sample_arguments(kind)
            document_id = f"{NODE}-{sm3_hex(kind.encode())[:20]}"
            record = record_build(
                node=NODE,
                document_id=document_id,
                organization_code=ORGANIZATION_CODE,
                organization_name=SAMPLES[kind]["organization"],
                issued_at=ISSUED_AT,
                **arguments,
            )
            digest = formats.record_digest(record)
            signature = key.sign_b64(formats.statement(NODE, document_id, digest))
            text = formats.qr_text(
                node=NODE, document_id=document_id, digest=digest, kid="sample", signature=signature
            )
            document = record_layout(record, text)
            pdf = pdf_write(document)
            pages = [1] if len(document.pages) == 1 else [1, len(document.pages)]
            with tempfile.TemporaryDirectory() as tmp:
                source = Path(tmp) / "sample.pdf"
                source.write_bytes(pdf)
                for page in pages:
                    name = kind if page == 1 else f"{kind}-last"
                    subprocess.run(
                        [
                            "pdftoppm",
                            "-r",
                            str(dpi),
                            "-png",
                            "-singlefile",
                            "-f",
                            str(page),
                            "-l",
                            str(page),
                            str(source),
                            str(out / name),
                        ],
                        check=True,
                        capture_output=True,
                    )
                    png = out / f"{name}.png"
                    with Image.open(png) as image:  # a palette keeps the repository small
                        small = image.convert("RGB").quantize(colors=32)
                    small.save(png, optimize=True)
                    self.stdout.write(f"{png}  {formats.KINDS[kind]}")

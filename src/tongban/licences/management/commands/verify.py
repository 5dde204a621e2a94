"""tongban verify <QR image file | QR text | -> — check a 亮证 QR code.

Works offline from this node's cached global configuration and cached status
lists; ``--online`` first fetches the issuing node's current status list.
Exit status: 0 only for a valid presentation; 1 for any other verdict; 2 when
the input cannot be read at all (no file, no QR code in the image).
"""

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand

from tongban.errors import DomainError
from tongban.licences.qr_images import qr_text_from_image
from tongban.licences.services import verification_record
from tongban.licences.verification import presentation_verify


class Command(BaseCommand):
    help = "Verify a licence presentation QR code (image file, QR text, or - for stdin)."

    def add_arguments(self, parser):
        parser.add_argument("source", help="a PNG/JPEG file with the QR code, its text, or -")
        parser.add_argument(
            "--online", action="store_true", help="ask the issuing node for fresh status first"
        )
        parser.add_argument("--json", action="store_true", help="print the verdict as JSON")

    def handle(self, *args, source: str, online: bool, json: bool, **opts):
        try:
            text = self._text(source)
        except (DomainError, OSError) as exc:
            message = getattr(exc, "message", None) or str(exc)
            self.stderr.write(f"tongban verify: {message}")
            sys.exit(2)
        verdict = presentation_verify(text, online=online)
        verification_record(verdict=verdict, channel="cli", online=online)
        if json:
            self.stdout.write(_json(verdict.as_dict()))
        else:
            self._print(verdict)
        sys.exit(0 if verdict.ok else 1)

    def _text(self, source: str) -> str:
        if source == "-":
            return sys.stdin.read()
        path = Path(source)
        if not source.startswith("TB1:") and path.is_file():
            return qr_text_from_image(path.read_bytes())
        return source

    def _print(self, verdict) -> None:
        d = verdict.as_dict()
        lines = [f"核验结果: {d['label']} ({d['verdict']})"]
        if d["reason"] and not verdict.ok:
            lines.append(f"原因: {d['reason']}")
        licence = d["licence"]
        if licence["identifier"]:
            lines += [
                f"证照类型: {licence['type']['name']} ({licence['type']['code']})",
                f"颁发机构: {licence['issuer']['name']} [{licence['issuer']['node']}]",
                f"证照标识: {licence['identifier']}",
                f"有效期: {licence['valid_from']} 至 {licence['valid_to'] or '长期'}",
            ]
        for field in d["disclosed"]:
            lines.append(f"  {field['label']}: {field['value']}")
        if d["presentation_expires_at"]:
            lines.append(f"亮证码有效至: {d['presentation_expires_at']}")
        if d["status"]["source"]:
            lines.append(f"状态来源: {d['status']['source']} @ {d['status']['checked_at']}")
        self.stdout.write("\n".join(lines))


def _json(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)

"""tongban verify <QR image file | QR text | -> — check a 亮证 QR code.

Fetches the issuing node's current status list first (联网查询) and falls back
to this node's cached list when the issuer cannot be reached, saying how old it
is; ``--offline`` uses only the cached global configuration and status lists.
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
            "--online",
            action="store_true",
            help="ask the issuing node for fresh status first (the default)",
        )
        parser.add_argument(
            "--offline", action="store_true", help="use only the cached status lists"
        )
        parser.add_argument("--json", action="store_true", help="print the verdict as JSON")

    def handle(self, *args, source: str, online: bool, offline: bool, json: bool, **opts):
        online = not offline
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
            masked = "（部分遮蔽）" if field.get("masked") else ""
            lines.append(f"  {field['label']}: {field['value']}{masked}")
        if d["presentation_expires_at"]:
            lines.append(f"亮证码有效至: {d['presentation_expires_at']}")
        status = d["status"]
        if status["source"]:
            age = status["age_seconds"]
            lines.append(
                f"状态来源: {status['source']} @ {status['checked_at']}"
                + (f"（状态更新于 {age} 秒前）" if age is not None else "")
            )
        if status["online_failed"]:
            lines.append("联网查询失败，已使用本节点缓存的状态列表")
        self.stdout.write("\n".join(lines))


def _json(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)

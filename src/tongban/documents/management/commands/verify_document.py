"""tongban verify <PDF | QR image | QR text | -> — check a printed document (or a 亮证 code).

A printed document's ``TBD1:`` QR code is verified with the issuing node (signature, current
status, signed content); for a PDF the printed text is also compared with the signed content
(``content_mismatch`` when they differ). Any other QR code (a 亮证 ``TB1:`` code) goes to the
licence verifier. ``--offline`` does not ask the issuer (the verdict is then at best
``signature_only``, with a copy's content if this node holds one).

Exit status: 0 only for a genuine document (or a valid 亮证 code); 1 for any other verdict;
2 when the input cannot be read (no file, no QR code, not a PDF or picture).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand

from tongban.documents import formats
from tongban.documents.dates import datetime_cn
from tongban.documents.pdf_reading import PdfUnreadable, content_mismatches, pdf_qr_text
from tongban.documents.verification import document_verify
from tongban.errors import DomainError
from tongban.licences.qr_images import qr_text_from_image


class Command(BaseCommand):
    help = "Verify a printed document (PDF, picture of its QR code, or the QR text) or a 亮证 code."

    def add_arguments(self, parser):
        parser.add_argument("source", help="a PDF, a PNG/JPEG with the QR code, its text, or -")
        parser.add_argument(
            "--online", action="store_true", help="ask the issuing node (the default)"
        )
        parser.add_argument("--offline", action="store_true", help="do not ask the issuing node")
        parser.add_argument("--json", action="store_true", help="print the verdict as JSON")

    def handle(self, *args, source: str, online: bool, offline: bool, json: bool, **opts):
        pdf = None
        try:
            if source == "-":
                text = sys.stdin.read().strip()
            elif not source.startswith(("TBD1:", "TB1:")) and Path(source).is_file():
                content = Path(source).read_bytes()
                if content.startswith(b"%PDF"):
                    pdf = content
                    text = pdf_qr_text(content)
                    if text is None:
                        raise DomainError("no_qr_code", "PDF 中未找到可识别的二维码")
                else:
                    text = qr_text_from_image(content)
            else:
                text = source
        except (DomainError, OSError, PdfUnreadable) as exc:
            message = getattr(exc, "message", None) or str(exc)
            self.stderr.write(f"tongban verify: {message}")
            sys.exit(2)
        if not text.startswith(formats.QR_PREFIX):
            # a 亮证 code (or anything else): the licence verifier answers
            options = ["--offline"] if offline else ["--online"]
            call_command(
                "verify",
                text,
                *options,
                *(["--json"] if json else []),
                stdout=self.stdout._out,
                stderr=self.stderr._out,
            )
            return
        verdict = document_verify(text, online=not offline)
        if (
            pdf is not None
            and verdict.record is not None
            and verdict.verdict
            not in (
                "forged",
                "malformed",
            )
        ):
            try:
                problems = content_mismatches(pdf, verdict.record, text)
            except PdfUnreadable as exc:
                problems = [str(exc)]
            if problems:
                verdict.mismatches = problems
                verdict.verdict = "content_mismatch"
                verdict.reason = "the printed text is not the signed content"
        if json:
            self.stdout.write(_json(verdict.as_dict()))
        else:
            self._print(verdict)
        sys.exit(0 if verdict.ok else 1)

    def _print(self, verdict) -> None:
        d = verdict.as_dict()
        lines = [f"核验结果: {d['label']} ({d['verdict']})"]
        if d["reason"] and not verdict.ok:
            lines.append(f"原因: {d['reason']}")
        for problem in d["mismatches"][:20]:
            lines.append(f"  不一致: {problem}")
        content = d["content"]
        if content:
            lines += [
                f"文书: {content['title']}"
                + (f"（{content['doc_number']}）" if content["doc_number"] else ""),
                f"签发机关: {content['issuer'].get('name', '')}",
                f"签发时间: {content['issued_at_cn']}（北京时间）",
            ]
            for row in content["rows"]:
                lines.append(f"  {row['label']}: {row['value']}")
            if content["body"]:
                lines.append(f"  正文: {content['body']}")
            source = {
                "issuer": "签发节点",
                "register": "本节点（签发节点）",
                "copy": "本节点保存的副本",
            }
            lines.append(f"内容来源: {source.get(d['content_source'], d['content_source'])}")
        status = d["status"]
        if status["value"]:
            lines.append(
                f"文书状态: {status['label']}（查询于 {datetime_cn(status['checked_at'])}）"
            )
        if status["licence"]:
            lines.append(
                f"所载证照: {status['licence'].get('identifier', '')} {status['licence'].get('status', '')}"
            )
        if not d["issuer_reached"] and d["verdict"] == "signature_only":
            lines.append("未能连接签发节点：仅验证了签名，当前状态未知")
        lines.append(f"文书标识: {d['document']['id']}")
        self.stdout.write("\n".join(lines))


def _json(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)

"""/api/v1/audit/…: the latest signed checkpoint and proofs. Public: leaf hashes only."""

from __future__ import annotations

import base64

from django.http import HttpResponse
from django.utils.translation import gettext as _
from ninja import Router, Schema

from tongban.api_errors import ErrorOut, errors
from tongban.audit import selectors, witness
from tongban.errors import DomainError

router = Router(tags=["audit"])


class InclusionOut(Schema):
    index: int
    size: int
    leaf_hash: str
    proof: list[str]


class ConsistencyOut(Schema):
    first: int
    second: int
    proof: list[str]


def _b64(items: list[bytes]) -> list[str]:
    return [base64.b64encode(x).decode() for x in items]


@router.get(
    "/audit/checkpoint",
    summary="审计日志最新的已副署检查点（签名的 tlog-checkpoint 文本及见证方副署）",
    response={404: ErrorOut},
    openapi_extra={
        "responses": {
            200: {
                "description": (
                    "the latest checkpoint cosigned by at least one witness: the signed note "
                    "(C2SP tlog-checkpoint) with the witnesses' cosignature lines "
                    "(tlog-cosignature), exchange protocol §16.5; with uncosigned=1 the latest "
                    "signed checkpoint, cosigned or not"
                ),
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        }
    },
)
def audit_checkpoint(request, uncosigned: bool = False):
    if uncosigned:
        cp = selectors.latest_checkpoint()
        if cp is None:
            raise DomainError("no_checkpoint", _("审计日志尚无检查点"), status=404)
        return HttpResponse(cp.cosigned_note or cp.note, content_type="text/plain; charset=utf-8")
    cp = selectors.latest_cosigned_checkpoint()
    if cp is None:
        raise DomainError(
            "no_cosigned_checkpoint", _("审计日志尚无经见证方副署的检查点"), status=404
        )
    response = HttpResponse(cp.cosigned_note, content_type="text/plain; charset=utf-8")
    response["Tongban-Witnesses"] = ",".join(cp.witnesses or [])
    return response


@router.post(
    "/audit/witness/add-checkpoint",
    auth=None,
    summary="见证方：副署另一节点审计日志的检查点（C2SP tlog-witness add-checkpoint）",
    response={**errors(400, 403, 404, 413, 422)},
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": (
                "old <size>, consistency proof lines (base64), an empty line, the signed "
                "checkpoint note (exchange protocol §16.5)"
            ),
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        "responses": {
            200: {
                "description": "the witness's cosignature line(s) (C2SP tlog-cosignature)",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
            409: {
                "description": (
                    "old is not the size this witness last cosigned (or that size with another "
                    "root): that size in decimal and a newline"
                ),
                "content": {"text/x.tlog.size": {"schema": {"type": "string"}}},
            },
        },
    },
)
def audit_witness_add_checkpoint(request):
    """Unauthenticated: the log's signature on the checkpoint authenticates the request."""
    try:
        line = witness.witness_add_checkpoint(body=request.body, request=request)
    except witness.WitnessConflict as exc:
        response = HttpResponse(f"{exc.size}\n", status=409, content_type=witness.SIZE_CONTENT_TYPE)
        response["Tongban-Error"] = exc.code
        return response
    return HttpResponse(line, content_type="text/plain; charset=utf-8")


def _damaged() -> DomainError:
    return DomainError(
        "audit_log_inconsistent",
        _("审计日志不完整，无法给出证明（请运行 tongban audit verify）"),
        status=409,
    )


def _size_within(size: int, name: str) -> None:
    if size > selectors.tree_size():
        raise DomainError(
            "beyond_tree_size",
            _("请求的树大小超过审计日志当前大小"),
            status=400,
            details={"field": name},
        )


@router.get(
    "/audit/proof/inclusion",
    response={200: InclusionOut, **errors(400, 409)},
    summary="审计日志条目的包含证明",
)
def audit_inclusion_proof(request, index: int, size: int):
    if not 0 <= index < size:
        raise DomainError("invalid_range", _("须满足 0 ≤ index < size"), status=400)
    _size_within(size, "size")
    leaf = selectors.leaf_hash_at(index)
    try:
        proof = selectors.inclusion_proof(index, size)
    except LookupError:
        proof = None
    if leaf is None or proof is None:
        raise _damaged()
    return {
        "index": index,
        "size": size,
        "leaf_hash": base64.b64encode(leaf).decode(),
        "proof": _b64(proof),
    }


@router.get(
    "/audit/proof/consistency",
    response={200: ConsistencyOut, **errors(400, 409)},
    summary="审计日志两个树大小之间的一致性证明",
)
def audit_consistency_proof(request, first: int, second: int):
    if not 0 <= first <= second:
        raise DomainError("invalid_range", _("须满足 0 ≤ first ≤ second"), status=400)
    _size_within(second, "second")
    try:
        proof = selectors.consistency_proof(first, second)
    except LookupError:
        raise _damaged() from None
    return {"first": first, "second": second, "proof": _b64(proof)}

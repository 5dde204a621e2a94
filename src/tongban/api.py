"""The REST API under /api/v1/, served by the hub and by every node."""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser

import tongban
from tongban.api_errors import ErrorOut
from tongban.audit.api import router as audit_router
from tongban.cases.api import oversight_router
from tongban.cases.api import router as cases_router
from tongban.catalog.api import router as catalog_router
from tongban.directory.api import router as directory_router
from tongban.directory.signing import NoSigningKey
from tongban.documents.api import router as documents_router
from tongban.errors import DomainError
from tongban.exchange.api import router as exchange_router
from tongban.gm.strict_json import StrictJSONError, loads_strict
from tongban.identity.api import router as identity_router
from tongban.identity.authentication import BEARER_REFUSED_ATTR
from tongban.licences.api import router as licences_router
from tongban.sharing.api import router as sharing_router
from tongban.sharing.data_use_api import router as data_use_router

JSON_MAX_DEPTH = 64


def _unsupported_media_type(message) -> DomainError:
    return DomainError("unsupported_media_type", message, status=415)


def _invalid_json(reason: str) -> DomainError:
    return DomainError(
        "invalid_json", _("请求体不是有效的 JSON"), status=400, details={"reason": reason}
    )


def _has_nul(value) -> bool:
    """A U+0000 anywhere in a parsed JSON value (PostgreSQL cannot store it in text)."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if "\x00" in v:
                return True
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return False


class StrictParser(Parser):
    """JSON bodies: ``application/json`` only (415 otherwise), UTF-8 only (415 for
    UTF-16/32, a byte order mark or bytes that are not UTF-8), strict I-JSON
    (tongban.gm.strict_json; 400 ``invalid_json`` with ``details.reason``: syntax,
    duplicate member names, nesting deeper than 64, lone surrogates, numbers beyond
    I-JSON's range, U+0000). Query and form values with U+0000 answer 422.

    ninja wraps whatever ``parse_body`` raises in ``HttpError(400)``; the handler of
    HttpError below answers with the DomainError it was raised from."""

    def parse_body(self, request):
        if request.content_type != "application/json":
            raise _unsupported_media_type(_("请求体须为 JSON（Content-Type: application/json）"))
        charset = request.content_params.get("charset", "utf-8").lower().replace("_", "-")
        body = request.body
        if charset not in ("utf-8", "utf8") or b"\x00" in body:
            raise _unsupported_media_type(_("JSON 请求体须使用 UTF-8 编码"))
        try:
            data = loads_strict(
                body, max_bytes=settings.DATA_UPLOAD_MAX_MEMORY_SIZE, max_depth=JSON_MAX_DEPTH
            )
        except StrictJSONError as exc:
            if exc.reason == "not_utf8":
                raise _unsupported_media_type(_("JSON 请求体须使用 UTF-8 编码")) from exc
            raise _invalid_json(exc.reason) from exc
        if _has_nul(data):
            raise _invalid_json("U+0000 in a string")
        return data

    def parse_querydict(self, data, list_fields, request):
        for key, values in data.lists():
            if "\x00" in key or any(isinstance(v, str) and "\x00" in v for v in values):
                raise DomainError(
                    "invalid_request",
                    _("请求格式不正确"),
                    status=422,
                    details={"fields": {key.replace("\x00", ""): _("不能包含 NUL 字符")}},
                )
        return super().parse_querydict(data, list_fields, request)


api = NinjaAPI(
    title="通办 Tongban API",
    version=tongban.__version__,
    description="长三角政务服务“一网通办”：事项、办件、节点间交换。See docs/api.md.",
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
    parser=StrictParser(),
)
api.add_router("", directory_router)
api.add_router("", catalog_router)
api.add_router("", identity_router)
api.add_router("", exchange_router)
api.add_router("/cases", cases_router)
api.add_router("", oversight_router)
api.add_router("", licences_router)
api.add_router("", documents_router)
api.add_router("", audit_router)
api.add_router("", sharing_router)
api.add_router("", data_use_router)


def _refuse_nul_in_path(run):
    """Path parameters with U+0000 answer 422 before anything is looked up (PostgreSQL
    cannot compare text with NUL; the query and the body are checked by StrictParser)."""

    @wraps(run)
    def checked(request, *args, **kwargs):
        bad = [k for k, v in kwargs.items() if isinstance(v, str) and "\x00" in v]
        if bad:
            return _error(
                request,
                422,
                "invalid_request",
                _("请求格式不正确"),
                {"fields": dict.fromkeys(bad, _("不能包含 NUL 字符"))},
            )
        return run(request, *args, **kwargs)

    return checked


api.add_decorator(_refuse_nul_in_path, mode="view")


def _declare_framework_responses(api: NinjaAPI) -> None:
    """Every answer the framework and the handlers below can give, in each operation's
    OpenAPI responses (the domain errors are declared in each api.py):

    * authenticated operations: 401 (no, bad, expired or revoked token) and 403
      (``insufficient_scope``, ``csrf_failed``);
    * operations with parameters or a body: 422 (``invalid_request``);
    * operations with a body: 413 (``request_too_large``); JSON bodies also 400
      (``invalid_json``) and 415 (``unsupported_media_type``);
    * operations with query or path parameters: 414, answered by the web server
      (gunicorn) to a request line above 4,094 bytes, without a JSON body.
    """
    for bound in api._get_bound_routers():
        for path_view in bound.path_operations.values():
            for op in path_view.operations:
                sources = {m.__ninja_param_source__ for m in op.models}
                extra = []
                if op.auth_callbacks:
                    extra += [401, 403]
                if sources:
                    extra.append(422)
                if sources & {"body", "form", "file"}:
                    extra.append(413)
                if "body" in sources:
                    extra += [400, 415]
                for status in extra:
                    op.response_models.setdefault(status, op._create_response_model(ErrorOut))
                if sources & {"query", "path"}:
                    op.response_models.setdefault(414, None)


_declare_framework_responses(api)


def _error(request, status: int, code: str, message: str, details: dict | None = None):
    response = api.create_response(
        request,
        {"error": {"code": code, "message": str(message), "details": details or {}}},
        status=status,
    )
    if status == 401:  # RFC 6750 §3
        challenge = f'Bearer realm="tongban-{settings.TONGBAN_NODE}"'
        if getattr(request, BEARER_REFUSED_ATTR, False):
            challenge += ', error="invalid_token"'
        response["WWW-Authenticate"] = challenge
    return response


@api.exception_handler(DomainError)
def domain_error(request, exc: DomainError):
    return _error(request, exc.status, exc.code, exc.message, exc.details)


@api.exception_handler(ValidationError)
def validation_error(request, exc: ValidationError):
    fields = {}
    for err in exc.errors:
        loc = ".".join(str(p) for p in err.get("loc", [])[1:]) or "body"
        fields[loc] = err.get("msg", "")
    return _error(request, 422, "invalid_request", _("请求格式不正确"), {"fields": fields})


@api.exception_handler(AuthenticationError)
def authentication_error(request, exc):
    if getattr(request, BEARER_REFUSED_ATTR, False):
        message = _("API 令牌无效、已过期或已撤销")
    else:
        message = _("请先登录或提供有效的 API 令牌")
    return _error(request, 401, "unauthenticated", message)


@api.exception_handler(NoSigningKey)
def node_without_key(request, exc):
    # a node that has no signing key yet cannot sign what it would answer (setup not finished)
    return _error(request, 503, "node_not_ready", _("本节点尚未生成签名密钥，暂时无法处理该请求"))


@api.exception_handler(Http404)
def not_found(request, exc):
    return _error(request, 404, "not_found", _("资源不存在"))


@api.exception_handler(RequestDataTooBig)
def request_too_large(request, exc):
    return _error(
        request,
        413,
        "request_too_large",
        _("请求过大（请求体不能超过 64 MiB，即 67,108,864 字节）"),
    )


@api.exception_handler(HttpError)
def http_error(request, exc: HttpError):
    cause = exc.__cause__
    if isinstance(cause, DomainError):  # raised by StrictParser inside ninja's body parsing
        return domain_error(request, cause)
    if isinstance(cause, RequestDataTooBig):
        return request_too_large(request, cause)
    return _error(request, exc.status_code, "http_error", str(exc))

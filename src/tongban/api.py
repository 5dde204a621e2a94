"""The REST API under /api/v1/, served by the hub and by every node."""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

import tongban
from tongban.cases.api import router as cases_router
from tongban.catalog.api import router as catalog_router
from tongban.directory.api import router as directory_router
from tongban.errors import DomainError
from tongban.exchange.api import router as exchange_router
from tongban.identity.api import router as identity_router
from tongban.licences.api import router as licences_router

api = NinjaAPI(
    title="通办 Tongban API",
    version=tongban.__version__,
    description="长三角政务服务“一网通办”：事项、办件、节点间交换。See docs/api.md.",
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)
api.add_router("", directory_router)
api.add_router("", catalog_router)
api.add_router("", identity_router)
api.add_router("", exchange_router)
api.add_router("/cases", cases_router)
api.add_router("", licences_router)


def _error(request, status: int, code: str, message: str, details: dict | None = None):
    return api.create_response(
        request,
        {"error": {"code": code, "message": str(message), "details": details or {}}},
        status=status,
    )


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
    return _error(request, 401, "unauthenticated", _("请先登录或提供有效的 API 令牌"))


@api.exception_handler(Http404)
def not_found(request, exc):
    return _error(request, 404, "not_found", _("资源不存在"))


@api.exception_handler(RequestDataTooBig)
def request_too_large(request, exc):
    return _error(request, 413, "request_too_large", _("请求过大（请求体不能超过 64 MiB，即 67,108,864 字节）"))


@api.exception_handler(HttpError)
def http_error(request, exc: HttpError):
    return _error(request, exc.status_code, "http_error", str(exc))

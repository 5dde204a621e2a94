"""Pages refuse NUL characters in the path, the query and form fields.

A NUL cannot be stored or compared in PostgreSQL text (psycopg raises), and has
no meaning in any value a page takes; refusing it once, before any view runs,
keeps it from every form and every search on PostgreSQL and SQLite alike. The
API under /api/ checks the same in its parser and answers its own error body
(422/400, see tongban.api)."""

from __future__ import annotations

from urllib.parse import unquote

from django.core.exceptions import BadRequest
from django.utils.translation import gettext as _


class RefuseNulCharactersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path_info.startswith("/api/") and self._has_nul(request):
            raise BadRequest(_("请求中含有 NUL 字符"))
        return self.get_response(request)

    @staticmethod
    def _has_nul(request) -> bool:
        raw_query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path_info or "\x00" in unquote(raw_query):
            return True
        if request.method == "POST" and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            for key, values in request.POST.lists():
                if "\x00" in key or any("\x00" in v for v in values):
                    return True
            for uploaded in request.FILES.values():
                if "\x00" in (uploaded.name or ""):
                    return True
        return False

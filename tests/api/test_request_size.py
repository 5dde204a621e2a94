"""The request body limit is 64 MiB = 67,108,864 bytes (DATA_UPLOAD_MAX_MEMORY_SIZE):
a body of exactly that size is read, one byte more is refused with 413."""

from __future__ import annotations

import pytest
from django.conf import settings

from tongban.api import request_too_large

LIMIT = 64 * 1024 * 1024
LOGIN = b'{"username": "nobody", "password": "wrong"}'


def test_the_limit_is_64_mib():
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == LIMIT == 67_108_864


def test_the_message_says_what_the_code_does(rf):
    response = request_too_large(rf.post("/api/v1/auth/tokens"), None)
    assert response.status_code == 413
    assert b"request_too_large" in response.content
    message = response.content.decode("unicode_escape")
    assert "64 MiB" in message and "67,108,864" in message and "64 MB" not in message


@pytest.mark.django_db
def test_a_body_of_exactly_64_mib_is_read_and_one_byte_more_is_refused(client):
    # valid JSON padded with whitespace to the exact size: read, parsed, answered 401
    body = LOGIN + b" " * (LIMIT - len(LOGIN))
    assert len(body) == 67_108_864
    response = client.post("/api/v1/auth/tokens", body, content_type="application/json")
    assert response.status_code == 401, response.content[:200]
    del body, response
    # one byte more: refused before anything is read
    body = LOGIN + b" " * (LIMIT + 1 - len(LOGIN))
    response = client.post("/api/v1/auth/tokens", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"

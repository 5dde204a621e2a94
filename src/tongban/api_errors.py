"""The error body every API endpoint answers with (see tongban.api's handlers)."""

from ninja import Schema


class ErrorBody(Schema):
    code: str
    message: str
    details: dict = {}


class ErrorOut(Schema):
    error: ErrorBody

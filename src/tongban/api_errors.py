"""The error body every API endpoint answers with (see tongban.api's handlers), and the
error responses operations declare in the OpenAPI document.

``tongban.api`` adds the answers the framework itself can give to every operation
(401/403 for authenticated ones, 400/413/415 for those with a body, 422 for those
with parameters); each ``api.py`` declares the domain errors of its operations with
``errors(...)`` or one of the shared sets below.
"""

from ninja import Schema


class ErrorBody(Schema):
    code: str
    message: str
    details: dict = {}


class ErrorOut(Schema):
    error: ErrorBody


def errors(*statuses: int) -> dict[int, type[ErrorOut]]:
    """``response={200: X, **errors(404, 409)}``."""
    return dict.fromkeys(statuses, ErrorOut)


# a domain action on an object that may be hidden (404), refused (400/403) or out of state (409)
ACTION_ERRORS = errors(400, 403, 404, 409)
# an upload: the action errors plus too large (413) and not an accepted type (415)
UPLOAD_ERRORS = errors(400, 403, 404, 409, 413, 415)
# reading one object that may not exist or not be visible to the caller
READ_ERRORS = errors(403, 404)

# Query parameters of list endpoints (docs/api.md, Pagination).
MAX_OFFSET = 1_000_000
MAX_LIMIT = 200
# Integer ids in paths (database primary keys: 64-bit signed).
MAX_ID = 2**63 - 1


def binary_response(*media_types: str) -> dict:
    """``openapi_extra`` for an operation that answers 200 with a file (PDF, image)."""
    return {
        "responses": {
            200: {
                "description": "OK",
                "content": {
                    t: {"schema": {"type": "string", "format": "binary"}} for t in media_types
                },
            }
        }
    }

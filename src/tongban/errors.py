"""The one error type that services raise for a request that cannot be done.

``code`` is machine-readable and stable; ``message`` is a translatable
sentence for the person who made the request; ``status`` is the HTTP status
the API answers with. Nothing has changed when it is raised.
"""


class DomainError(Exception):
    def __init__(self, code: str, message: str, *, status: int = 400, details: dict | None = None):
        super().__init__(str(message))
        self.code = code
        self.message = message
        self.status = status
        self.details = details or {}


class NotFound(DomainError):
    def __init__(self, message: str = "not found"):
        super().__init__("not_found", message, status=404)


class PermissionDenied(DomainError):
    def __init__(self, message: str):
        super().__init__("forbidden", message, status=403)

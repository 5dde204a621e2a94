"""RFC 8785 JSON Canonicalization Scheme (JCS)."""

from typing import Any

import rfc8785


class CanonicalizationError(ValueError):
    pass


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON value."""
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise CanonicalizationError(str(exc)) from exc

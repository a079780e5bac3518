"""Where a layer's keys start: the one prefix normalisation every layer shares."""

from __future__ import annotations

from typing import Any

import found
from found.errors import InvalidType, LayerError


def prefix_bytes(prefix: Any, error: type[LayerError]) -> bytes:
    """The raw key prefix of a tuple prefix (packed), raw bytes, or a Subspace-like object
    (anything with a ``key()`` returning bytes). An unpackable tuple raises ``error``, the
    calling layer's own error class; any other type raises InvalidType."""
    if isinstance(prefix, bytes):
        return prefix
    if isinstance(prefix, (tuple, list)):
        try:
            return found.pack(tuple(prefix))
        except (TypeError, ValueError) as problem:
            raise error(f"prefix {prefix!r} cannot be packed: {problem}") from None
    key = getattr(prefix, "key", None)
    if callable(key):
        raw = key()
        if isinstance(raw, bytes):
            return raw
    raise InvalidType(f"prefix must be a tuple, bytes or a Subspace, got {type(prefix).__name__}")

"""Key selectors: a key plus "which neighbour", resolved by the database at read time."""

from __future__ import annotations

from typing import NamedTuple


class KeySelector(NamedTuple):
    """Selects the last key < ``key`` (<= when ``or_equal``), then moves ``offset`` keys.

    Build them with :func:`lt`, :func:`lte`, :func:`gt` and :func:`gte`; ``+`` and ``-``
    shift the offset (``gte(k) + 1`` is the key after the first key >= k). Immutable and
    cheap to make (a tuple: range reads build two per call).
    """

    key: bytes
    or_equal: bool
    offset: int

    def __add__(self, offset: int) -> KeySelector:
        return KeySelector(self.key, self.or_equal, self.offset + offset)

    def __sub__(self, offset: int) -> KeySelector:
        return KeySelector(self.key, self.or_equal, self.offset - offset)


def lt(key: bytes, offset: int = 0) -> KeySelector:
    """The last key strictly less than ``key`` (FDB's last_less_than)."""
    return KeySelector(key, False, offset)


def lte(key: bytes, offset: int = 0) -> KeySelector:
    """The last key less than or equal to ``key`` (FDB's last_less_or_equal)."""
    return KeySelector(key, True, offset)


def gt(key: bytes, offset: int = 0) -> KeySelector:
    """The first key strictly greater than ``key`` (FDB's first_greater_than)."""
    return KeySelector(key, True, offset + 1)


def gte(key: bytes, offset: int = 0) -> KeySelector:
    """The first key greater than or equal to ``key`` (FDB's first_greater_or_equal)."""
    return KeySelector(key, False, offset + 1)

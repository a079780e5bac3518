"""Subspaces: a fixed key prefix followed by tuple-encoded keys.

Byte-compatible with ``fdb.subspace_impl.Subspace``, so data laid out with either binding
reads the same. A subspace built from ``prefix_tuple`` and ``raw_prefix`` owns every key
that starts with its prefix ``P = raw_prefix ‖ pack(prefix_tuple)``:

| call                          | keys                                              |
|-------------------------------|---------------------------------------------------|
| ``key()``                     | ``P``                                             |
| ``pack(t)``                   | ``P ‖ pack(t)``                                   |
| ``pack_with_versionstamp(t)`` | ``P ‖ pack(t) ‖ offset`` (4-byte LE)              |
| ``range(t)``                  | from ``P ‖ pack(t) ‖ 00`` to ``P ‖ pack(t) ‖ FF`` |
| ``subspace(t)``               | the subspace with prefix ``P ‖ pack(t)``          |
| ``sub[x]``                    | the subspace with prefix ``P ‖ pack((x,))``       |

``range(t)`` leaves out the key ``P ‖ pack(t)`` itself, as fdb does.
"""

from __future__ import annotations

from found.errors import InvalidArgument, InvalidType
from found.tuple import pack, pack_with_versionstamp, unpack

__all__ = ["Subspace"]


class Subspace:
    """A key prefix plus tuple packing under it; an immutable handle, equal by prefix.

    Fails with TupleError when ``prefix_tuple`` cannot be packed, and InvalidType when
    ``raw_prefix`` is not bytes.
    """

    __slots__ = ("_raw_prefix",)

    def __init__(self, prefix_tuple: tuple = (), raw_prefix: bytes = b"") -> None:
        if not isinstance(raw_prefix, bytes):
            raise InvalidType(f"raw_prefix must be bytes, got {type(raw_prefix).__name__}")
        self._raw_prefix = pack(prefix_tuple, raw_prefix)

    @property
    def raw_prefix(self) -> bytes:
        """The bytes every key of this subspace starts with."""
        return self._raw_prefix

    def key(self) -> bytes:
        """The prefix itself (the key of the empty tuple in this subspace)."""
        return self._raw_prefix

    def as_foundationdb_key(self) -> bytes:
        """The prefix, for code that passes a subspace where fdb expects a key."""
        return self._raw_prefix

    def pack(self, items: tuple = ()) -> bytes:
        """The key of ``items`` in this subspace; fails like :func:`found.tuple.pack`."""
        return pack(items, self._raw_prefix)

    def pack_with_versionstamp(self, items: tuple = ()) -> bytes:
        """The key of ``items`` plus the 4-byte LE offset of its one incomplete Versionstamp.

        Fails with TupleError unless ``items`` holds exactly one incomplete Versionstamp.
        """
        return pack_with_versionstamp(items, self._raw_prefix)

    def unpack(self, key: bytes) -> tuple:
        """The tuple that ``key`` encodes after the prefix.

        Fails with InvalidArgument when ``key`` is outside this subspace, and TupleError
        when the rest is not a packed tuple.
        """
        if not self.contains(key):
            raise InvalidArgument(f"key {key!r} is outside {self!r}")
        return unpack(key, len(self._raw_prefix))

    def range(self, items: tuple = ()) -> tuple[bytes, bytes]:
        """(begin, end) of the keys that extend ``pack(items)``, that key itself excluded."""
        packed = pack(items, self._raw_prefix)
        return packed + b"\x00", packed + b"\xff"

    def contains(self, key: bytes) -> bool:
        """True if ``key`` starts with this subspace's prefix.

        Fails with InvalidType when ``key`` is not bytes.
        """
        if not isinstance(key, bytes):
            raise InvalidType(f"key must be bytes, got {type(key).__name__}")
        return key.startswith(self._raw_prefix)

    def subspace(self, items: tuple) -> Subspace:
        """The subspace for keys that start with ``pack(items)`` in this one."""
        return Subspace(items, self._raw_prefix)

    def __getitem__(self, item: object) -> Subspace:
        """``sub[x]`` is ``sub.subspace((x,))``."""
        return Subspace((item,), self._raw_prefix)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Subspace):
            return NotImplemented
        return self._raw_prefix == other._raw_prefix

    def __hash__(self) -> int:
        return hash(self._raw_prefix)

    def __repr__(self) -> str:
        return f"Subspace(raw_prefix={self._raw_prefix!r})"

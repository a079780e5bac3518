"""Tuple layer: encode tuples of values as bytes that sort the way the tuples do.

The byte format is FoundationDB's tuple layer, so keys are byte-identical to what
``fdb.tuple.pack`` writes and either binding reads the other's data. Every element is a
type code followed by a payload:

| code        | value                          | payload                                          |
|-------------|--------------------------------|--------------------------------------------------|
| 0x00        | None                           | none (inside a nested tuple: 0x00 0xFF)          |
| 0x01        | bytes                          | bytes with 0x00 escaped as 0x00 0xFF, then 0x00  |
| 0x02        | str                            | UTF-8, escaped like bytes, then 0x00             |
| 0x05        | nested tuple (or list)         | the elements, then 0x00                          |
| 0x0b        | int ≤ -(2**64 - 1)             | length ^ 0xFF, ones' complement of magnitude     |
| 0x0c..0x13  | negative int, 8..1 bytes       | ones' complement of magnitude, big-endian        |
| 0x14        | 0                              | none                                             |
| 0x15..0x1c  | positive int, 1..8 bytes       | big-endian                                       |
| 0x1d        | int ≥ 2**64 - 1                | length byte, magnitude big-endian (≤ 255 bytes)  |
| 0x20        | SingleFloat (32-bit)           | IEEE bits; sign bit flipped, or all bits if < 0  |
| 0x21        | float (64-bit double)          | same transform on 8 bytes                        |
| 0x26 / 0x27 | False / True                   | none                                             |
| 0x30        | uuid.UUID                      | 16 bytes                                         |
| 0x33        | Versionstamp                   | 10-byte transaction version + 2-byte user version|

This module is the reference implementation and the fallback. When the native codec
``found._tuple_codec`` (found/native/tuple_codec.c) is built, ``pack``, ``unpack`` and
``pack_with_versionstamp`` are bound to it; both produce the same bytes, values and errors.

Unlike ``fdb.tuple``, decoding is strict: truncated or malformed bytes raise
:class:`~found.errors.TupleError` with the offset of the element that failed, where
``fdb.tuple`` silently accepts a missing terminator or fails with an arbitrary exception.
"""

from __future__ import annotations

import builtins
import ctypes
import math
import struct
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple

from found.errors import InvalidArgument, InvalidType, TupleError

__all__ = [
    "MAX_NESTING",
    "SingleFloat",
    "Versionstamp",
    "compare",
    "has_incomplete_versionstamp",
    "pack",
    "pack_with_versionstamp",
    "range",
    "unpack",
]

# Nested tuples deeper than this are refused both ways: it bounds the native codec's
# recursion, and keys (≤ 10 kB) never need more. fdb.tuple itself hits Python's recursion
# limit a few hundred levels down.
MAX_NESTING = 256

NULL_CODE = 0x00
BYTES_CODE = 0x01
STRING_CODE = 0x02
NESTED_CODE = 0x05
NEGATIVE_BIG_INT_CODE = 0x0B
INT_ZERO_CODE = 0x14
POSITIVE_BIG_INT_CODE = 0x1D
FLOAT_CODE = 0x20
DOUBLE_CODE = 0x21
FALSE_CODE = 0x26
TRUE_CODE = 0x27
UUID_CODE = 0x30
VERSIONSTAMP_CODE = 0x33

_UINT64_MAX = 0xFFFF_FFFF_FFFF_FFFF
_MAX_INT_BYTES = 255
_DOUBLE_BITS = struct.Struct(">d")
_SINGLE_BITS = struct.Struct(">f")
_U64 = struct.Struct(">Q")
_U32 = struct.Struct(">L")
_OFFSET = struct.Struct("<L")


def _type_name(value: object) -> str:
    return type(value).__name__


# --- value types ------------------------------------------------------------------


def _single_key(value: float) -> int:
    """Return the 32-bit tuple-layer encoding of ``value`` (already float32-exact) as an int."""
    bits = _U32.unpack(_SINGLE_BITS.pack(value))[0]
    return bits ^ 0xFFFF_FFFF if bits & 0x8000_0000 else bits ^ 0x8000_0000


class SingleFloat:
    """A 32-bit float element (code 0x20); a plain ``float`` packs as a 64-bit double.

    The value is rounded to the nearest float32 (out-of-range values become ±inf). Equality
    and ordering follow the packed bytes: -0.0 < 0.0, NaNs equal only with identical bits.
    """

    __slots__ = ("_value",)

    def __init__(self, value: float) -> None:
        if isinstance(value, ctypes.c_float):
            value = value.value
        if not isinstance(value, (float, int)):
            raise InvalidType(f"SingleFloat needs a float or int, got {_type_name(value)}")
        try:
            self._value: float = _SINGLE_BITS.unpack(_SINGLE_BITS.pack(value))[0]
        except OverflowError:
            try:
                self._value = math.copysign(math.inf, value)
            except OverflowError:  # an int too large even for a double
                raise InvalidArgument(f"SingleFloat value {value!r} is out of range") from None

    @property
    def value(self) -> float:
        """The value as a Python float (exactly representable in 32 bits)."""
        return self._value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SingleFloat):
            return NotImplemented
        return _single_key(self._value) == _single_key(other._value)

    def __lt__(self, other: SingleFloat) -> bool:
        if not isinstance(other, SingleFloat):
            return NotImplemented
        return _single_key(self._value) < _single_key(other._value)

    def __le__(self, other: SingleFloat) -> bool:
        if not isinstance(other, SingleFloat):
            return NotImplemented
        return _single_key(self._value) <= _single_key(other._value)

    def __gt__(self, other: SingleFloat) -> bool:
        if not isinstance(other, SingleFloat):
            return NotImplemented
        return _single_key(self._value) > _single_key(other._value)

    def __ge__(self, other: SingleFloat) -> bool:
        if not isinstance(other, SingleFloat):
            return NotImplemented
        return _single_key(self._value) >= _single_key(other._value)

    def __hash__(self) -> int:
        return hash(("SingleFloat", _single_key(self._value)))

    def __float__(self) -> float:
        return self._value

    def __repr__(self) -> str:
        return f"SingleFloat({self._value!r})"


class Versionstamp:
    """A 12-byte version: 10-byte transaction version + 2-byte big-endian user version.

    Incomplete (``tr_version is None``) until a commit fills in the transaction version;
    pack an incomplete one with :func:`pack_with_versionstamp` and write it with a
    versionstamped-key or -value mutation. Complete stamps order by (tr_version,
    user_version) and all sort before incomplete ones, as in ``fdb.tuple``.
    """

    __slots__ = ("_tr_version", "_user_version")

    LENGTH = 12
    TR_VERSION_LENGTH = 10
    MAX_USER_VERSION = 0xFFFF
    INCOMPLETE_TR_VERSION = b"\xff" * 10

    def __init__(self, tr_version: bytes | None = None, user_version: int = 0) -> None:
        if tr_version is not None:
            if not isinstance(tr_version, bytes):
                raise InvalidType(
                    f"Versionstamp tr_version must be bytes or None, got {_type_name(tr_version)}"
                )
            if len(tr_version) != self.TR_VERSION_LENGTH:
                raise InvalidArgument(
                    f"Versionstamp tr_version must be {self.TR_VERSION_LENGTH} bytes, "
                    f"got {len(tr_version)}"
                )
            tr_version = bytes(tr_version)
        if not isinstance(user_version, int):
            raise InvalidType(
                f"Versionstamp user_version must be an int, got {_type_name(user_version)}"
            )
        if not 0 <= user_version <= self.MAX_USER_VERSION:
            raise InvalidArgument(
                f"Versionstamp user_version {user_version} is outside 0..{self.MAX_USER_VERSION}"
            )
        self._tr_version = tr_version
        self._user_version = int(user_version)

    @classmethod
    def incomplete(cls, user_version: int = 0) -> Versionstamp:
        """Return a stamp whose transaction version the commit will fill in."""
        return cls(None, user_version)

    @classmethod
    def from_bytes(cls, data: bytes, start: int = 0) -> Versionstamp:
        """Read 12 bytes at ``start``; ten 0xFF bytes mean incomplete.

        Fails with InvalidArgument when fewer than 12 bytes are left.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise InvalidType(f"Versionstamp.from_bytes needs bytes, got {_type_name(data)}")
        data = bytes(data)
        if start < 0 or len(data) - start < cls.LENGTH:
            raise InvalidArgument(
                f"Versionstamp needs {cls.LENGTH} bytes at offset {start}, "
                f"{max(len(data) - start, 0)} available"
            )
        tr_version = data[start : start + cls.TR_VERSION_LENGTH]
        user_version = (data[start + 10] << 8) | data[start + 11]
        return cls(None if tr_version == cls.INCOMPLETE_TR_VERSION else tr_version, user_version)

    @property
    def tr_version(self) -> bytes | None:
        """The 10-byte transaction version, or None while incomplete."""
        return self._tr_version

    @property
    def user_version(self) -> int:
        """The 2-byte version chosen by the application (orders stamps of one commit)."""
        return self._user_version

    def is_complete(self) -> bool:
        """True once the transaction version is known."""
        return self._tr_version is not None

    def to_bytes(self) -> bytes:
        """The 12-byte form; an incomplete stamp writes ten 0xFF bytes as placeholder."""
        tr_version = self.INCOMPLETE_TR_VERSION if self._tr_version is None else self._tr_version
        return tr_version + self._user_version.to_bytes(2, "big")

    def completed(self, tr_version: bytes) -> Versionstamp:
        """Return this incomplete stamp with ``tr_version`` filled in.

        Fails with InvalidArgument when the stamp is already complete.
        """
        if self._tr_version is not None:
            raise InvalidArgument(f"{self!r} is already complete")
        return Versionstamp(tr_version, self._user_version)

    def _sort_key(self) -> tuple[int, bytes, int]:
        if self._tr_version is None:
            return (1, b"", self._user_version)
        return (0, self._tr_version, self._user_version)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Versionstamp):
            return NotImplemented
        return self._tr_version == other._tr_version and self._user_version == other._user_version

    def __lt__(self, other: Versionstamp) -> bool:
        if not isinstance(other, Versionstamp):
            return NotImplemented
        return self._sort_key() < other._sort_key()

    def __le__(self, other: Versionstamp) -> bool:
        if not isinstance(other, Versionstamp):
            return NotImplemented
        return self._sort_key() <= other._sort_key()

    def __gt__(self, other: Versionstamp) -> bool:
        if not isinstance(other, Versionstamp):
            return NotImplemented
        return self._sort_key() > other._sort_key()

    def __ge__(self, other: Versionstamp) -> bool:
        if not isinstance(other, Versionstamp):
            return NotImplemented
        return self._sort_key() >= other._sort_key()

    def __hash__(self) -> int:
        return hash((self._tr_version, self._user_version))

    def __repr__(self) -> str:
        return f"Versionstamp({self._tr_version!r}, {self._user_version})"


# --- encoding (pure Python reference) ------------------------------------------------


def _encode_string(out: bytearray, value: str) -> None:
    try:
        encoded = str.encode(value, "utf-8")
    except UnicodeEncodeError:
        raise TupleError("string is not encodable as UTF-8") from None
    out.append(STRING_CODE)
    out += encoded.replace(b"\x00", b"\x00\xff")
    out.append(0x00)


def _encode_bytes(out: bytearray, value: bytes) -> None:
    out.append(BYTES_CODE)
    out += bytes.replace(value, b"\x00", b"\x00\xff")
    out.append(0x00)


def _encode_int(out: bytearray, value: int) -> None:
    """Append ``value``; fails when its magnitude needs more than 255 bytes."""
    if value == 0:
        out.append(INT_ZERO_CODE)
    elif 0 < value < _UINT64_MAX:
        length = (value.bit_length() + 7) // 8
        out.append(INT_ZERO_CODE + length)
        out += value.to_bytes(length, "big")
    elif -_UINT64_MAX < value < 0:
        length = ((-value).bit_length() + 7) // 8
        out.append(INT_ZERO_CODE - length)
        out += (value + (1 << (8 * length)) - 1).to_bytes(length, "big")
    else:
        magnitude = abs(value)
        length = (magnitude.bit_length() + 7) // 8
        if length > _MAX_INT_BYTES:
            raise TupleError(
                f"integer needs {length} bytes; the tuple layer's limit is {_MAX_INT_BYTES}"
            )
        raw = magnitude.to_bytes(length, "big")
        if value > 0:
            out.append(POSITIVE_BIG_INT_CODE)
            out.append(length)
            out += raw
        else:
            out.append(NEGATIVE_BIG_INT_CODE)
            out.append(length ^ 0xFF)
            out += bytes(byte ^ 0xFF for byte in raw)


def _encode_double(out: bytearray, value: float) -> None:
    bits = _U64.unpack(_DOUBLE_BITS.pack(value))[0]
    bits = bits ^ _UINT64_MAX if bits >> 63 else bits ^ (1 << 63)
    out.append(DOUBLE_CODE)
    out += _U64.pack(bits)


def _encode_single(out: bytearray, value: object) -> None:
    if not isinstance(value, float):
        raise TupleError(f"SingleFloat.value must be a float, got {_type_name(value)}")
    try:
        key = _single_key(value)
    except OverflowError:
        raise TupleError(f"SingleFloat value {value!r} is out of the 32-bit range") from None
    out.append(FLOAT_CODE)
    out += _U32.pack(key)


def _encode_uuid(out: bytearray, value: uuid.UUID) -> None:
    number = value.int
    if not isinstance(number, int) or not 0 <= number < (1 << 128):
        raise TupleError("UUID.int must be an int in 0..2**128-1")
    out.append(UUID_CODE)
    out += number.to_bytes(16, "big")


def _encode_versionstamp(out: bytearray, value: Versionstamp) -> bool:
    """Append ``value``; return True when it is incomplete (its placeholder needs a commit)."""
    tr_version = value.tr_version
    user_version = value.user_version
    if tr_version is not None and not (type(tr_version) is bytes and len(tr_version) == 10):
        raise TupleError("Versionstamp.tr_version must be None or 10 bytes")
    if type(user_version) is not int or not 0 <= user_version <= 0xFFFF:
        raise TupleError("Versionstamp.user_version must be an int in 0..65535")
    out.append(VERSIONSTAMP_CODE)
    out += Versionstamp.INCOMPLETE_TR_VERSION if tr_version is None else tr_version
    out += user_version.to_bytes(2, "big")
    return tr_version is None


def _encode(items: tuple, prefix: bytes) -> tuple[bytes, int]:
    """Return (``prefix`` + packed ``items``, offset of the incomplete Versionstamp or -1).

    Walks nested tuples with an explicit stack (no recursion), so a deep or cyclic
    structure fails with TupleError at MAX_NESTING instead of RecursionError.
    """
    if not isinstance(items, tuple):
        raise TupleError(f"expected a tuple of values, got {_type_name(items)}")
    if not isinstance(prefix, bytes):
        raise TupleError(f"prefix must be bytes, got {_type_name(prefix)}")
    out = bytearray(prefix)
    stamp_offset = -1
    stack = [iter(items)]
    while stack:
        nested = len(stack) > 1
        for value in stack[-1]:
            kind = type(value)
            # Exact built-in types first (the common case), then subclasses and wrappers.
            if value is None:
                out += b"\x00\xff" if nested else b"\x00"
            elif kind is str:
                _encode_string(out, value)
            elif kind is int:
                _encode_int(out, value)
            elif kind is bytes:
                _encode_bytes(out, value)
            elif kind is tuple or kind is list or isinstance(value, (tuple, list)):
                if len(stack) > MAX_NESTING:
                    raise TupleError(f"tuple nested deeper than {MAX_NESTING} levels")
                out.append(NESTED_CODE)
                stack.append(iter(tuple(value)))
                break  # continue the while loop inside the nested tuple
            elif kind is float:
                _encode_double(out, value)
            elif kind is bool:
                out.append(TRUE_CODE if value else FALSE_CODE)
            elif isinstance(value, str):
                _encode_string(out, value)
            elif isinstance(value, bytes):
                _encode_bytes(out, value)
            elif isinstance(value, int):
                _encode_int(out, int.__index__(value))  # the plain value, whatever the subclass
            elif isinstance(value, float):
                _encode_double(out, value)
            elif isinstance(value, SingleFloat):
                _encode_single(out, value.value)
            elif isinstance(value, uuid.UUID):
                _encode_uuid(out, value)
            elif isinstance(value, Versionstamp):
                if _encode_versionstamp(out, value):
                    if stamp_offset >= 0:
                        raise TupleError("more than one incomplete Versionstamp")
                    stamp_offset = len(out) - 12
            elif isinstance(value, ctypes.c_float):
                _encode_single(out, value.value)
            elif isinstance(value, ctypes.c_double) and isinstance(value.value, float):
                _encode_double(out, value.value)
            else:
                raise TupleError(f"cannot pack a value of type {_type_name(value)}")
        else:
            stack.pop()
            if stack:
                out.append(0x00)  # end of a nested tuple
    return bytes(out), stamp_offset


def pack(items: tuple, prefix: bytes = b"") -> bytes:
    """Encode ``items`` as a key, after ``prefix``; sorts like the tuples.

    Fails with TupleError on an unsupported element type, an integer over 255 bytes,
    nesting deeper than MAX_NESTING, or an incomplete Versionstamp (see
    :func:`pack_with_versionstamp`).
    """
    packed, stamp_offset = _encode(items, prefix)
    if stamp_offset >= 0:
        raise TupleError("incomplete Versionstamp in pack(); use pack_with_versionstamp()")
    return packed


def pack_with_versionstamp(items: tuple, prefix: bytes = b"") -> bytes:
    """Encode ``items`` after ``prefix`` and append the placeholder's 4-byte LE offset.

    The result is the parameter of a SET_VERSIONSTAMPED_KEY mutation. Fails with
    TupleError unless ``items`` holds exactly one incomplete Versionstamp.
    """
    packed, stamp_offset = _encode(items, prefix)
    if stamp_offset < 0:
        raise TupleError("pack_with_versionstamp() needs an incomplete Versionstamp, found none")
    if stamp_offset > 0xFFFF_FFFF:
        raise TupleError(
            f"incomplete Versionstamp at offset {stamp_offset} does not fit the 4-byte offset"
        )
    return packed + _OFFSET.pack(stamp_offset)


# --- decoding (pure Python reference) ------------------------------------------------
# Each decoder takes (data, position of the type code) and returns (value, next position).


def _truncated(kind: str, need: int, data: bytes, pos: int) -> TupleError:
    have = len(data) - pos - 1
    return TupleError(f"truncated {kind}: needs {need} bytes, {have} left", pos)


def _payload_end(data: bytes, pos: int, kind: str) -> tuple[int, bool]:
    """Return (index of the terminating 0x00, whether 0x00 0xFF escapes occur)."""
    end = data.find(b"\x00", pos + 1)
    escaped = False
    while end >= 0 and data[end + 1 : end + 2] == b"\xff":
        escaped = True
        end = data.find(b"\x00", end + 2)
    if end < 0:
        raise TupleError(f"unterminated {kind}", pos)
    return end, escaped


def _decode_bytes(data: bytes, pos: int) -> tuple[Any, int]:
    end, escaped = _payload_end(data, pos, "bytes")
    value = data[pos + 1 : end]
    return (value.replace(b"\x00\xff", b"\x00") if escaped else value), end + 1


def _decode_string(data: bytes, pos: int) -> tuple[Any, int]:
    end, escaped = _payload_end(data, pos, "string")
    raw = data[pos + 1 : end]
    if escaped:
        raw = raw.replace(b"\x00\xff", b"\x00")
    try:
        return raw.decode("utf-8"), end + 1
    except UnicodeDecodeError:
        raise TupleError("string is not valid UTF-8", pos) from None


def _decode_zero(data: bytes, pos: int) -> tuple[Any, int]:
    return 0, pos + 1


def _decode_positive_int(data: bytes, pos: int) -> tuple[Any, int]:
    end = pos + 1 + data[pos] - INT_ZERO_CODE
    if end > len(data):
        raise _truncated("integer", end - pos - 1, data, pos)
    return int.from_bytes(data[pos + 1 : end], "big"), end


def _decode_negative_int(data: bytes, pos: int) -> tuple[Any, int]:
    length = INT_ZERO_CODE - data[pos]
    end = pos + 1 + length
    if end > len(data):
        raise _truncated("integer", length, data, pos)
    return int.from_bytes(data[pos + 1 : end], "big") - (1 << (8 * length)) + 1, end


def _decode_big_int(data: bytes, pos: int) -> tuple[Any, int]:
    if pos + 2 > len(data):
        raise _truncated("integer", 1, data, pos)
    negative = data[pos] == NEGATIVE_BIG_INT_CODE
    length = data[pos + 1] ^ 0xFF if negative else data[pos + 1]
    end = pos + 2 + length
    if end > len(data):
        raise _truncated("integer", 1 + length, data, pos)
    magnitude = int.from_bytes(data[pos + 2 : end], "big")
    return (magnitude - (1 << (8 * length)) + 1 if negative else magnitude), end


def _decode_single(data: bytes, pos: int) -> tuple[Any, int]:
    end = pos + 5
    if end > len(data):
        raise _truncated("float", 4, data, pos)
    bits = _U32.unpack_from(data, pos + 1)[0]
    bits = bits ^ 0x8000_0000 if bits & 0x8000_0000 else bits ^ 0xFFFF_FFFF
    return SingleFloat(_SINGLE_BITS.unpack(_U32.pack(bits))[0]), end


def _decode_double(data: bytes, pos: int) -> tuple[Any, int]:
    end = pos + 9
    if end > len(data):
        raise _truncated("double", 8, data, pos)
    bits = _U64.unpack_from(data, pos + 1)[0]
    bits = bits ^ (1 << 63) if bits >> 63 else bits ^ _UINT64_MAX
    return _DOUBLE_BITS.unpack(_U64.pack(bits))[0], end


def _decode_false(data: bytes, pos: int) -> tuple[Any, int]:
    return False, pos + 1


def _decode_true(data: bytes, pos: int) -> tuple[Any, int]:
    return True, pos + 1


def _decode_uuid(data: bytes, pos: int) -> tuple[Any, int]:
    end = pos + 17
    if end > len(data):
        raise _truncated("UUID", 16, data, pos)
    return uuid.UUID(bytes=data[pos + 1 : end]), end


def _decode_versionstamp(data: bytes, pos: int) -> tuple[Any, int]:
    end = pos + 13
    if end > len(data):
        raise _truncated("Versionstamp", 12, data, pos)
    return Versionstamp.from_bytes(data, pos + 1), end


_DECODERS: dict[int, Callable[[bytes, int], tuple[Any, int]]] = {
    BYTES_CODE: _decode_bytes,
    STRING_CODE: _decode_string,
    NEGATIVE_BIG_INT_CODE: _decode_big_int,
    INT_ZERO_CODE: _decode_zero,
    POSITIVE_BIG_INT_CODE: _decode_big_int,
    FLOAT_CODE: _decode_single,
    DOUBLE_CODE: _decode_double,
    FALSE_CODE: _decode_false,
    TRUE_CODE: _decode_true,
    UUID_CODE: _decode_uuid,
    VERSIONSTAMP_CODE: _decode_versionstamp,
}
for _code in builtins.range(INT_ZERO_CODE - 8, INT_ZERO_CODE):
    _DECODERS[_code] = _decode_negative_int
for _code in builtins.range(INT_ZERO_CODE + 1, INT_ZERO_CODE + 9):
    _DECODERS[_code] = _decode_positive_int


def unpack(data: bytes, prefix_len: int = 0) -> tuple:
    """Decode a packed tuple, skipping the first ``prefix_len`` bytes.

    Fails with TupleError, whose ``offset`` is the start of the bad element, on an unknown
    type code, a truncated element, a missing terminator, invalid UTF-8 or nesting deeper
    than MAX_NESTING.
    """
    if not isinstance(data, bytes):
        if not isinstance(data, (bytearray, memoryview)):
            raise TupleError(f"expected bytes to unpack, got {_type_name(data)}")
        data = bytes(data)
    if type(prefix_len) is not int:
        raise TupleError(f"prefix_len must be an int, got {_type_name(prefix_len)}")
    end = len(data)
    if not 0 <= prefix_len <= end:
        raise TupleError(f"prefix_len {prefix_len} is outside 0..{end}")
    decoders = _DECODERS
    items: list = []
    # One (items of the enclosing tuple, offset of the 0x05 code) per open nested tuple.
    open_tuples: list[tuple[list, int]] = []
    pos = prefix_len
    while pos < end:
        code = data[pos]
        decoder = decoders.get(code)
        if decoder is not None:
            value, pos = decoder(data, pos)
            items.append(value)
        elif code == NULL_CODE:
            if not open_tuples:
                items.append(None)
                pos += 1
            elif pos + 1 < end and data[pos + 1] == 0xFF:
                items.append(None)
                pos += 2
            else:  # end of the innermost nested tuple
                value = tuple(items)
                items = open_tuples.pop()[0]
                items.append(value)
                pos += 1
        elif code == NESTED_CODE:
            if len(open_tuples) >= MAX_NESTING:
                raise TupleError(f"tuple nested deeper than {MAX_NESTING} levels", pos)
            open_tuples.append((items, pos))
            items = []
            pos += 1
        else:
            raise TupleError(f"unknown type code 0x{code:02x}", pos)
    if open_tuples:
        raise TupleError("nested tuple is not terminated", open_tuples[-1][1])
    return tuple(items)


# --- helpers that need no native version ---------------------------------------------


def has_incomplete_versionstamp(items: tuple | list) -> bool:
    """True if ``items`` or any nested tuple/list holds an incomplete Versionstamp."""
    pending = [(items, 0)]  # (a tuple to look into, how deeply it is nested)
    while pending:
        values, depth = pending.pop()
        for value in values:
            if isinstance(value, Versionstamp):
                if not value.is_complete():
                    return True
            elif isinstance(value, (tuple, list)):
                if depth >= MAX_NESTING:
                    raise TupleError(f"tuple nested deeper than {MAX_NESTING} levels")
                pending.append((value, depth + 1))
    return False


def range(items: tuple = ()) -> tuple[bytes, bytes]:
    """Return (begin, end) covering every key that extends ``pack(items)``.

    The key ``pack(items)`` itself is excluded, as in ``fdb.tuple.range``.
    """
    packed = pack(items)
    return packed + b"\x00", packed + b"\xff"


def compare(left: tuple, right: tuple) -> int:
    """Return -1, 0 or 1 as ``left`` sorts before, with, or after ``right`` once packed.

    Incomplete Versionstamps are allowed and sort by their placeholder bytes.
    """
    left_bytes = _encode(left, b"")[0]
    right_bytes = _encode(right, b"")[0]
    return (left_bytes > right_bytes) - (left_bytes < right_bytes)


# --- native codec --------------------------------------------------------------------


_reference_unpack = unpack  # `unpack` is rebound to the native codec below


def unpack_keys(rows: list, prefix_len: int) -> list[tuple]:
    """Decode the key of every ``(key, value)`` row of the list ``rows`` after its first
    ``prefix_len`` bytes: ``[unpack(key, prefix_len) for key, _ in rows]``.

    For layers that decode a whole range read under one prefix; the native codec does it
    in one call. Fails with TupleError as :func:`unpack` does.
    """
    if not isinstance(rows, list):
        raise TupleError(
            f"unpack_keys() expects a list of (key, value) rows, got {_type_name(rows)}"
        )
    decoded = []
    for number, row in enumerate(rows):
        key = row[0] if isinstance(row, tuple) and row else None
        if not isinstance(key, bytes):
            raise TupleError(
                "unpack_keys() expects (key, value) rows with bytes keys, got "
                + _type_name(row)
            )
        if type(prefix_len) is int and not 0 <= prefix_len <= len(key):
            raise TupleError(f"prefix_len {prefix_len} is outside 0..{len(key)} (row {number})")
        decoded.append(_reference_unpack(key, prefix_len))
    return decoded


class Codec(NamedTuple):
    """One implementation of the byte codec; tests run every one that is available."""

    name: str
    pack: Callable[..., bytes]
    pack_with_versionstamp: Callable[..., bytes]
    unpack: Callable[..., tuple]
    unpack_keys: Callable[..., list]


PYTHON_CODEC = Codec("python", pack, pack_with_versionstamp, unpack, unpack_keys)
NATIVE_CODEC: Codec | None = None

try:
    from found import _tuple_codec as _native
except ImportError:  # not built: the pure-Python codec above stays in place
    _native = None

if _native is not None:
    _native.configure(
        TupleError,
        SingleFloat,
        Versionstamp,
        uuid.UUID,
        uuid.SafeUUID.unknown,
        ctypes.c_float,
        ctypes.c_double,
        MAX_NESTING,
    )
    NATIVE_CODEC = Codec(
        "native", _native.pack, _native.pack_with_versionstamp, _native.unpack, _native.unpack_keys
    )
    pack = _native.pack  # same contract as the reference above
    pack_with_versionstamp = _native.pack_with_versionstamp
    unpack = _native.unpack
    unpack_keys = _native.unpack_keys

CODEC: Codec = NATIVE_CODEC or PYTHON_CODEC

"""eavstore: entities as dicts of attributes, with an index from (attribute, value) to entity.

| key (under prefix `E`)              | value          | index                        |
|-------------------------------------|----------------|------------------------------|
| `E, b"\\x01", uid, attribute`        | `P((value,))`  | EAV: entity → its attributes |
| `E, b"\\x02", attribute, value, uid` | `b""`          | AVE: attribute, value → entity |

The design choice: every write reads the entity's current attributes first and clears
exactly the AVE keys of the values it replaces, so the index never holds an entry that
the entity's dict does not (the anchor cleared a key that never existed and left stale
entries behind). Values are anything the tuple layer packs; equality is by encoding, so
`1`, `1.0` and `True` are three different values. Because values sit in AVE keys, an
attribute with its value and the uid must pack to ≤ 10,000 bytes.

With `anchor_layout=True` the prefix tuple is nested as the anchor did
(`P(((*prefix, b"\\x01"), uid, attribute))`), so stores written by asyncio-foundationdb
are readable and writable.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import found
from found.errors import InvalidType, LayerError
from found.ext._prefix import prefix_bytes

__all__ = [
    "EAVStore",
    "EAVStoreException",
    "create",
    "del_attr",
    "get",
    "make",
    "query",
    "query_range",
    "remove",
    "set_attr",
    "update",
]

MAX_KEY_SIZE = 10_000
MAX_VALUE_SIZE = 100_000


class EAVStoreException(LayerError):
    """Bad input to an eavstore call (unpackable value, key too large, entity exists…)."""


@dataclass(frozen=True)
class EAVStore:
    """Handle of an entity store: raw prefixes of its two indices."""

    name: str
    entities: bytes  # EAV index prefix
    attributes: bytes  # AVE index prefix


def make(name: str, prefix: Any, *, anchor_layout: bool = False) -> EAVStore:
    """Return the handle of an entity store under `prefix` (tuple, bytes or Subspace)."""
    if anchor_layout:
        if not isinstance(prefix, (tuple, list)):
            raise InvalidType("anchor_layout needs a tuple prefix")
        return EAVStore(
            name,
            found.pack(((*prefix, b"\x01"),)),
            found.pack(((*prefix, b"\x02"),)),
        )
    raw = prefix_bytes(prefix, EAVStoreException)
    return EAVStore(name, raw + found.pack((b"\x01",)), raw + found.pack((b"\x02",)))


# --- validation ------------------------------------------------------------------------


def _pack(what: str, value: Any) -> bytes:
    try:
        return found.pack((value,))
    except (TypeError, ValueError) as error:
        raise EAVStoreException(f"{what} {value!r} cannot be packed: {error}") from None


def _prepare(store: EAVStore, uid: Any, attributes: Any) -> tuple[bytes, dict[str, tuple]]:
    """Validate an entity; return its packed uid and attribute → (value, packed value)."""
    if not isinstance(attributes, Mapping):
        raise InvalidType(f"attributes must be a mapping, got {type(attributes).__name__}")
    packed_uid = _pack("uid", uid)
    prepared = {}
    for attribute, value in attributes.items():
        prepared[attribute] = _prepare_one(store, packed_uid, attribute, value)
    return packed_uid, prepared


def _prepare_one(store: EAVStore, packed_uid: bytes, attribute: Any, value: Any) -> tuple:
    if not isinstance(attribute, str):
        raise InvalidType(f"attribute names are str, got {attribute!r}")
    packed_attribute = _pack("attribute", attribute)
    packed_value = _pack(f"value of {attribute!r}", value)
    key_size = len(store.attributes) + len(packed_attribute) + len(packed_value) + len(packed_uid)
    if key_size > MAX_KEY_SIZE:
        raise EAVStoreException(
            f"value of {attribute!r} makes an index key of {key_size} bytes,"
            f" the limit is {MAX_KEY_SIZE}"
        )
    if len(packed_value) > MAX_VALUE_SIZE:
        raise EAVStoreException(
            f"value of {attribute!r} packs to {len(packed_value)} bytes,"
            f" the limit is {MAX_VALUE_SIZE}"
        )
    return value, packed_attribute, packed_value


# --- reads -----------------------------------------------------------------------------


async def _current(tx: Any, store: EAVStore, packed_uid: bytes) -> dict[bytes, tuple[str, bytes]]:
    """The entity's stored attributes: packed attribute → (attribute, packed value)."""
    begin = store.entities + packed_uid
    current = {}
    async for key, value in found.query(tx, begin, found.next_prefix(begin)):
        packed_attribute = key[len(begin) :]
        current[packed_attribute] = (found.unpack(packed_attribute)[0], value)
    return current


async def get(tx: Any, store: EAVStore, uid: Any) -> dict[str, Any]:
    """Return the entity's attributes ({} if there is no such entity)."""
    current = await _current(tx, store, _pack("uid", uid))
    return {attribute: found.unpack(value)[0] for attribute, value in current.values()}


def query(tx: Any, store: EAVStore, attribute: str, value: Any) -> AsyncIterator[Any]:
    """Return an async iterator of the uids whose `attribute` equals `value` (by encoding)."""
    if not isinstance(attribute, str):
        raise InvalidType(f"attribute names are str, got {attribute!r}")
    begin = store.attributes + _pack("attribute", attribute) + _pack("value", value)
    return _uids(tx, begin)


async def _uids(tx: Any, begin: bytes) -> AsyncIterator[Any]:
    async for key, _ in found.query(tx, begin, found.next_prefix(begin)):
        yield found.unpack(key[len(begin) :])[0]


def query_range(
    tx: Any, store: EAVStore, attribute: str, low: Any, high: Any
) -> AsyncIterator[tuple[Any, Any]]:
    """Return an async iterator of (uid, value) with low <= value < high in tuple order,
    ordered by value then uid (one scan of the AVE index)."""
    if not isinstance(attribute, str):
        raise InvalidType(f"attribute names are str, got {attribute!r}")
    prefix = store.attributes + _pack("attribute", attribute)
    return _pairs(tx, prefix, prefix + _pack("low", low), prefix + _pack("high", high))


async def _pairs(tx: Any, prefix: bytes, begin: bytes, end: bytes) -> AsyncIterator[tuple]:
    async for key, _ in found.query(tx, begin, end):
        value, uid = found.unpack(key[len(prefix) :])
        yield uid, value


# --- writes ----------------------------------------------------------------------------


def _write(store: EAVStore, tx: Any, packed_uid: bytes, prepared: dict[str, tuple]) -> None:
    for _value, packed_attribute, packed_value in prepared.values():
        found.set(tx, store.entities + packed_uid + packed_attribute, packed_value)
        found.set(tx, store.attributes + packed_attribute + packed_value + packed_uid, b"")


def _unindex(
    store: EAVStore, tx: Any, packed_uid: bytes, packed_attribute: bytes, packed_value: bytes
) -> None:
    found.clear(tx, store.attributes + packed_attribute + packed_value + packed_uid)


async def create(tx: Any, store: EAVStore, attributes: Mapping[str, Any], uid: Any = None) -> Any:
    """Store a new entity and return its uid (a fresh uuid4 unless `uid` is given).

    Raises EAVStoreException, with nothing written, if `uid` already names an entity or
    a value cannot be packed or indexed.
    """
    uid = uuid.uuid4() if uid is None else uid
    packed_uid, prepared = _prepare(store, uid, attributes)
    begin = store.entities + packed_uid
    async for _ in found.query(tx, begin, found.next_prefix(begin), limit=1):
        raise EAVStoreException(f"entity {uid!r} exists already; use update")
    _write(store, tx, packed_uid, prepared)
    return uid


async def update(tx: Any, store: EAVStore, uid: Any, attributes: Mapping[str, Any]) -> None:
    """Replace the entity's attributes with `attributes` (creating it if absent)."""
    packed_uid, prepared = _prepare(store, uid, attributes)
    current = await _current(tx, store, packed_uid)
    kept = {packed_attribute for _, packed_attribute, _ in prepared.values()}
    for packed_attribute, (_attribute, packed_value) in current.items():
        if packed_attribute not in kept:
            found.clear(tx, store.entities + packed_uid + packed_attribute)
            _unindex(store, tx, packed_uid, packed_attribute, packed_value)
    for attribute, (_value, packed_attribute, packed_value) in prepared.items():
        old = current.get(packed_attribute)
        if old is not None:
            if old[1] == packed_value:
                continue
            _unindex(store, tx, packed_uid, packed_attribute, old[1])
        _write(store, tx, packed_uid, {attribute: prepared[attribute]})


async def set_attr(tx: Any, store: EAVStore, uid: Any, attribute: str, value: Any) -> None:
    """Set one attribute of the entity (creating the entity if absent)."""
    packed_uid = _pack("uid", uid)
    prepared = _prepare_one(store, packed_uid, attribute, value)
    packed_attribute, packed_value = prepared[1], prepared[2]
    old = await found.get(tx, store.entities + packed_uid + packed_attribute)
    if old == packed_value:
        return
    if old is not None:
        _unindex(store, tx, packed_uid, packed_attribute, old)
    _write(store, tx, packed_uid, {attribute: prepared})


async def del_attr(tx: Any, store: EAVStore, uid: Any, attribute: str) -> bool:
    """Delete one attribute of the entity; return False if it did not have it."""
    if not isinstance(attribute, str):
        raise InvalidType(f"attribute names are str, got {attribute!r}")
    packed_uid = _pack("uid", uid)
    packed_attribute = _pack("attribute", attribute)
    key = store.entities + packed_uid + packed_attribute
    old = await found.get(tx, key)
    if old is None:
        return False
    found.clear(tx, key)
    _unindex(store, tx, packed_uid, packed_attribute, old)
    return True


async def remove(tx: Any, store: EAVStore, uid: Any) -> bool:
    """Delete the entity and its index entries; return False if there was no such entity."""
    packed_uid = _pack("uid", uid)
    current = await _current(tx, store, packed_uid)
    if not current:
        return False
    begin = store.entities + packed_uid
    found.clear(tx, begin, found.next_prefix(begin))
    for packed_attribute, (_attribute, packed_value) in current.items():
        _unindex(store, tx, packed_uid, packed_attribute, packed_value)
    return True

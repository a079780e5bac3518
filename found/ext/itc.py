"""Interval tree clocks: causality tracking for a changing set of replicas, libitc's bytes.

A stamp is an *id* tree (which part of [0, 1) this replica owns) plus an *event* tree (how
many events are known over each part). Replicas `fork` to split ownership, record `event`s
in what they own, and `join` to merge both; comparing event trees tells whether one history
includes the other or whether they are concurrent. Spec: ``shared/spec/itc.md``.

The one design choice: trees are immutable Python values (``0``/``1``/``(left, right)`` for
ids, ``n``/``(n, left, right)`` for events) and every algorithm walks them with an explicit
stack, never recursion, so a tree of any depth works. The public objects (`Stamp`, `Id`,
`Event`) mutate in place like pyitc's, but each method computes the whole new tree first and
assigns it last, so an error never leaves an object half-changed.

Where libitc departs from the ITC paper (``grow``, see `_grow`), this module follows libitc so
serialised bytes match. Event counters may grow to ``2**120 - 1`` (15 bytes, the most the
format can express); pyitc reads counters of up to 8 bytes only.

Storage layout (`save_stamp` / `load_stamp`):

============  ==========================
key           value
============  ==========================
``key``       ``stamp.serialise()``
============  ==========================
"""

from __future__ import annotations

import enum
from typing import Any

import found
from found.errors import FoundException, InvalidType

__all__ = [
    "ERRORS",
    "MAX_COUNTER",
    "CorruptEventError",
    "CorruptIdError",
    "CorruptStampError",
    "Event",
    "EventCounterOverflowError",
    "EventCounterUnderflowError",
    "Id",
    "InactiveEventError",
    "InactiveIdError",
    "InactiveStampError",
    "IncompatibleLibVersionError",
    "InsufficientResourcesError",
    "InvalidParamError",
    "ItcError",
    "ItcStatus",
    "OverlappingIdIntervalError",
    "Stamp",
    "StampComparisonResult",
    "UnsupportedEventCounterSizeError",
    "load_stamp",
    "save_stamp",
]

# Largest event counter: the format's 4-bit length field allows 15 counter bytes.
MAX_COUNTER_BYTES = 15
MAX_COUNTER = (1 << (8 * MAX_COUNTER_BYTES)) - 1

FORMAT_VERSION = 1
# libitc's component lengths are 32-bit: a stamp length field may have at most 4 bytes.
MAX_LENGTH_FIELD_BYTES = 4
_ACCEPTED_VERSIONS = (0, 1)  # libitc reads 0.x data too

# libitc's grow charges this to the side it came from when it must expand a leaf.
_GROW_EXPANSION_COST = (1 << 32) - 1

# Byte of each id node in the serialised form.
_ID_LEAF_0 = 0x00
_ID_PARENT = 0x01
_ID_LEAF_1 = 0x02


# --- errors -----------------------------------------------------------------------------


class ItcStatus(enum.IntEnum):
    """libitc's status codes (same numbers), so errors map one to one between the libraries."""

    SUCCESS = 0
    FAILURE = 1
    INVALID_PARAM = 2
    INSUFFICIENT_RESOURCES = 3
    OVERLAPPING_ID_INTERVAL = 4
    CORRUPT_ID = 5
    CORRUPT_EVENT = 6
    CORRUPT_STAMP = 7
    EVENT_COUNTER_OVERFLOW = 8
    EVENT_COUNTER_UNDERFLOW = 9
    UNSUPPORTED_EVENT_COUNTER_SIZE = 10
    INCOMPATIBLE_LIB_VERSION = 11


class ItcError(FoundException):
    """Base of every interval-tree-clock error; ``.status`` is the matching libitc status.

    ``offset`` is the byte position in the input where decoding failed (``None`` otherwise).
    """

    status: ItcStatus = ItcStatus.FAILURE

    def __init__(self, message: str, offset: int | None = None) -> None:
        self.offset = offset
        if offset is not None:
            message = f"{message} (at byte offset {offset})"
        super().__init__(message)


class InvalidParamError(ItcError, ValueError):
    """An argument has an unusable value (count < 1, joining a stamp with itself, short input)."""

    status = ItcStatus.INVALID_PARAM


class InsufficientResourcesError(ItcError, MemoryError):
    """libitc ran out of memory; never raised here, kept so every status has its class."""

    status = ItcStatus.INSUFFICIENT_RESOURCES


class OverlappingIdIntervalError(ItcError, ValueError):
    """Two ids being summed both own some part of the interval (e.g. two fresh seeds)."""

    status = ItcStatus.OVERLAPPING_ID_INTERVAL


class CorruptIdError(ItcError, ValueError):
    """Serialised id bytes are malformed or not in normal form."""

    status = ItcStatus.CORRUPT_ID


class CorruptEventError(ItcError, ValueError):
    """Serialised event bytes are malformed or not in normal form."""

    status = ItcStatus.CORRUPT_EVENT


class CorruptStampError(ItcError, ValueError):
    """Serialised stamp framing (header, length fields) is malformed."""

    status = ItcStatus.CORRUPT_STAMP


class EventCounterOverflowError(ItcError, OverflowError):
    """Recording an event would push a counter above `MAX_COUNTER`."""

    status = ItcStatus.EVENT_COUNTER_OVERFLOW


class EventCounterUnderflowError(ItcError, ArithmeticError):
    """A counter would go below zero; never raised here, kept so every status has its class."""

    status = ItcStatus.EVENT_COUNTER_UNDERFLOW


class UnsupportedEventCounterSizeError(ItcError, ValueError):
    """A counter needs more bytes than the format can hold (only from hand-built trees)."""

    status = ItcStatus.UNSUPPORTED_EVENT_COUNTER_SIZE


class IncompatibleLibVersionError(ItcError, ValueError):
    """Serialised data starts with a format version this module cannot read."""

    status = ItcStatus.INCOMPATIBLE_LIB_VERSION


# libitc reports a destroyed handle as an invalid parameter, hence the status and base class.
class InactiveStampError(InvalidParamError):
    """The stamp was consumed by a `Stamp.join` and cannot be used any more."""


class InactiveIdError(InvalidParamError):
    """The id was consumed by an `Id.sum` and cannot be used any more."""


class InactiveEventError(InvalidParamError):
    """The event was consumed by an `Event.join` and cannot be used any more."""


# status -> the class raised for it; the single table for mapping libitc/pyitc errors.
ERRORS: dict[ItcStatus, type[ItcError]] = {
    ItcStatus.FAILURE: ItcError,
    ItcStatus.INVALID_PARAM: InvalidParamError,
    ItcStatus.INSUFFICIENT_RESOURCES: InsufficientResourcesError,
    ItcStatus.OVERLAPPING_ID_INTERVAL: OverlappingIdIntervalError,
    ItcStatus.CORRUPT_ID: CorruptIdError,
    ItcStatus.CORRUPT_EVENT: CorruptEventError,
    ItcStatus.CORRUPT_STAMP: CorruptStampError,
    ItcStatus.EVENT_COUNTER_OVERFLOW: EventCounterOverflowError,
    ItcStatus.EVENT_COUNTER_UNDERFLOW: EventCounterUnderflowError,
    ItcStatus.UNSUPPORTED_EVENT_COUNTER_SIZE: UnsupportedEventCounterSizeError,
    ItcStatus.INCOMPATIBLE_LIB_VERSION: IncompatibleLibVersionError,
}


class StampComparisonResult(enum.IntFlag):
    """Outcome of `Stamp.compare_to`; bit flags with pyitc's values."""

    LESS_THAN = 1
    GREATER_THAN = 2
    EQUAL = 4
    CONCURRENT = 8


# --- id trees: 0 | 1 | (left, right) ----------------------------------------------------

IdTree = Any  # 0, 1, or a (left, right) tuple of id trees


def _norm_id(left: IdTree, right: IdTree) -> IdTree:
    """Parent of two normal ids, collapsing ``(0, 0)`` to ``0`` and ``(1, 1)`` to ``1``."""
    if type(left) is int and left == right:
        return left
    return (left, right)


def _split_id(tree: IdTree) -> tuple[IdTree, IdTree]:
    """Split an id into two disjoint halves whose sum is the id (spec §3.1)."""
    path: list[bool] = []  # for each level walked: True if the owned part is on the right
    while True:
        if tree == 0:
            first, second = 0, 0
            break
        if tree == 1:
            first, second = (1, 0), (0, 1)
            break
        left, right = tree
        if left == 0:
            path.append(True)
            tree = right
        elif right == 0:
            path.append(False)
            tree = left
        else:
            first, second = (left, 0), (0, right)
            break
    for owned_on_right in reversed(path):
        if owned_on_right:
            first, second = (0, first), (0, second)
        else:
            first, second = (first, 0), (second, 0)
    return first, second


def _sum_ids(a: IdTree, b: IdTree) -> IdTree:
    """Union of two disjoint ids (spec §3.2); raises OverlappingIdIntervalError if they overlap."""
    whole_a, whole_b = a, b
    values: list[IdTree] = []
    work: list[tuple[IdTree, IdTree]] = [(a, b)]
    while work:
        a, b = work.pop()
        if a is None:  # both halves of a parent are on `values`
            right = values.pop()
            values.append(_norm_id(values.pop(), right))
        elif a == 0:
            values.append(b)
        elif b == 0:
            values.append(a)
        elif type(a) is tuple and type(b) is tuple:
            work.append((None, None))
            work.append((a[1], b[1]))
            work.append((a[0], b[0]))
        else:
            raise OverlappingIdIntervalError(
                f"cannot sum ids {_shorten(_id_to_str(whole_a))} and "
                f"{_shorten(_id_to_str(whole_b))}: both own part of the same interval"
            )
    return values[0]


def _shorten(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters for an error message."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _id_to_str(tree: IdTree) -> str:
    """Printed form: ``0``, ``1``, ``(left, right)``."""
    out: list[str] = []
    stack: list[Any] = [tree]
    while stack:
        item = stack.pop()
        if type(item) is str:
            out.append(item)
        elif type(item) is int:
            out.append("1" if item else "0")
        else:
            out.append("(")
            stack.extend((")", item[1], ", ", item[0]))
    return "".join(out)


def _encode_id(tree: IdTree) -> bytes:
    """Id nodes in pre-order (node, left, right), one byte each, without the version byte."""
    out = bytearray()
    stack = [tree]
    while stack:
        node = stack.pop()
        if type(node) is tuple:
            out.append(_ID_PARENT)
            stack.append(node[1])
            stack.append(node[0])
        else:
            out.append(_ID_LEAF_1 if node else _ID_LEAF_0)
    return bytes(out)


def _decode_id(data: bytes, start: int, end: int) -> IdTree:
    """Read one id tree from ``data[start:end]``, which it must fill exactly.

    Raises CorruptIdError (with the offset) on an unknown node byte, an incomplete tree,
    trailing bytes, or a parent ``(0, 0)`` / ``(1, 1)`` that is not in normal form.
    """
    # Each open parent: [offset of its byte, children read so far...]
    open_parents: list[list[Any]] = []
    position = start
    while True:
        if position >= end:
            raise CorruptIdError("id ends before its tree is complete", position)
        byte = data[position]
        if byte == _ID_PARENT:
            open_parents.append([position])
            position += 1
            continue
        if byte == _ID_LEAF_0:
            node: IdTree = 0
        elif byte == _ID_LEAF_1:
            node = 1
        else:
            raise CorruptIdError(f"unknown id node byte 0x{byte:02x}", position)
        position += 1
        # Attach the finished node; every parent it completes is finished in turn.
        while open_parents:
            parent = open_parents[-1]
            parent.append(node)
            if len(parent) < 3:
                break
            offset, left, right = open_parents.pop()
            if type(left) is int and left == right:
                raise CorruptIdError(f"id node ({left}, {right}) is not in normal form", offset)
            node = (left, right)
        if not open_parents:
            break
    if position != end:
        raise CorruptIdError(f"{end - position} byte(s) left after the id tree", position)
    return node


# --- event trees: n | (n, left, right), children relative to n -------------------------

EventTree = Any  # a counter n, or an (n, left, right) tuple of event trees


def _root(tree: EventTree) -> int:
    """The node's own counter (its minimum when the tree is normal)."""
    return tree if type(tree) is int else tree[0]


def _lift(tree: EventTree, amount: int) -> EventTree:
    """The tree with ``amount`` added to its root counter."""
    if type(tree) is int:
        return tree + amount
    return (tree[0] + amount, tree[1], tree[2])


def _norm_event(base: int, left: EventTree, right: EventTree) -> EventTree:
    """Parent ``(base, left, right)`` of two normal children, normalised (spec §1.1)."""
    left_root = left if type(left) is int else left[0]
    right_root = right if type(right) is int else right[0]
    if left_root == right_root and type(left) is int and type(right) is int:
        return base + left_root
    smaller = min(right_root, left_root)
    if smaller == 0:
        return (base, left, right)
    return (base + smaller, _lift(left, -smaller), _lift(right, -smaller))


def _max_event(tree: EventTree) -> int:
    """Largest absolute counter anywhere in the tree."""
    best = 0
    stack = [(tree, 0)]
    while stack:
        node, offset = stack.pop()
        if type(node) is int:
            best = max(best, node + offset)
        else:
            offset += node[0]
            stack.append((node[1], offset))
            stack.append((node[2], offset))
    return best


def _event_leq(a: EventTree, b: EventTree) -> bool:
    """Whether every counter of ``a`` is at most the matching one of ``b`` (spec §6)."""
    stack = [(a, 0, b, 0)]  # (tree, lift applied to it, tree, lift applied to it)
    while stack:
        a, a_lift, b, b_lift = stack.pop()
        if type(a) is int:
            if a + a_lift > _root(b) + b_lift:
                return False
            continue
        a_base = a[0] + a_lift
        if type(b) is int:
            if a_base > b + b_lift:
                return False
            stack.append((a[1], a_base, b, b_lift))
            stack.append((a[2], a_base, b, b_lift))
        else:
            b_base = b[0] + b_lift
            if a_base > b_base:
                return False
            stack.append((a[1], a_base, b[1], b_base))
            stack.append((a[2], a_base, b[2], b_base))
    return True


def _join_events(a: EventTree, b: EventTree) -> EventTree:
    """Pointwise maximum of two event trees, normalised (spec §5)."""
    values: list[EventTree] = []
    work: list[tuple[Any, Any]] = [(a, b)]
    while work:
        a, b = work.pop()
        if a is None:  # both children of a parent with base `b` are on `values`
            right = values.pop()
            values.append(_norm_event(b, values.pop(), right))
            continue
        if type(a) is int:
            if type(b) is int:
                values.append(max(b, a))
                continue
            a = (a, 0, 0)
        elif type(b) is int:
            b = (b, 0, 0)
        if a[0] > b[0]:
            a, b = b, a
        difference = b[0] - a[0]
        work.append((None, a[0]))
        work.append((a[2], _lift(b[2], difference)))
        work.append((a[1], _lift(b[1], difference)))
    return values[0]


# Markers for `_fill`'s work stack: how to rebuild a parent once its child(ren) are filled.
_FILL_BOTH = 0  # id (il, ir) in general: fill both sides
_FILL_LEFT_OWNED = 1  # id (1, ir): fill the right, then raise the left to cover it
_FILL_RIGHT_OWNED = 2  # id (il, 1): mirror image


def _fill(id_tree: IdTree, tree: EventTree) -> tuple[EventTree, bool]:
    """Raise the counters under owned parts as far as the event tree allows (spec §4.1).

    Returns the normalised tree and whether anything was *filled*: an owned part levelled up
    or a parent under an owned part flattened. Normalising a non-normal parent elsewhere does
    not count; that is how libitc tells fill from grow on trees it decoded as they were.
    """
    filled = False
    values: list[EventTree] = []
    work: list[tuple[Any, Any]] = [(id_tree, tree)]
    while work:
        id_tree, tree = work.pop()
        if id_tree is None:
            kind, base, owned = tree
            if kind == _FILL_BOTH:
                right = values.pop()
                values.append(_norm_event(base, values.pop(), right))
                continue
            other = values.pop()  # the filled side that is not wholly owned
            level = max(_max_event(owned), _root(other))
            if type(owned) is not int or level != owned:
                filled = True
            if kind == _FILL_LEFT_OWNED:
                values.append(_norm_event(base, level, other))
            else:
                values.append(_norm_event(base, other, level))
        elif id_tree == 0 or type(tree) is int:
            values.append(tree)
        elif id_tree == 1:
            values.append(_max_event(tree))
            filled = True
        else:
            base, left, right = tree
            id_left, id_right = id_tree
            if id_left == 1:
                work.append((None, (_FILL_LEFT_OWNED, base, left)))
                work.append((id_right, right))
            elif id_right == 1:
                work.append((None, (_FILL_RIGHT_OWNED, base, right)))
                work.append((id_left, left))
            else:
                work.append((None, (_FILL_BOTH, base, None)))
                work.append((id_right, right))
                work.append((id_left, left))
    return values[0], filled


def _grow(id_tree: IdTree, tree: EventTree) -> EventTree:
    """Add one event by incrementing a single leaf under the id, libitc's way (spec §4.2).

    libitc walks one path and keeps two costs for the whole walk: expanding a leaf into a
    parent charges a large cost to the side the walk came from (the left side at the root),
    and where both sides are owned it goes left only if the left cost is strictly lower.
    The per-level ``+1`` libitc adds on the way back up never affects a decision, so it is
    omitted. The result is not normalised (libitc does not either).
    Raises EventCounterOverflowError if the incremented counter would exceed `MAX_COUNTER`.
    """
    costs = [0, 0]  # [left, right]
    current = 0  # which cost an expansion is charged to
    absolute = 0  # sum of the bases above the current node
    path: list[tuple[int, EventTree, EventTree, bool]] = []
    while True:
        if type(tree) is int:
            if id_tree == 1:
                if absolute + tree + 1 > MAX_COUNTER:
                    raise EventCounterOverflowError(
                        f"event counter would exceed the maximum {MAX_COUNTER}"
                    )
                tree = tree + 1
                break
            base, left, right = tree, 0, 0
            costs[current] += _GROW_EXPANSION_COST
        else:
            # A parent event under a fully owned id is always levelled by fill first.
            assert id_tree != 1, "grow reached an owned parent that fill should have levelled"
            base, left, right = tree
        id_left, id_right = id_tree
        if id_left == 0:
            go_right = True
        elif id_right == 0:
            go_right = False
        else:
            go_right = not costs[0] < costs[1]
        current = 1 if go_right else 0
        path.append((base, left, right, go_right))
        absolute += base
        id_tree, tree = (id_right, right) if go_right else (id_left, left)
    for base, left, right, went_right in reversed(path):
        tree = (base, left, tree) if went_right else (base, tree, right)
    return tree


def _record_event(id_tree: IdTree, tree: EventTree) -> EventTree:
    """One event: fill if that fills anything, otherwise grow the (normalised) tree (spec §4)."""
    if id_tree == 0:
        return tree
    tree, filled = _fill(id_tree, tree)
    if filled:
        return tree
    return _grow(id_tree, tree)


def _record_events(id_tree: IdTree, tree: EventTree, count: int) -> EventTree:
    """``count`` events, one at a time; the seed id takes a shortcut with the same result."""
    if id_tree == 0:
        return tree
    if id_tree == 1:
        # fill levels a parent to its max (that is the first event); each other one is +1.
        if type(tree) is int:
            result = tree + count
        else:
            result = _max_event(tree) + count - 1
        if result > MAX_COUNTER:
            raise EventCounterOverflowError(f"event counter would exceed the maximum {MAX_COUNTER}")
        return result
    for _ in range(count):
        tree = _record_event(id_tree, tree)
    return tree


def _event_to_str(tree: EventTree) -> str:
    """Printed form: ``n`` or ``(n, left, right)``."""
    out: list[str] = []
    stack: list[Any] = [tree]
    while stack:
        item = stack.pop()
        if type(item) is str:
            out.append(item)
        elif type(item) is int:
            out.append(str(item))
        else:
            out.append(f"({item[0]}, ")
            stack.extend((")", item[2], ", ", item[1]))
    return "".join(out)


def _encode_counter(out: bytearray, is_parent: bool, counter: int) -> None:
    """Append one event node: header byte (parent bit, byte count) then the counter bytes."""
    if counter == 0:  # the common cases first: no counter bytes, or one
        out.append(is_parent)
        return
    if counter < 256:
        out.append(2 | is_parent)
        out.append(counter)
        return
    length = (counter.bit_length() + 7) // 8
    if length > MAX_COUNTER_BYTES:
        raise UnsupportedEventCounterSizeError(
            f"event counter {counter} needs {length} bytes; the format allows {MAX_COUNTER_BYTES}"
        )
    out.append((length << 1) | is_parent)
    out += counter.to_bytes(length, "big")


def _encode_event(tree: EventTree) -> bytes:
    """Event nodes in pre-order, without the version byte."""
    out = bytearray()
    stack = [tree]
    while stack:
        node = stack.pop()
        if type(node) is int:
            _encode_counter(out, False, node)
        else:
            _encode_counter(out, True, node[0])
            stack.append(node[2])
            stack.append(node[1])
    return bytes(out)


def _decode_event(data: bytes, start: int, end: int) -> EventTree:
    """Read one event tree from ``data[start:end]``, which it must fill exactly.

    Raises CorruptEventError (with the offset) on reserved header bits, counter bytes past
    the end, an incomplete tree, trailing bytes, or a parent with no child whose own counter
    is 0. A parent with equal leaf children is accepted as is, as libitc does.
    """
    # Each open parent: [offset of its header, its counter, children read so far...]
    open_parents: list[list[Any]] = []
    position = start
    while True:
        if position >= end:
            raise CorruptEventError("event ends before its tree is complete", position)
        header = data[position]
        if header & 0xE0:
            raise CorruptEventError(
                f"event node header 0x{header:02x} sets reserved bits", position
            )
        length = (header >> 1) & 0x0F
        counter_end = position + 1 + length
        if counter_end > end:
            raise CorruptEventError(
                f"event counter of {length} byte(s) runs past the end of the event", position
            )
        if length == 0:
            counter = 0
        elif length == 1:
            counter = data[position + 1]
        else:
            counter = int.from_bytes(data[position + 1 : counter_end], "big")
        if header & 1:
            open_parents.append([position, counter])
            position = counter_end
            continue
        node: EventTree = counter
        position = counter_end
        while open_parents:
            parent = open_parents[-1]
            parent.append(node)
            if len(parent) < 4:
                break
            offset, base, left, right = open_parents.pop()
            if _root(left) != 0 and _root(right) != 0:
                raise CorruptEventError(
                    _shorten(f"event node ({base}, {_event_to_str(left)}, {_event_to_str(right)})")
                    + " is not in normal form: neither child has counter 0",
                    offset,
                )
            node = (base, left, right)
        if not open_parents:
            break
    if position != end:
        raise CorruptEventError(f"{end - position} byte(s) left after the event tree", position)
    return node


# --- decoding helpers shared by Id, Event and Stamp -------------------------------------


def _as_bytes(data: object, what: str) -> bytes:
    """The argument as bytes; raises InvalidType for anything that is not bytes-like."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise InvalidType(f"{what}.deserialise expects bytes or bytearray, not {type(data).__name__}")


def _check_header(data: bytes, minimum: int, what: str) -> None:
    """Check the minimum length and the version byte shared by all three formats."""
    if len(data) < minimum:
        raise InvalidParamError(
            f"serialised {what} needs at least {minimum} bytes, got {len(data)}", len(data)
        )
    if data[0] not in _ACCEPTED_VERSIONS:
        raise IncompatibleLibVersionError(
            f"serialised {what} has format version {data[0]}; this module reads versions 0 and 1",
            0,
        )


# --- public objects -----------------------------------------------------------------------


class _Tree:
    """What Id and Event share: a tree value that merging into another consumes (then it
    refuses every use), libitc's byte form, and the usual notation."""

    __slots__ = ("_tree", "_valid")

    # Set by each subclass.
    _inactive_error: type[ItcError]
    _merge_name: str
    _label: str
    _encode: Any
    _decode: Any
    _render: Any

    @classmethod
    def _from_tree(cls, tree: Any) -> Any:
        made = cls.__new__(cls)
        made._tree = tree
        made._valid = True
        return made

    def _check_valid(self) -> None:
        if not self._valid:
            name = type(self).__name__
            raise self._inactive_error(
                f"this {name} was consumed by {name}.{self._merge_name} and cannot be used any more"
            )

    def _merge(self, others: tuple[Any, ...], merge_trees: Any) -> Any:
        """Merges the others' trees into this one, then invalidates them; all or nothing."""
        name = type(self).__name__
        _check_consumable(self, others, type(self), name, self._merge_name)
        tree = self._tree
        for other in others:
            tree = merge_trees(tree, other._tree)
        self._tree = tree
        for other in others:
            other._valid = False
        return self

    def clone(self) -> Any:
        """An independent copy."""
        self._check_valid()
        return type(self)._from_tree(self._tree)

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return self.clone()

    def is_valid(self) -> bool:
        """False once this value was consumed by a merge (`Id.sum`, `Event.join`)."""
        return self._valid

    def serialise(self) -> bytes:
        """libitc's byte form: the version byte, then the tree's nodes in pre-order."""
        self._check_valid()
        return bytes((FORMAT_VERSION,)) + self._encode(self._tree)

    @classmethod
    def deserialise(cls, data: bytes | bytearray) -> Any:
        """Read a value written by `serialise` (or libitc).

        Raises InvalidParamError if shorter than 2 bytes, IncompatibleLibVersionError for an
        unknown version, CorruptIdError / CorruptEventError for malformed or non-normal trees.
        """
        data = _as_bytes(data, cls.__name__)
        _check_header(data, 2, cls._label)
        return cls._from_tree(cls._decode(data, 1, len(data)))

    def __str__(self) -> str:
        return self._render(self._tree) if self._valid else "???"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} = {self}>"


class Id(_Tree):
    """An id tree: which part of the interval a replica owns. ``Id()`` owns all of it."""

    __slots__ = ()
    _inactive_error = InactiveIdError
    _merge_name = "sum"
    _label = "id"
    _encode = staticmethod(_encode_id)
    _decode = staticmethod(_decode_id)
    _render = staticmethod(_id_to_str)

    def __init__(self, seed: bool = True) -> None:
        self._tree: IdTree = 1 if seed else 0
        self._valid = True

    def split(self) -> Id:
        """Keep the first half of this id and return the second (``0`` splits into two ``0``)."""
        self._check_valid()
        first, second = _split_id(self._tree)
        self._tree = first
        return Id._from_tree(second)

    def sum(self, *others: Id) -> Id:
        """Add the others' intervals to this id; the others become invalid. Returns self.

        Raises InvalidParamError if self or a repeated Id is among the others and
        OverlappingIdIntervalError if two of them own a common part; nothing changes then.
        """
        return self._merge(others, _sum_ids)


class Event(_Tree):
    """An event tree: how many events are known over each part of the interval."""

    __slots__ = ()
    _inactive_error = InactiveEventError
    _merge_name = "join"
    _label = "event"
    _encode = staticmethod(_encode_event)
    _decode = staticmethod(_decode_event)
    _render = staticmethod(_event_to_str)

    def __init__(self) -> None:
        self._tree: EventTree = 0
        self._valid = True

    def join(self, *others: Event) -> Event:
        """Merge the others' counters into this tree; the others become invalid. Returns self.

        Raises InvalidParamError if self or a repeated Event is among the others.
        """
        return self._merge(others, _join_events)


def _check_consumable(
    target: Any, others: tuple[Any, ...], kind: type, name: str, verb: str
) -> None:
    """Validate the arguments of a consuming merge (join / sum) before anything changes."""
    target._check_valid()
    seen: set[int] = set()
    for position, other in enumerate(others):
        if not isinstance(other, kind):
            raise InvalidType(
                f"{name}.{verb} expects {name} arguments, got {type(other).__name__} "
                f"at position {position}"
            )
        if other is target:
            raise InvalidParamError(f"cannot {verb} a {name} with itself")
        if id(other) in seen:
            raise InvalidParamError(f"the same {name} is passed twice to {name}.{verb}")
        seen.add(id(other))
        other._check_valid()


class Stamp:
    """An interval tree clock stamp: an id plus an event tree. ``Stamp()`` is the seed ``{1; 0}``.

    Stamps change in place like pyitc's: `fork` splits self's id, `join` consumes its
    arguments. A consumed stamp raises InactiveStampError on any use.
    """

    __slots__ = ("_event", "_id", "_valid")

    def __init__(self, id: Id | None = None, event: Event | None = None) -> None:
        if id is not None and not isinstance(id, Id):
            raise InvalidType(f"Stamp id must be an Id, not {type(id).__name__}")
        if event is not None and not isinstance(event, Event):
            raise InvalidType(f"Stamp event must be an Event, not {type(event).__name__}")
        if id is not None:
            id._check_valid()
        if event is not None:
            event._check_valid()
        self._id: IdTree = 1 if id is None else id._tree
        self._event: EventTree = 0 if event is None else event._tree
        self._valid = True

    @classmethod
    def _from_trees(cls, id_tree: IdTree, event_tree: EventTree) -> Stamp:
        made = cls.__new__(cls)
        made._id = id_tree
        made._event = event_tree
        made._valid = True
        return made

    def _check_valid(self) -> None:
        if not self._valid:
            raise InactiveStampError(
                "this Stamp was consumed by Stamp.join and cannot be used any more"
            )

    # -- the three ITC operations --

    def fork(self) -> Stamp:
        """Split the id: self keeps the first half, the returned stamp gets the second.

        Both keep the same events. Forking a stamp with id ``0`` gives two stamps with id ``0``.
        """
        self._check_valid()
        first, second = _split_id(self._id)
        self._id = first
        return Stamp._from_trees(second, self._event)

    def event(self, count: int = 1) -> Stamp:
        """Record ``count`` events in the part of the interval this stamp owns. Returns self.

        Does nothing if the id is ``0`` (e.g. a peek stamp). Raises InvalidParamError if
        ``count < 1`` and EventCounterOverflowError past `MAX_COUNTER` (self unchanged).
        """
        self._check_valid()
        if not isinstance(count, int):
            raise InvalidType(f"event count must be an int, not {type(count).__name__}")
        if count < 1:
            raise InvalidParamError(f"event count must be at least 1, got {count}")
        self._event = _record_events(self._id, self._event, count)
        return self

    def join(self, *others: Stamp) -> Stamp:
        """Merge the others into self (ids summed, events joined); the others become invalid.

        Returns self. Raises InvalidParamError for self or a repeated stamp among the others,
        InactiveStampError for a consumed one, OverlappingIdIntervalError if ids overlap;
        in every case nothing changes.
        """
        _check_consumable(self, others, Stamp, "Stamp", "join")
        id_tree, event_tree = self._id, self._event
        for other in others:
            id_tree = _sum_ids(id_tree, other._id)
            event_tree = _join_events(event_tree, other._event)
        self._id, self._event = id_tree, event_tree
        for other in others:
            other._valid = False
        return self

    def peek(self) -> Stamp:
        """A stamp with id ``0`` and these events: carries causality without owning anything."""
        self._check_valid()
        return Stamp._from_trees(0, self._event)

    # -- comparison: event trees only, ids are ignored --

    def compare_to(self, other: Stamp) -> StampComparisonResult:
        """How self's history relates to other's: LESS_THAN, GREATER_THAN, EQUAL or CONCURRENT."""
        if not isinstance(other, Stamp):
            raise InvalidType(f"cannot compare a Stamp with {type(other).__name__}")
        self._check_valid()
        other._check_valid()
        self_leq = _event_leq(self._event, other._event)
        other_leq = _event_leq(other._event, self._event)
        if self_leq and other_leq:
            return StampComparisonResult.EQUAL
        if self_leq:
            return StampComparisonResult.LESS_THAN
        if other_leq:
            return StampComparisonResult.GREATER_THAN
        return StampComparisonResult.CONCURRENT

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Stamp):
            return NotImplemented
        return self.compare_to(other) == StampComparisonResult.LESS_THAN

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Stamp):
            return NotImplemented
        return self.compare_to(other) in (
            StampComparisonResult.LESS_THAN,
            StampComparisonResult.EQUAL,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Stamp):
            return NotImplemented
        return self.compare_to(other) == StampComparisonResult.EQUAL

    def __ne__(self, other: object) -> bool:
        if not isinstance(other, Stamp):
            return NotImplemented
        return self.compare_to(other) != StampComparisonResult.EQUAL

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Stamp):
            return NotImplemented
        return self.compare_to(other) == StampComparisonResult.GREATER_THAN

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Stamp):
            return NotImplemented
        return self.compare_to(other) in (
            StampComparisonResult.GREATER_THAN,
            StampComparisonResult.EQUAL,
        )

    __hash__ = None  # type: ignore[assignment]  # mutable, and equality ignores the id

    # -- components and copies --

    def is_valid(self) -> bool:
        """False once this stamp was consumed by `Stamp.join`."""
        return self._valid

    def clone(self) -> Stamp:
        """An independent copy."""
        self._check_valid()
        return Stamp._from_trees(self._id, self._event)

    def __deepcopy__(self, memo: dict[int, Any]) -> Stamp:
        return self.clone()

    @property
    def id_component(self) -> Id:
        """A copy of the id; assigning stores a copy of an `Id` (no renormalisation)."""
        self._check_valid()
        return Id._from_tree(self._id)

    @id_component.setter
    def id_component(self, value: Id) -> None:
        self._check_valid()
        if not isinstance(value, Id):
            raise InvalidType(f"id_component must be an Id, not {type(value).__name__}")
        value._check_valid()
        self._id = value._tree

    @property
    def event_component(self) -> Event:
        """A copy of the event tree; assigning stores a copy of an `Event`."""
        self._check_valid()
        return Event._from_tree(self._event)

    @event_component.setter
    def event_component(self, value: Event) -> None:
        self._check_valid()
        if not isinstance(value, Event):
            raise InvalidType(f"event_component must be an Event, not {type(value).__name__}")
        value._check_valid()
        self._event = value._tree

    # -- bytes and text --

    def serialise(self) -> bytes:
        """libitc's stamp bytes: version, header, id length, id nodes, event length, event nodes."""
        self._check_valid()
        id_bytes = _encode_id(self._id)
        event_bytes = _encode_event(self._event)
        id_length_size = max(1, (len(id_bytes).bit_length() + 7) // 8)
        event_length_size = max(1, (len(event_bytes).bit_length() + 7) // 8)
        return b"".join(
            (
                bytes((FORMAT_VERSION, id_length_size | (event_length_size << 3))),
                len(id_bytes).to_bytes(id_length_size, "big"),
                id_bytes,
                len(event_bytes).to_bytes(event_length_size, "big"),
                event_bytes,
            )
        )

    @classmethod
    def deserialise(cls, data: bytes | bytearray) -> Stamp:
        """Read a stamp written by `serialise` (or libitc / pyitc).

        Raises InvalidParamError if shorter than 6 bytes, IncompatibleLibVersionError for an
        unknown version, CorruptStampError for bad framing, CorruptIdError / CorruptEventError
        for bad components; every decoding error carries the byte ``offset``.
        """
        data = _as_bytes(data, "Stamp")
        _check_header(data, 6, "stamp")
        header = data[1]
        if header & 0xC0:
            raise CorruptStampError(f"stamp header 0x{header:02x} sets reserved bits", 1)
        # Same order as libitc, so the same input fails with the same status: each component
        # is framed and decoded before the next one's framing is looked at.
        id_start, id_end = _read_component_frame(data, 2, header & 0x07, "id")
        id_tree = _decode_id(data, id_start, id_end)
        event_start, event_end = _read_component_frame(data, id_end, (header >> 3) & 0x07, "event")
        event_tree = _decode_event(data, event_start, event_end)
        if event_end != len(data):
            raise CorruptStampError(
                f"{len(data) - event_end} byte(s) left after the event component", event_end
            )
        return cls._from_trees(id_tree, event_tree)

    def __str__(self) -> str:
        if not self._valid:
            return "???"
        return f"{{{_id_to_str(self._id)}; {_event_to_str(self._event)}}}"

    def __repr__(self) -> str:
        return f"<Stamp = {self}>"


def _read_component_frame(data: bytes, position: int, size: int, what: str) -> tuple[int, int]:
    """Read a ``size``-byte length field at ``position``; return the component's byte range.

    Raises CorruptStampError if the field is empty, or it or the component runs past the end,
    and InvalidParamError (as libitc, whose lengths are 32-bit) for a field over 4 bytes.
    """
    if size == 0:
        raise CorruptStampError(f"stamp header gives the {what} length field 0 bytes", 1)
    if position + size > len(data):
        raise CorruptStampError(f"the {what} length field runs past the end of the stamp", position)
    if size > MAX_LENGTH_FIELD_BYTES:
        raise InvalidParamError(
            f"the {what} length field has {size} bytes; at most {MAX_LENGTH_FIELD_BYTES} "
            "are supported",
            position,
        )
    length = int.from_bytes(data[position : position + size], "big")
    start = position + size
    if length == 0:
        raise CorruptStampError(f"the {what} component is empty", position)
    if start + length > len(data):
        raise CorruptStampError(
            f"the {what} component ({length} bytes) runs past the end of the stamp", position
        )
    return start, start + length


# --- persistence ----------------------------------------------------------------------------


def save_stamp(tx: found.Transaction, key: bytes, stamp: Stamp) -> None:
    """Buffer a write of ``stamp`` (its serialised bytes) at ``key`` in transaction ``tx``.

    Raises InactiveStampError if the stamp was consumed by a join.
    """
    found.set(tx, key, stamp.serialise())


async def load_stamp(tx: found.Transaction, key: bytes) -> Stamp | None:
    """The stamp stored at ``key``, or ``None`` if there is none.

    A value that is not a valid stamp raises the decoding error (CorruptStampError, ...).
    """
    value = await found.get(tx, key)
    if value is None:
        return None
    return Stamp.deserialise(value)

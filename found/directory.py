"""The directory layer: named paths mapped to short allocated key prefixes.

Byte-compatible with ``fdb.directory`` (the default ``DirectoryLayer`` of the official
bindings), so directories created by either binding open in the other with the same
prefixes. A directory whose contents live under raw prefix ``p`` keeps its metadata in
its *node* ``N(p) = node_prefix ‖ P((p,))``; the root's node is ``N(node_prefix)``.
With the default instance (node prefix ``fe``, content prefix empty):

| key                             | value                                                |
|---------------------------------|------------------------------------------------------|
| ``N(fe), b"version"``           | ``<III`` (major, minor, patch) = 1.0.0               |
| ``N(fe), b"hca", 0, start``     | allocations in the window at ``start``, int64 LE     |
| ``N(fe), b"hca", 1, candidate`` | ``b""``: candidate handed out recently               |
| ``N(parent), 0, name``          | the child's prefix ``p`` (top level: parent is root) |
| ``N(p), b"layer"``              | the layer tag given at creation, ``b""`` if none     |
| ``p ‖ …``                       | the directory's contents (the user's keys)           |

The design choice: a prefix is allocated once and never changes — ``move`` only relinks
the name — so open handles stay valid across moves, and prefixes are short: the
high-contention allocator (HCA) hands out ``P((n,))`` for small ``n`` picked at random
in a window that grows (64, 1024, 8192) as it fills, so concurrent creators rarely
conflict. A directory with layer ``b"partition"`` holds a whole nested directory layer
with node prefix ``p ‖ fe`` and content prefix ``p``; its subtree cannot be moved out.
"""

from __future__ import annotations

import asyncio
import random
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass

import found
from found.errors import InvalidType, LayerError
from found.reads import next_prefix
from found.subspace import Subspace
from found.transaction import Transaction
from found.tuple import pack

__all__ = [
    "DirectoryError",
    "DirectoryExists",
    "DirectoryLayer",
    "DirectoryLayerMismatch",
    "DirectoryMoveError",
    "DirectoryNotFound",
    "DirectoryPartition",
    "DirectoryPartitionError",
    "DirectoryPathError",
    "DirectoryPrefixError",
    "DirectorySubspace",
    "DirectoryVersionError",
    "directory",
]

VERSION = (1, 0, 0)
PARTITION = b"partition"
_SUBDIRECTORIES = 0
_NEXT_WRITE_NO_WRITE_CONFLICT_RANGE = 30  # FDB transaction option code
_ONE = struct.pack("<q", 1)
_LOCK = "found.directory.allocation_lock"
_DEFAULT_NODES = Subspace(raw_prefix=b"\xfe")
_DEFAULT_CONTENTS = Subspace()
_random = random.Random()  # own generator: seeding `random` in an app must not align allocators


# --- errors ---------------------------------------------------------------------------


class DirectoryError(LayerError):
    """A directory operation failed; ``path`` is the directory it was about."""

    def __init__(self, message: str, path: tuple[str, ...] = ()) -> None:
        self.path = path
        super().__init__(message)


class DirectoryExists(DirectoryError):
    """``create`` or ``move`` found a directory already at the path."""


class DirectoryNotFound(DirectoryError):
    """``open``, ``list``, ``move`` or ``remove`` found no directory at the path."""


class DirectoryLayerMismatch(DirectoryError):
    """The directory was created with a different layer tag than the one asked for."""

    def __init__(self, message: str, path: tuple[str, ...], expected: bytes, stored: bytes) -> None:
        self.expected = expected
        self.stored = stored
        super().__init__(message, path)


class DirectoryVersionError(DirectoryError):
    """The stored directory layer version is newer than this code reads (or writes)."""

    def __init__(self, message: str, version: tuple[int, int, int]) -> None:
        self.version = version
        super().__init__(message)


class DirectoryMoveError(DirectoryError):
    """A move into the directory's own subtree, or across a partition boundary."""


class DirectoryPathError(DirectoryError):
    """The root directory was given where a directory that can be opened is needed."""


class DirectoryPrefixError(DirectoryError):
    """A manual prefix that is refused or in use, or an allocated prefix that is not free."""


class DirectoryPartitionError(DirectoryError):
    """The root of a partition was used as a subspace (its keys belong to the partition)."""


# --- paths ----------------------------------------------------------------------------


def _as_path(path: str | tuple[str, ...]) -> tuple[str, ...]:
    """``path`` as a tuple of str; a single str is a one-element path."""
    if isinstance(path, str):
        return (path,)
    if not isinstance(path, tuple):
        raise InvalidType(f"a directory path is a str or a tuple of str, not {path!r:.80}")
    for name in path:
        if not isinstance(name, str):
            raise InvalidType(
                f"directory path {path!r:.80} has a {type(name).__name__} element; "
                "each name must be a str"
            )
    return path


def _as_layer(layer: bytes) -> bytes:
    if not isinstance(layer, bytes):
        raise InvalidType(f"a directory layer tag is bytes, not {type(layer).__name__}")
    return layer


def _window_size(start: int) -> int:
    """The HCA window at ``start``: small (short prefixes) first, larger as it fills."""
    if start < 255:
        return 64
    if start < 65535:
        return 1024
    return 8192


@dataclass(frozen=True, slots=True)
class _Node:
    """Where a path walk stopped: the node's prefix (None when missing), its layer tag,
    the path to it and the path asked for (longer when the walk stopped at a partition)."""

    prefix: bytes | None
    layer: bytes
    path: tuple[str, ...]
    target: tuple[str, ...]

    @property
    def exists(self) -> bool:
        return self.prefix is not None

    def in_partition(self, include_empty_subpath: bool = False) -> bool:
        """True if the walk stopped at a partition that the target lies in."""
        return (
            self.prefix is not None
            and self.layer == PARTITION
            and (include_empty_subpath or len(self.target) > len(self.path))
        )

    @property
    def subpath(self) -> tuple[str, ...]:
        """The rest of the target, relative to the partition the walk stopped at."""
        return self.target[len(self.path) :]


# --- the layer ------------------------------------------------------------------------


class DirectoryLayer:
    """A directory layer over a node subspace (metadata) and a content subspace (where
    prefixes are allocated); ``path`` is the absolute path of the partition it serves.

    Every method takes the transaction first and is safe to retry.
    """

    __slots__ = (
        "node_subspace",
        "content_subspace",
        "allow_manual_prefixes",
        "path",
        "_root_node",
        "_counters",
        "_recent",
    )

    def __init__(
        self,
        node_subspace: Subspace = _DEFAULT_NODES,
        content_subspace: Subspace = _DEFAULT_CONTENTS,
        allow_manual_prefixes: bool = False,
        *,
        path: tuple[str, ...] = (),
    ) -> None:
        self.node_subspace = node_subspace
        self.content_subspace = content_subspace
        self.allow_manual_prefixes = allow_manual_prefixes
        self.path = path
        self._root_node = node_subspace[node_subspace.key()]
        allocator = self._root_node[b"hca"]
        self._counters = allocator[0]
        self._recent = allocator[1]

    def __repr__(self) -> str:
        return (
            f"DirectoryLayer(node={self.node_subspace.key()!r}, "
            f"content={self.content_subspace.key()!r}, path={self.path!r})"
        )

    # -- public operations -------------------------------------------------------------

    async def create_or_open(
        self, tx: Transaction, path: str | tuple[str, ...], layer: bytes = b""
    ) -> DirectorySubspace:
        """Opens the directory at ``path``, creating it and missing parents if needed.

        A non-empty ``layer`` is checked against an existing directory's tag
        (DirectoryLayerMismatch) or stored on a new one.
        """
        return await self._create_or_open(tx, _as_path(path), _as_layer(layer))

    async def open(
        self, tx: Transaction, path: str | tuple[str, ...], layer: bytes = b""
    ) -> DirectorySubspace:
        """Opens an existing directory; DirectoryNotFound if it is missing."""
        return await self._create_or_open(tx, _as_path(path), _as_layer(layer), create=False)

    async def create(
        self,
        tx: Transaction,
        path: str | tuple[str, ...],
        layer: bytes = b"",
        prefix: bytes | None = None,
    ) -> DirectorySubspace:
        """Creates a directory (and missing parents); DirectoryExists if it exists.

        ``prefix`` sets the raw prefix instead of allocating one; only on a layer made
        with ``allow_manual_prefixes=True`` (DirectoryPrefixError otherwise or when the
        prefix overlaps another directory's).
        """
        if prefix is not None and not isinstance(prefix, bytes):
            raise InvalidType(f"a directory prefix is bytes, not {type(prefix).__name__}")
        return await self._create_or_open(
            tx, _as_path(path), _as_layer(layer), prefix=prefix, open=False
        )

    async def exists(self, tx: Transaction, path: str | tuple[str, ...] = ()) -> bool:
        """True if a directory exists at ``path`` (the root always does)."""
        path = _as_path(path)
        await self._check_version(tx, write=False)
        node = await self._find(tx, path)
        if not node.exists:
            return False
        if node.in_partition():
            return await self._partition_layer(node).exists(tx, node.subpath)
        return True

    async def list(self, tx: Transaction, path: str | tuple[str, ...] = ()) -> list[str]:
        """The names of the subdirectories of ``path``, in tuple order."""
        path = _as_path(path)
        await self._check_version(tx, write=False)
        node = await self._find(tx, path)
        if not node.exists:
            raise DirectoryNotFound(f"directory {self._full(path)!r} does not exist", path)
        if node.in_partition(include_empty_subpath=True):
            return await self._partition_layer(node).list(tx, node.subpath)
        return [name async for name, _ in self._subdirectories(tx, node.prefix)]

    async def move(
        self, tx: Transaction, old_path: str | tuple[str, ...], new_path: str | tuple[str, ...]
    ) -> DirectorySubspace:
        """Renames ``old_path`` to ``new_path``; the prefix and contents stay put.

        Fails with DirectoryNotFound (no source, or no parent for the destination),
        DirectoryExists (destination taken) or DirectoryMoveError (into its own subtree,
        or across a partition boundary).
        """
        old_path, new_path = _as_path(old_path), _as_path(new_path)
        await self._check_version(tx, write=True)
        if new_path[: len(old_path)] == old_path:
            raise DirectoryMoveError(
                f"cannot move {self._full(old_path)!r} into its own subtree "
                f"at {self._full(new_path)!r}",
                self._full(old_path),
            )
        old_node = await self._find(tx, old_path)
        new_node = await self._find(tx, new_path)
        if not old_node.exists:
            raise DirectoryNotFound(
                f"cannot move {self._full(old_path)!r}: it does not exist", self._full(old_path)
            )
        if old_node.in_partition() or new_node.in_partition():
            if (
                not old_node.in_partition()
                or not new_node.in_partition()
                or old_node.path != new_node.path
            ):
                raise DirectoryMoveError(
                    f"cannot move {self._full(old_path)!r} to {self._full(new_path)!r}: "
                    "moves across partitions are not possible",
                    self._full(old_path),
                )
            return await self._partition_layer(new_node).move(
                tx, old_node.subpath, new_node.subpath
            )
        if new_node.exists:
            raise DirectoryExists(
                f"cannot move {self._full(old_path)!r}: {self._full(new_path)!r} exists",
                self._full(new_path),
            )
        parent = await self._find(tx, new_path[:-1])
        if not parent.exists:
            raise DirectoryNotFound(
                f"cannot move {self._full(old_path)!r}: the parent of {self._full(new_path)!r} "
                "does not exist",
                self._full(new_path[:-1]),
            )
        found.set(tx, self._link_key(parent.prefix, new_path[-1]), old_node.prefix)
        await self._unlink(tx, old_path)
        return self._contents(old_node.prefix, new_path, old_node.layer)

    async def remove(self, tx: Transaction, path: str | tuple[str, ...]) -> None:
        """Removes the directory, its subdirectories and all their contents.

        DirectoryNotFound if it does not exist. Handles opened earlier keep their prefix
        and can still write under it.
        """
        await self._remove(tx, _as_path(path), must_exist=True)

    async def remove_if_exists(self, tx: Transaction, path: str | tuple[str, ...]) -> bool:
        """Like ``remove``; returns False instead of failing when there is nothing."""
        return await self._remove(tx, _as_path(path), must_exist=False)

    # -- implementation ----------------------------------------------------------------

    def _full(self, path: tuple[str, ...]) -> tuple[str, ...]:
        """``path`` relative to this layer, as an absolute path (for results and errors)."""
        return self.path + path

    def _node(self, prefix: bytes) -> Subspace:
        return self.node_subspace[prefix]

    def _link_key(self, parent_prefix: bytes, name: str) -> bytes:
        return self._node(parent_prefix).pack((_SUBDIRECTORIES, name))

    def _partition_layer(self, node: _Node) -> DirectoryLayer:
        """The nested directory layer of the partition ``node``."""
        return _partition_layer(node.prefix, self._full(node.path))

    def _contents(self, prefix: bytes, path: tuple[str, ...], layer: bytes) -> DirectorySubspace:
        if layer == PARTITION:
            return DirectoryPartition(self._full(path), prefix, self)
        return DirectorySubspace(self._full(path), prefix, self, layer)

    async def _check_version(self, tx: Transaction, write: bool) -> None:
        """Refuses a layer written by a newer major version (or minor, for writes);
        stamps the version on the first write to a fresh layer."""
        key = self._root_node.pack((b"version",))
        stored = await found.get(tx, key)
        if stored is None:
            if write:
                found.set(tx, key, struct.pack("<III", *VERSION))
            return
        version = struct.unpack("<III", stored)
        ours = ".".join(map(str, VERSION))
        theirs = ".".join(map(str, version))
        if version[0] > VERSION[0]:
            raise DirectoryVersionError(
                f"cannot read directory layer version {theirs} with version {ours}", version
            )
        if write and version[1] > VERSION[1]:
            raise DirectoryVersionError(
                f"directory layer version {theirs} is read-only for version {ours}", version
            )

    async def _find(self, tx: Transaction, path: tuple[str, ...]) -> _Node:
        """Walks ``path`` link by link, stopping early at a missing name or a partition."""
        prefix = self.node_subspace.key()
        layer = b""
        for index, name in enumerate(path):
            prefix = await found.get(tx, self._link_key(prefix, name))
            if prefix is None:
                return _Node(None, b"", path[: index + 1], path)
            layer = await found.get(tx, self._node(prefix).pack((b"layer",))) or b""
            if layer == PARTITION:
                return _Node(prefix, layer, path[: index + 1], path)
        return _Node(prefix, layer, path, path)

    async def _subdirectories(
        self, tx: Transaction, prefix: bytes
    ) -> AsyncIterator[tuple[str, bytes]]:
        """Yields (name, prefix) for each child of the node at ``prefix``."""
        children = self._node(prefix)[_SUBDIRECTORIES]
        begin, end = children.range()
        async for key, value in found.query(tx, begin, end):
            yield children.unpack(key)[0], value

    async def _create_or_open(
        self,
        tx: Transaction,
        path: tuple[str, ...],
        layer: bytes,
        *,
        prefix: bytes | None = None,
        create: bool = True,
        open: bool = True,
    ) -> DirectorySubspace:
        await self._check_version(tx, write=False)
        if prefix is not None and not self.allow_manual_prefixes:
            where = "in a partition" if self.path else "without allow_manual_prefixes"
            raise DirectoryPrefixError(
                f"cannot create {self._full(path)!r} with prefix {prefix!r}: "
                f"manual prefixes are refused {where}",
                self._full(path),
            )
        if not path:
            raise DirectoryPathError("the root directory cannot be opened", self.path)
        node = await self._find(tx, path)
        if node.exists:
            if node.in_partition():
                return await self._partition_layer(node)._create_or_open(
                    tx, node.subpath, layer, prefix=prefix, create=create, open=open
                )
            if not open:
                raise DirectoryExists(
                    f"directory {self._full(path)!r} already exists", self._full(path)
                )
            if layer and node.layer != layer:
                raise DirectoryLayerMismatch(
                    f"directory {self._full(path)!r} has layer {node.layer!r}, not {layer!r}",
                    self._full(path),
                    expected=layer,
                    stored=node.layer,
                )
            return self._contents(node.prefix, path, node.layer)
        if not create:
            raise DirectoryNotFound(
                f"directory {self._full(path)!r} does not exist", self._full(path)
            )

        await self._check_version(tx, write=True)
        if prefix is None:
            prefix = self.content_subspace.key() + await self._allocate(tx)
            if await _has_keys(tx, prefix):
                raise DirectoryPrefixError(
                    f"the allocator chose prefix {prefix!r} for {self._full(path)!r} "
                    "but the database has keys under it",
                    self._full(path),
                )
            if not await self._is_prefix_free(tx.snapshot, prefix):
                raise DirectoryPrefixError(
                    f"the allocator chose prefix {prefix!r} for {self._full(path)!r} "
                    "but a manually prefixed directory overlaps it",
                    self._full(path),
                )
        elif not await self._is_prefix_free(tx, prefix):
            raise DirectoryPrefixError(
                f"prefix {prefix!r} for {self._full(path)!r} overlaps another directory",
                self._full(path),
            )

        if len(path) > 1:
            parent = await self._create_or_open(tx, path[:-1], b"")
            parent_prefix = parent._prefix
        else:
            parent_prefix = self.node_subspace.key()
        found.set(tx, self._link_key(parent_prefix, path[-1]), prefix)
        found.set(tx, self._node(prefix).pack((b"layer",)), layer)
        return self._contents(prefix, path, layer)

    async def _remove(self, tx: Transaction, path: tuple[str, ...], must_exist: bool) -> bool:
        await self._check_version(tx, write=True)
        if not path:
            raise DirectoryPathError("the root directory cannot be removed", self.path)
        node = await self._find(tx, path)
        if not node.exists:
            if must_exist:
                raise DirectoryNotFound(
                    f"cannot remove {self._full(path)!r}: it does not exist", self._full(path)
                )
            return False
        if node.in_partition():
            return await self._partition_layer(node)._remove(tx, node.subpath, must_exist)
        await self._remove_recursive(tx, node.prefix)
        await self._unlink(tx, path)
        return True

    async def _remove_recursive(self, tx: Transaction, prefix: bytes) -> None:
        """Clears the contents and metadata of the directory at ``prefix`` and below."""
        children = [child async for _, child in self._subdirectories(tx, prefix)]
        for child in children:
            await self._remove_recursive(tx, child)
        found.clear(tx, prefix, next_prefix(prefix))
        begin, end = self._node(prefix).range()
        found.clear(tx, begin, end)

    async def _unlink(self, tx: Transaction, path: tuple[str, ...]) -> None:
        parent = await self._find(tx, path[:-1])
        found.clear(tx, self._link_key(parent.prefix, path[-1]))

    async def _node_containing(self, tx: Transaction, key: bytes) -> bytes | None:
        """The prefix of the directory whose contents hold ``key``, if any (the node
        prefix for metadata keys)."""
        if key.startswith(self.node_subspace.key()):
            return self.node_subspace.key()
        begin = self.node_subspace.range()[0]
        end = self.node_subspace.pack((key,)) + b"\x00"
        async for found_key, _ in found.query(tx, begin, end, limit=1, reverse=True):
            previous = self.node_subspace.unpack(found_key)[0]
            if key.startswith(previous):
                return previous
        return None

    async def _is_prefix_free(self, tx: Transaction, prefix: bytes) -> bool:
        """True if ``prefix`` neither lies in nor contains an allocated prefix."""
        if not prefix:
            return False
        if await self._node_containing(tx, prefix) is not None:
            return False
        begin = self.node_subspace.pack((prefix,))
        end = self.node_subspace.pack((next_prefix(prefix),))
        rows = await found.all(found.query(tx, begin, end, limit=1))
        return not rows

    async def _latest_window(self, tx: Transaction) -> int | None:
        """The start of the newest allocation window (a snapshot read), None if none."""
        begin, end = self._counters.range()
        async for key, _ in found.query(tx.snapshot, begin, end, limit=1, reverse=True):
            return self._counters.unpack(key)[0]
        return None

    async def _allocate(self, tx: Transaction) -> bytes:
        """A packed integer no other allocation on these keys ever returns (FDB's HCA).

        Counting happens at snapshot isolation so concurrent creators do not conflict on
        the counters; only the chosen candidate's key takes a write conflict.
        """
        # Tasks sharing ``tx`` must not interleave inside a read-then-write step.
        lock = tx.vars.get(_LOCK)
        if lock is None:
            lock = tx.vars[_LOCK] = asyncio.Lock()
        while True:
            start = await self._latest_window(tx) or 0
            window_advanced = False
            while True:
                async with lock:
                    if window_advanced:
                        found.clear(tx, self._counters.key(), self._counters.pack((start,)))
                        tx.set_option(_NEXT_WRITE_NO_WRITE_CONFLICT_RANGE)
                        found.clear(tx, self._recent.key(), self._recent.pack((start,)))
                    counter = self._counters.pack((start,))
                    found.add(tx, counter, _ONE)
                    stored = await found.get(tx.snapshot, counter)
                count = struct.unpack("<q", stored)[0] if stored is not None else 0
                window = _window_size(start)
                if count * 2 < window:
                    break
                start += window
                window_advanced = True

            while True:
                # The window is less than half full, so about two tries are expected.
                candidate = _random.randrange(start, start + window)
                key = self._recent.pack((candidate,))
                async with lock:
                    latest = await self._latest_window(tx)
                    taken = await found.get(tx, key)
                    tx.set_option(_NEXT_WRITE_NO_WRITE_CONFLICT_RANGE)
                    found.set(tx, key, b"")
                if latest is not None and latest > start:
                    break  # another allocation moved the window on: count again
                if taken is None:
                    found.add_conflict_range(tx, key, key + b"\x00", write=True)
                    return pack((candidate,))


async def _has_keys(tx: Transaction, prefix: bytes) -> bool:
    rows = await found.all(found.query(tx, prefix, next_prefix(prefix), limit=1))
    return bool(rows)


def _partition_layer(prefix: bytes, path: tuple[str, ...]) -> DirectoryLayer:
    """The directory layer nested in the partition at ``prefix`` (absolute ``path``)."""
    return DirectoryLayer(
        Subspace(raw_prefix=prefix + b"\xfe"), Subspace(raw_prefix=prefix), path=path
    )


# --- opened directories ---------------------------------------------------------------


class DirectorySubspace(Subspace):
    """An opened directory: the subspace of its contents, plus its absolute ``path`` and
    ``layer`` tag, and the directory operations relative to it (``create_or_open(tx,
    ("child",))`` opens ``path + ("child",)``). Immutable; equal by prefix, path, layer."""

    __slots__ = ("_path", "_layer", "_directory_layer")

    def __init__(
        self,
        path: tuple[str, ...],
        prefix: bytes,
        directory_layer: DirectoryLayer,
        layer: bytes = b"",
    ) -> None:
        super().__init__(raw_prefix=prefix)
        self._path = path
        self._layer = layer
        self._directory_layer = directory_layer

    @property
    def path(self) -> tuple[str, ...]:
        """The absolute path this directory was opened (or created, moved) at."""
        return self._path

    @property
    def layer(self) -> bytes:
        """The layer tag stored with the directory (``b""`` for none)."""
        return self._layer

    @property
    def directory_layer(self) -> DirectoryLayer:
        """The directory layer that holds this directory's node."""
        return self._directory_layer

    @property
    def _prefix(self) -> bytes:
        return self._raw_prefix

    def _subpath(self, path: str | tuple[str, ...], layer: DirectoryLayer) -> tuple[str, ...]:
        """``path`` (relative to this directory) relative to ``layer``."""
        return self._path[len(layer.path) :] + _as_path(path)

    def _layer_for(self, path: tuple[str, ...]) -> DirectoryLayer:
        """The layer to run an operation on this directory's ``path`` in."""
        return self._directory_layer

    async def create_or_open(
        self, tx: Transaction, path: str | tuple[str, ...], layer: bytes = b""
    ) -> DirectorySubspace:
        """``DirectoryLayer.create_or_open`` on a path relative to this directory."""
        inner = self._directory_layer
        return await inner.create_or_open(tx, self._subpath(path, inner), layer)

    async def open(
        self, tx: Transaction, path: str | tuple[str, ...], layer: bytes = b""
    ) -> DirectorySubspace:
        """``DirectoryLayer.open`` on a path relative to this directory."""
        inner = self._directory_layer
        return await inner.open(tx, self._subpath(path, inner), layer)

    async def create(
        self,
        tx: Transaction,
        path: str | tuple[str, ...],
        layer: bytes = b"",
        prefix: bytes | None = None,
    ) -> DirectorySubspace:
        """``DirectoryLayer.create`` on a path relative to this directory."""
        inner = self._directory_layer
        return await inner.create(tx, self._subpath(path, inner), layer, prefix)

    async def list(self, tx: Transaction, path: str | tuple[str, ...] = ()) -> list[str]:
        """The names of the subdirectories of this directory (or of ``path`` in it)."""
        inner = self._directory_layer
        return await inner.list(tx, self._subpath(path, inner))

    async def move(
        self, tx: Transaction, old_path: str | tuple[str, ...], new_path: str | tuple[str, ...]
    ) -> DirectorySubspace:
        """``DirectoryLayer.move`` between two paths relative to this directory."""
        inner = self._directory_layer
        return await inner.move(tx, self._subpath(old_path, inner), self._subpath(new_path, inner))

    async def move_to(
        self, tx: Transaction, new_absolute_path: str | tuple[str, ...]
    ) -> DirectorySubspace:
        """Moves this directory to ``new_absolute_path`` (in the same partition)."""
        outer = self._layer_for(())
        new_absolute_path = _as_path(new_absolute_path)
        if new_absolute_path[: len(outer.path)] != outer.path:
            raise DirectoryMoveError(
                f"cannot move {self._path!r} to {new_absolute_path!r}: "
                "moves across partitions are not possible",
                self._path,
            )
        return await outer.move(
            tx, self._path[len(outer.path) :], new_absolute_path[len(outer.path) :]
        )

    async def remove(self, tx: Transaction, path: str | tuple[str, ...] = ()) -> None:
        """Removes this directory (or ``path`` in it) with everything below."""
        path = _as_path(path)
        outer = self._layer_for(path)
        await outer.remove(tx, self._subpath(path, outer))

    async def remove_if_exists(self, tx: Transaction, path: str | tuple[str, ...] = ()) -> bool:
        """Like ``remove``; returns False when there was nothing to remove."""
        path = _as_path(path)
        outer = self._layer_for(path)
        return await outer.remove_if_exists(tx, self._subpath(path, outer))

    async def exists(self, tx: Transaction, path: str | tuple[str, ...] = ()) -> bool:
        """True if this directory (or ``path`` in it) still exists."""
        path = _as_path(path)
        outer = self._layer_for(path)
        return await outer.exists(tx, self._subpath(path, outer))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Subspace):
            return NotImplemented
        if not isinstance(other, DirectorySubspace):
            return False  # a plain Subspace never equals a directory (hashes differ)
        return (self._raw_prefix, self._path, self._layer) == (
            other._raw_prefix,
            other._path,
            other._layer,
        )

    def __hash__(self) -> int:
        return hash((self._raw_prefix, self._path, self._layer))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(path={self._path!r}, prefix={self._raw_prefix!r})"


class DirectoryPartition(DirectorySubspace):
    """A directory with layer ``b"partition"``: the root of a nested directory layer.

    Its subdirectories are allocated inside its prefix; using it as a subspace (``pack``,
    ``range``, ``key``…) raises DirectoryPartitionError, since those keys belong to the
    nested layer.
    """

    __slots__ = ("_parent_layer",)

    def __init__(self, path: tuple[str, ...], prefix: bytes, parent_layer: DirectoryLayer) -> None:
        super().__init__(path, prefix, _partition_layer(prefix, path), PARTITION)
        self._parent_layer = parent_layer

    def _layer_for(self, path: tuple[str, ...]) -> DirectoryLayer:
        # The partition itself lives in its parent layer; paths below it in its own.
        return self._parent_layer if not path else self._directory_layer

    def _refuse(self, what: str) -> DirectoryPartitionError:
        return DirectoryPartitionError(
            f"cannot {what} the root of directory partition {self._path!r}", self._path
        )

    @property
    def raw_prefix(self) -> bytes:
        raise self._refuse("take the prefix of")

    def key(self) -> bytes:
        raise self._refuse("get the key of")

    def as_foundationdb_key(self) -> bytes:
        raise self._refuse("use as a key")

    def pack(self, items: tuple = ()) -> bytes:
        raise self._refuse("pack keys in")

    def pack_with_versionstamp(self, items: tuple = ()) -> bytes:
        raise self._refuse("pack keys in")

    def unpack(self, key: bytes) -> tuple:
        raise self._refuse("unpack keys of")

    def range(self, items: tuple = ()) -> tuple[bytes, bytes]:
        raise self._refuse("get a range of")

    def contains(self, key: bytes) -> bool:
        raise self._refuse("check keys against")

    def subspace(self, items: tuple) -> Subspace:
        raise self._refuse("open a subspace in")

    def __getitem__(self, item: object) -> Subspace:
        raise self._refuse("open a subspace in")


directory = DirectoryLayer()
"""The default directory layer: nodes under ``fe``, contents anywhere else."""

"""Directory layer: behaviour, golden bytes, errors, partitions, the allocator under
concurrency, and interoperability with the official `fdb.directory` on the same store."""

from __future__ import annotations

import asyncio
import random
import struct

import fdb
import pytest

import found
from found.directory import (
    DirectoryError,
    DirectoryExists,
    DirectoryLayer,
    DirectoryLayerMismatch,
    DirectoryMoveError,
    DirectoryNotFound,
    DirectoryPartition,
    DirectoryPartitionError,
    DirectoryPathError,
    DirectoryPrefixError,
    DirectorySubspace,
    DirectoryVersionError,
    directory,
)
from found.errors import InvalidType, LayerError, NotCommitted
from found.subspace import Subspace

ROOT = b"\xfe\x01\xfe\x00"  # N(fe): the root node of the default layer
VERSION_KEY = ROOT + b"\x01version\x00"


def run(db, func, *args, **kwargs):
    return found.transactional(db, func, *args, **kwargs)


async def everything(db) -> dict[bytes, bytes]:
    async def scan(tx):
        return await found.all(found.query(tx, b"", b"\xff"))

    return dict(await run(db, scan))


async def put(db, key: bytes, value: bytes) -> None:
    async def write(tx):
        found.set(tx, key, value)

    await run(db, write)


# --- layout ---------------------------------------------------------------------------


async def test_golden_bytes_of_links_layer_tags_and_version(db):
    manual = DirectoryLayer(allow_manual_prefixes=True)
    app = await run(db, manual.create, ("app",), prefix=b"\x15\x05")
    users = await run(db, manual.create, ("app", "users"), layer=b"table", prefix=b"\x15\x06")
    assert (app.key(), users.key(), users.layer) == (b"\x15\x05", b"\x15\x06", b"table")

    assert await everything(db) == {
        VERSION_KEY: struct.pack("<III", 1, 0, 0),
        b"\xfe\x01\xfe\x00\x14\x02app\x00": b"\x15\x05",
        b"\xfe\x01\x15\x05\x00\x01layer\x00": b"",
        b"\xfe\x01\x15\x05\x00\x14\x02users\x00": b"\x15\x06",
        b"\xfe\x01\x15\x06\x00\x01layer\x00": b"table",
    }


async def test_allocator_counts_and_remembers_candidates_under_the_root_node(db):
    logs = await run(db, directory.create_or_open, "logs")
    (candidate,) = found.unpack(logs.key())
    assert 0 <= candidate < 64  # first window
    stored = await everything(db)
    assert stored[ROOT + b"\x01hca\x00\x14\x14"] == struct.pack("<q", 1)
    assert stored[ROOT + b"\x01hca\x00\x15\x01" + found.pack((candidate,))] == b""


async def test_layer_writes_only_metadata_under_fe_and_the_user_writes_in_prefixes(db):
    async def fill(tx, paths):
        for path in paths:
            folder = await directory.create_or_open(tx, path)
            found.set(tx, folder.pack(("row",)), b"v")

    paths = [("a",), ("a", "b"), ("c",), ("c", "d"), ("c", "d", "e")]
    await run(db, fill, paths)
    prefixes = [await run(db, directory.open, p) for p in paths]
    for key in await everything(db):
        assert key.startswith(b"\xfe") or any(d.contains(key) for d in prefixes)
    # prefixes never nest inside each other
    raw = sorted(d.key() for d in prefixes)
    assert all(not b.startswith(a) for a, b in zip(raw, raw[1:], strict=False))


# --- create, open, list, exists -------------------------------------------------------


async def test_create_or_open_returns_the_same_prefix_every_time(db):
    first = await run(db, directory.create_or_open, ("app", "users"))
    again = await run(db, directory.create_or_open, ("app", "users"))
    opened = await run(db, directory.open, ("app", "users"))
    assert first == again == opened
    assert isinstance(first, DirectorySubspace) and isinstance(first, Subspace)
    assert first.path == ("app", "users") and first.layer == b""
    assert first.pack(("alice",)) == first.key() + found.pack(("alice",))
    assert first != Subspace(raw_prefix=first.key())  # a directory is more than its prefix
    assert len({first, again, opened}) == 1


async def test_a_single_string_is_a_one_element_path(db):
    made = await run(db, directory.create, "solo")
    assert made.path == ("solo",)
    assert await run(db, directory.exists, ("solo",))


async def test_parents_are_created_and_listed_in_tuple_order(db):
    for name in ["b", "a", "ab", "Z", "é"]:
        await run(db, directory.create_or_open, ("root", name, "leaf"))
    assert await run(db, directory.list) == ["root"]
    assert await run(db, directory.list, ("root",)) == ["Z", "a", "ab", "b", "é"]
    assert await run(db, directory.list, ("root", "a")) == ["leaf"]
    assert await run(db, directory.list, ("root", "a", "leaf")) == []
    assert await run(db, directory.exists, ("root", "ab", "leaf"))
    assert not await run(db, directory.exists, ("root", "c"))
    assert not await run(db, directory.exists, ("missing", "deep"))
    assert await run(db, directory.exists)  # the root


async def test_open_list_of_missing_directories_name_the_path(db):
    with pytest.raises(DirectoryNotFound) as caught:
        await run(db, directory.open, ("nope", "deeper"))
    assert caught.value.path == ("nope", "deeper")
    assert "nope" in str(caught.value)
    with pytest.raises(DirectoryNotFound):
        await run(db, directory.list, ("nope",))
    assert isinstance(caught.value, DirectoryError) and isinstance(caught.value, LayerError)


async def test_create_of_an_existing_directory_fails(db):
    await run(db, directory.create, ("x",))
    with pytest.raises(DirectoryExists) as caught:
        await run(db, directory.create, ("x",))
    assert caught.value.path == ("x",)


async def test_layer_tags_are_stored_and_checked(db):
    table = await run(db, directory.create_or_open, ("t",), layer=b"table")
    assert table.layer == b"table"
    assert (await run(db, directory.open, ("t",))).layer == b"table"  # b"" does not check
    assert (await run(db, directory.open, ("t",), layer=b"table")) == table
    with pytest.raises(DirectoryLayerMismatch) as caught:
        await run(db, directory.create_or_open, ("t",), layer=b"queue")
    assert (caught.value.expected, caught.value.stored) == (b"queue", b"table")
    assert caught.value.path == ("t",)


async def test_bad_paths_and_arguments_are_typed_errors(db):
    for bad in [b"bytes", ("ok", b"bytes"), ["list"], ("ok", 3), None]:
        with pytest.raises(InvalidType):
            await run(db, directory.create_or_open, bad)
    with pytest.raises(InvalidType):
        await run(db, directory.create_or_open, ("a",), layer="str")
    with pytest.raises(DirectoryPathError):
        await run(db, directory.create_or_open, ())
    with pytest.raises(DirectoryPathError):
        await run(db, directory.remove, ())
    assert await everything(db) == {}  # nothing was written


# --- manual prefixes ------------------------------------------------------------------


async def test_manual_prefixes_only_when_allowed_and_never_overlapping(db):
    with pytest.raises(DirectoryPrefixError):
        await run(db, directory.create, ("m",), prefix=b"manual")
    manual = DirectoryLayer(allow_manual_prefixes=True)
    made = await run(db, manual.create, ("m",), prefix=b"manual")
    assert made.key() == b"manual"
    for overlapping in [b"manual", b"man", b"manual\x00sub", b"\xfe\x01"]:
        with pytest.raises(DirectoryPrefixError):
            await run(db, manual.create, ("other",), prefix=overlapping)
    with pytest.raises(DirectoryPrefixError):
        await run(db, manual.create, ("empty",), prefix=b"")


async def test_allocator_refuses_a_prefix_taken_by_a_manual_directory(db):
    manual = DirectoryLayer(allow_manual_prefixes=True)

    async def occupy(tx):
        for candidate in range(64):  # the whole first window
            await manual.create(tx, (f"m{candidate}",), prefix=found.pack((candidate,)))

    await run(db, occupy)
    with pytest.raises(DirectoryPrefixError, match="manually prefixed"):
        await run(db, directory.create, ("auto",))


async def test_allocator_refuses_a_prefix_that_already_holds_keys(db):
    for candidate in range(64):  # squat on the whole first window
        await put(db, found.pack((candidate, "squatter")), b"")
    with pytest.raises(DirectoryPrefixError, match="has keys") as caught:
        await run(db, directory.create, ("victim",))
    assert caught.value.path == ("victim",)
    assert not await run(db, directory.exists, ("victim",))


# --- version --------------------------------------------------------------------------


async def test_version_is_written_on_the_first_write_only(db):
    assert not await run(db, directory.exists, ("a",))
    assert await run(db, directory.list) == []
    assert await everything(db) == {}
    await run(db, directory.remove_if_exists, ("a",))
    assert (await everything(db))[VERSION_KEY] == struct.pack("<III", 1, 0, 0)


async def test_newer_major_version_is_refused_and_newer_minor_is_read_only(db):
    await run(db, directory.create, ("a",))
    await put(db, VERSION_KEY, struct.pack("<III", 1, 1, 0))
    assert await run(db, directory.exists, ("a",))
    assert await run(db, directory.list) == ["a"]
    await run(db, directory.open, ("a",))
    with pytest.raises(DirectoryVersionError) as caught:
        await run(db, directory.create, ("b",))
    assert caught.value.version == (1, 1, 0)
    with pytest.raises(DirectoryVersionError):
        await run(db, directory.remove, ("a",))

    await put(db, VERSION_KEY, struct.pack("<III", 2, 0, 0))
    with pytest.raises(DirectoryVersionError) as caught:
        await run(db, directory.open, ("a",))
    assert "2.0.0" in str(caught.value)


# --- move -----------------------------------------------------------------------------


async def test_move_relinks_and_keeps_prefix_and_contents(db):
    users = await run(db, directory.create_or_open, ("app", "users"))
    await run(db, users.create_or_open, ("archive",))
    await put(db, users.pack(("alice",)), b"1")
    await run(db, directory.create_or_open, ("other",))

    moved = await run(db, directory.move, ("app", "users"), ("other", "people"))
    assert moved.path == ("other", "people") and moved.key() == users.key()
    assert await run(db, directory.list, ("app",)) == []
    assert await run(db, directory.list, ("other",)) == ["people"]
    assert (await run(db, directory.open, ("other", "people", "archive"))).path[-1] == "archive"
    assert (await everything(db))[moved.pack(("alice",))] == b"1"


async def test_move_errors(db):
    await run(db, directory.create_or_open, ("a", "b"))
    await run(db, directory.create_or_open, ("c",))
    with pytest.raises(DirectoryMoveError):
        await run(db, directory.move, ("a",), ("a", "b", "inside"))
    with pytest.raises(DirectoryMoveError):
        await run(db, directory.move, ("a",), ("a",))
    with pytest.raises(DirectoryExists) as caught:
        await run(db, directory.move, ("a",), ("c",))
    assert caught.value.path == ("c",)
    with pytest.raises(DirectoryNotFound) as caught:
        await run(db, directory.move, ("a",), ("missing", "x"))
    assert caught.value.path == ("missing",)
    with pytest.raises(DirectoryNotFound):
        await run(db, directory.move, ("ghost",), ("x",))


async def test_move_to_and_relative_operations_on_an_opened_directory(db):
    app = await run(db, directory.create_or_open, ("app",))
    child = await run(db, app.create_or_open, "child")
    assert child.path == ("app", "child")
    assert await run(db, app.list) == ["child"]
    assert await run(db, app.exists, "child") and await run(db, app.exists)
    renamed = await run(db, app.move, "child", "kid")
    assert renamed.path == ("app", "kid") and renamed.key() == child.key()
    top = await run(db, renamed.move_to, ("kid",))
    assert top.path == ("kid",) and await run(db, directory.list) == ["app", "kid"]
    assert await run(db, app.remove_if_exists, "nothing") is False
    await run(db, app.remove)
    assert not await run(db, app.exists)


# --- remove ---------------------------------------------------------------------------


async def test_remove_clears_contents_subdirectories_and_metadata(db):
    keep = await run(db, directory.create_or_open, ("keep",))
    await put(db, keep.pack(("k",)), b"kept")
    gone = await run(db, directory.create_or_open, ("gone",))
    sub = await run(db, gone.create_or_open, ("sub", "deep"))
    for folder in (gone, sub):
        await put(db, folder.pack(("x",)), b"doomed")
    before = await everything(db)

    await run(db, directory.remove, ("gone",))
    after = await everything(db)
    assert not await run(db, directory.exists, ("gone",))
    assert await run(db, directory.list) == ["keep"]
    assert after[keep.pack(("k",))] == b"kept"
    assert not any(gone.contains(k) or sub.contains(k) for k in after)
    removed_nodes = [k for k in before if k not in after and k.startswith(b"\xfe")]
    assert len(removed_nodes) == 6  # link + layer for gone, sub and deep
    with pytest.raises(DirectoryNotFound):
        await run(db, directory.remove, ("gone",))
    assert await run(db, directory.remove_if_exists, ("gone",)) is False
    assert await run(db, directory.remove_if_exists, ("keep",)) is True


# --- partitions -----------------------------------------------------------------------


async def test_partition_allocates_inside_its_prefix_and_refuses_subspace_use(db):
    part = await run(db, directory.create_or_open, ("tenant",), layer=b"partition")
    assert isinstance(part, DirectoryPartition) and part.layer == b"partition"
    inner = await run(db, part.create_or_open, ("users",))
    deep = await run(db, directory.create_or_open, ("tenant", "users", "x"))
    assert inner.path == ("tenant", "users") and deep.path == ("tenant", "users", "x")
    stored = await everything(db)
    part_prefix = stored[ROOT + b"\x14\x02tenant\x00"]
    assert inner.key().startswith(part_prefix) and deep.key().startswith(part_prefix)
    inner_root = part_prefix + b"\xfe" + found.pack((part_prefix + b"\xfe",))
    assert stored[inner_root + b"\x01version\x00"] == struct.pack("<III", 1, 0, 0)
    assert await run(db, directory.list, ("tenant",)) == ["users"]
    assert await run(db, part.list) == ["users"]
    assert await run(db, directory.exists, ("tenant", "users", "x"))
    for use in [
        part.key,
        part.pack,
        lambda: part.range(),
        lambda: part.contains(b"k"),
        lambda: part[1],
        lambda: part.subspace(("s",)),
        lambda: part.raw_prefix,
        lambda: part.unpack(b"k"),
    ]:
        with pytest.raises(DirectoryPartitionError):
            use()


async def test_partition_moves_stay_inside_and_removal_clears_it(db):
    part = await run(db, directory.create_or_open, ("p",), layer=b"partition")
    await run(db, directory.create_or_open, ("p", "a"))
    await run(db, directory.create_or_open, ("p", "b"))
    await run(db, directory.create_or_open, ("outside",))
    moved = await run(db, directory.move, ("p", "a"), ("p", "b", "a2"))
    assert moved.path == ("p", "b", "a2")
    assert await run(db, directory.list, ("p", "b")) == ["a2"]
    across = [(("p", "b"), ("outside", "b")), (("outside",), ("p", "o")), (("p", "b"), ("p",))]
    for old, new in across:
        with pytest.raises(DirectoryMoveError):
            await run(db, directory.move, old, new)
    with pytest.raises(DirectoryMoveError):
        await run(db, moved.move_to, ("elsewhere",))
    with pytest.raises(DirectoryPrefixError):
        await run(db, DirectoryLayer(allow_manual_prefixes=True).create, ("p", "m"), prefix=b"m")
    renamed = await run(db, part.move_to, ("q",))  # the partition itself moves in its parent
    assert isinstance(renamed, DirectoryPartition)
    assert await run(db, directory.list, ("q", "b")) == ["a2"]

    await run(db, renamed.remove)
    assert await run(db, directory.list) == ["outside"]
    outside = await run(db, directory.open, ("outside",))
    for key in await everything(db):
        assert key.startswith(b"\xfe") or outside.contains(key)


# --- retries and concurrency ----------------------------------------------------------


async def test_a_retried_transaction_creates_the_directory_once(db):
    attempts = []

    async def flaky(tx):
        made = await directory.create_or_open(tx, ("once",))
        attempts.append(made.key())
        if len(attempts) == 1:
            raise NotCommitted()
        return made

    made = await run(db, flaky)
    assert len(attempts) == 2
    assert await run(db, directory.list) == ["once"]
    assert (await run(db, directory.open, ("once",))).key() == made.key()
    counters = [k for k in await everything(db) if k.startswith(ROOT + b"\x01hca\x00\x14")]
    assert len(counters) == 1


@pytest.fixture
def suspending_reads(monkeypatch):
    """Every read yields to the event loop before its result arrives, as against a cluster.

    The embedded engine answers from memory without suspending, so without this the
    tasks below would run one after the other and never interleave.
    """
    get, query = found.get, found.query

    async def slow_get(tx, key):
        value = await get(tx, key)  # read now, deliver after other tasks ran
        await asyncio.sleep(0)
        return value

    async def slow_query(tx, begin, end, **options):
        rows = [row async for row in query(tx, begin, end, **options)]
        await asyncio.sleep(0)
        for row in rows:
            yield row

    monkeypatch.setattr(found, "get", slow_get)
    monkeypatch.setattr(found, "query", slow_query)


async def test_concurrent_transactions_allocate_unique_prefixes(db, fdb_db, suspending_reads):
    attempts = []

    async def make(tx, name):
        attempts.append(name)
        return await directory.create_or_open(tx, (name,))

    names = [f"d{i}" for i in range(100)]  # more than the first windows hold
    made = await asyncio.gather(*(run(db, make, n) for n in names))
    assert len(attempts) > len(names)  # they did conflict, and retried
    assert len({d.key() for d in made}) == len(names)
    assert sorted(fdb.directory.list(fdb_db)) == sorted(names)
    for folder in made:
        assert fdb.directory.open(fdb_db, folder.path).key() == folder.key()


async def test_tasks_sharing_one_transaction_allocate_unique_prefixes(db, suspending_reads):
    async def many(tx):
        return await asyncio.gather(*(directory.create_or_open(tx, (f"t{i}",)) for i in range(40)))

    made = await run(db, many)
    assert len({d.key() for d in made}) == 40
    assert len(await run(db, directory.list)) == 40


async def test_found_and_fdb_allocate_side_by_side_without_collisions(db, fdb_db, suspending_reads):
    def fdb_side():
        return [fdb.directory.create_or_open(fdb_db, (f"fdb{i}",)).key() for i in range(40)]

    theirs, *ours = await asyncio.gather(
        asyncio.to_thread(fdb_side),
        *(run(db, directory.create_or_open, (f"found{i}",)) for i in range(40)),
    )
    prefixes = theirs + [d.key() for d in ours]
    assert len(set(prefixes)) == 80
    assert len(await run(db, directory.list)) == 80


# --- interoperability with fdb.directory ----------------------------------------------


async def test_found_directories_open_in_fdb_with_the_same_prefixes(db, fdb_db):
    users = await run(db, directory.create_or_open, ("app", "users"), layer=b"table")
    part = await run(db, directory.create_or_open, ("tenant",), layer=b"partition")
    inner = await run(db, part.create_or_open, ("orders",))

    theirs = fdb.directory.open(fdb_db, ("app", "users"))
    assert theirs.key() == users.key() and theirs.get_layer() == b"table"
    assert fdb.directory.list(fdb_db) == ["app", "tenant"]
    assert fdb.directory.list(fdb_db, ("tenant",)) == ["orders"]
    assert fdb.directory.open(fdb_db, ("tenant", "orders")).key() == inner.key()
    with pytest.raises(ValueError, match="incompatible layer"):
        fdb.directory.open(fdb_db, ("app", "users"), layer=b"other")
    # fdb keeps allocating where found left off
    more = fdb.directory.create(fdb_db, ("app", "more"))
    assert more.key() not in {users.key(), inner.key()}


async def test_fdb_directories_open_in_found_with_the_same_prefixes(db, fdb_db):
    logs = fdb.directory.create_or_open(fdb_db, ("srv", "logs"), layer=b"log")
    part = fdb.directory.create(fdb_db, ("p",), layer=b"partition")
    inner = part.create_or_open(fdb_db, ("x", "y"))
    fdb.directory.move(fdb_db, ("srv", "logs"), ("logs",))

    ours = await run(db, directory.open, ("logs",))
    assert ours.key() == logs.key() and ours.layer == b"log"
    assert await run(db, directory.list) == ["logs", "p", "srv"]
    assert (await run(db, directory.open, ("p", "x", "y"))).key() == inner.key()
    assert isinstance(await run(db, directory.open, ("p",)), DirectoryPartition)
    await run(db, directory.remove, ("p", "x"))
    assert fdb.directory.list(fdb_db, ("p",)) == []


async def test_a_custom_layer_matches_fdb_on_the_same_subspaces(db, fdb_db):
    ours = DirectoryLayer(Subspace(raw_prefix=b"\x02meta"), Subspace(raw_prefix=b"\x02data"))
    theirs = fdb.DirectoryLayer(
        fdb.Subspace(rawPrefix=b"\x02meta"), fdb.Subspace(rawPrefix=b"\x02data")
    )
    made = await run(db, ours.create_or_open, ("x", "y"))
    assert made.key().startswith(b"\x02data")
    assert theirs.open(fdb_db, ("x", "y")).key() == made.key()
    other = theirs.create(fdb_db, ("z",))
    assert (await run(db, ours.open, "z")).key() == other.key()
    assert await run(db, ours.list) == ["x", "z"]
    assert await run(db, directory.list) == []  # the default layer is elsewhere
    assert all(k.startswith(b"\x02") for k in await everything(db))


NAMES = ("a", "b", "c")
LAYERS = (b"", b"", b"", b"tag", b"partition")


def random_path(rng: random.Random, existing: list[tuple[str, ...]] = ()) -> tuple[str, ...]:
    """Mostly an existing directory or a path next to one; sometimes the root."""
    if existing and rng.random() < 0.6:
        path = rng.choice(existing)
        return path + (rng.choice(NAMES),) if rng.random() < 0.3 else path
    length = rng.choices([0, 1, 2, 3], weights=[1, 4, 4, 2])[0]
    return tuple(rng.choice(NAMES) for _ in range(length))


def error_kind(error: BaseException) -> str:
    """The outcome of a failed call, the same word for both clients."""
    if isinstance(error, DirectoryError):
        return {
            DirectoryExists: "exists",
            DirectoryNotFound: "missing",
            DirectoryLayerMismatch: "layer",
            DirectoryMoveError: "move",
            DirectoryPathError: "root",
        }[type(error)]
    message = str(error)
    for words, kind in [
        ("already exists", "exists"),
        ("does not exist", "missing"),
        ("incompatible layer", "layer"),
        ("subdirectory of the source", "move"),
        ("between partitions", "move"),
        ("root directory cannot", "root"),
    ]:
        if words in message:
            return kind
    raise error


def describe_fdb(opened) -> str:
    return "partition" if opened.get_layer() == b"partition" else "directory"


def describe_found(opened: DirectorySubspace) -> str:
    return "partition" if isinstance(opened, DirectoryPartition) else "directory"


def apply_fdb(tr, op: tuple) -> object:
    """Runs ``op`` with fdb.directory; returns its result or the kind of its error."""
    name, *args = op
    try:
        if name in ("create_or_open", "create", "open"):
            return describe_fdb(getattr(fdb.directory, name)(tr, args[0], layer=args[1]))
        if name == "move":
            return describe_fdb(fdb.directory.move(tr, args[0], args[1]))
        if name == "remove":
            fdb.directory.remove(tr, args[0])  # returns True; found's returns None
            return None
        return getattr(fdb.directory, name)(tr, args[0])
    except ValueError as error:  # fdb raises ValueError for every directory misuse
        return error_kind(error)


async def apply_found(tx, op: tuple) -> object:
    """Runs ``op`` with found.directory; returns its result or the kind of its error."""
    name, *args = op
    try:
        if name in ("create_or_open", "create", "open"):
            return describe_found(await getattr(directory, name)(tx, args[0], layer=args[1]))
        if name == "move":
            return describe_found(await directory.move(tx, args[0], args[1]))
        return await getattr(directory, name)(tx, args[0])
    except DirectoryError as error:
        return error_kind(error)


async def tree_by_found(db) -> dict[tuple[str, ...], tuple[bytes, bytes]]:
    async def walk(tx):
        tree = {}
        pending = [()]
        while pending:
            path = pending.pop()
            for name in await directory.list(tx, path):
                child = await directory.open(tx, path + (name,))
                tree[child.path] = (child._raw_prefix, child.layer)
                pending.append(child.path)
        return tree

    return await run(db, walk)


def tree_by_fdb(fdb_db) -> dict[tuple[str, ...], tuple[bytes, bytes]]:
    tree = {}
    pending = [()]
    while pending:
        path = pending.pop()
        for name in fdb.directory.list(fdb_db, path):
            child = fdb.directory.open(fdb_db, path + (name,))
            tree[tuple(child.get_path())] = (child.rawPrefix, child.get_layer())
            pending.append(tuple(child.get_path()))
    return tree


@pytest.mark.parametrize("seed", range(8))
async def test_random_operations_through_both_clients_agree(db, fdb_db, seed):
    rng = random.Random(seed)
    ops = ("create_or_open", "create", "open", "move", "remove", "remove_if_exists", "list")
    existing: list[tuple[str, ...]] = []
    for step in range(100):
        name = rng.choice(ops + ("exists", "move"))
        if name == "move":
            parent = rng.choice(existing + [()])  # a destination whose parent exists
            destination = parent + (rng.choice(NAMES),)
            if rng.random() < 0.3:
                destination = random_path(rng, existing)
            op = (name, random_path(rng, existing), destination)
        elif name in ("create_or_open", "create", "open"):
            op = (name, random_path(rng, existing), rng.choice(LAYERS))
        else:
            op = (name, random_path(rng, existing))

        # Dry run in one client (never committed), then the real run in the other: the
        # outcomes must agree; then both must see the same tree with the same prefixes.
        by_fdb = step % 2 == 0
        if by_fdb:
            tx = found.create_transaction(db)
            expected = await apply_found(tx, op)
            tx.close()
            actual = fdb.transactional(apply_fdb)(fdb_db, op)
        else:
            expected = apply_fdb(fdb_db.create_transaction(), op)
            actual = await run(db, apply_found, op)
        assert actual == expected, (seed, step, op)

        ours, theirs = await tree_by_found(db), tree_by_fdb(fdb_db)
        assert ours == theirs, (seed, step, op)
        existing = sorted(ours)
        probe = random_path(rng, existing)
        assert await run(db, directory.exists, probe) == fdb.directory.exists(fdb_db, probe)

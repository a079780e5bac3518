"""Subspace: same keys, ranges and tuples as fdb.subspace_impl.Subspace."""

from __future__ import annotations

import types
import uuid

import fdb
import pytest

from found.errors import InvalidArgument, InvalidType, TupleError
from found.subspace import Subspace
from found.tuple import Versionstamp

if not hasattr(fdb, "impl"):
    # fdb.tuple.Versionstamp.to_bytes looks up fdb.impl.Value, which only exists once
    # libfdb_c is loaded; nothing in these tests is such a Value.
    fdb.impl = types.SimpleNamespace(Value=type("Value", (), {}))

import fdb.subspace_impl as fdb_subspace  # noqa: E402  (needs the stand-in above)
import fdb.tuple as fdb_tuple  # noqa: E402

PREFIXES = [
    ((), b""),
    (("app",), b""),
    ((), b"\xfe"),
    (("users", 7, None), b"\x15\x05"),
    ((uuid.UUID(int=3), (1, b"\x00")), b"raw\x00"),
]
ITEMS = [(), ("alice",), (1, 2.5, None), (b"\x00\xff", ("nested", None)), (True, -(2**70))]


def stamp_for_fdb(items: tuple) -> tuple:
    return tuple(
        fdb_tuple.Versionstamp(v.tr_version, v.user_version) if isinstance(v, Versionstamp) else v
        for v in items
    )


@pytest.mark.parametrize(("prefix_tuple", "raw_prefix"), PREFIXES)
def test_keys_match_fdb(prefix_tuple: tuple, raw_prefix: bytes) -> None:
    ours = Subspace(prefix_tuple, raw_prefix)
    theirs = fdb_subspace.Subspace(prefix_tuple, raw_prefix)
    assert ours.key() == ours.raw_prefix == theirs.key()
    assert ours.as_foundationdb_key() == theirs.as_foundationdb_key()
    for items in ITEMS:
        assert ours.pack(items) == theirs.pack(items)
        expected = theirs.range(items)
        assert ours.range(items) == (expected.start, expected.stop)
        assert ours.subspace(items).key() == theirs.subspace(items).key()
        assert ours.unpack(theirs.pack(items)) == theirs.unpack(theirs.pack(items))
    assert ours["child"].key() == theirs["child"].key()
    assert ours[5][b"x"].pack(("leaf",)) == theirs[5][b"x"].pack(("leaf",))
    assert ours.pack() == theirs.pack()
    default = theirs.range()
    assert ours.range() == (default.start, default.stop)


@pytest.mark.parametrize(("prefix_tuple", "raw_prefix"), PREFIXES)
def test_pack_with_versionstamp_matches_fdb(prefix_tuple: tuple, raw_prefix: bytes) -> None:
    ours = Subspace(prefix_tuple, raw_prefix)
    theirs = fdb_subspace.Subspace(prefix_tuple, raw_prefix)
    items = ("event", Versionstamp(user_version=3), 9)
    assert ours.pack_with_versionstamp(items) == theirs.pack_with_versionstamp(stamp_for_fdb(items))


def test_contains_and_range_bounds() -> None:
    users = Subspace(("users",))
    alice = users.pack(("alice",))
    assert users.contains(alice)
    assert users.contains(users.key())
    assert not users.contains(Subspace(("user",)).pack(("alice",)))
    begin, end = users.range()
    assert begin <= alice < end
    assert not begin <= users.key() < end  # the prefix itself is outside its range
    with pytest.raises(InvalidType):
        users.contains("users")  # type: ignore[arg-type]


def test_unpack_outside_the_subspace_is_refused() -> None:
    users = Subspace(("users",))
    with pytest.raises(InvalidArgument, match="is outside Subspace"):
        users.unpack(Subspace(("groups",)).pack(("admins",)))
    with pytest.raises(ValueError):  # what fdb raises, so existing except clauses still work
        users.unpack(b"")
    with pytest.raises(TupleError):  # inside, but not a packed tuple
        users.unpack(users.key() + b"\xff")


def test_equality_hash_and_repr() -> None:
    assert Subspace(("a",)) == Subspace(raw_prefix=b"\x02a\x00")
    assert Subspace(("a",)) != Subspace(("b",))
    assert Subspace(("a",)) != b"\x02a\x00"
    assert len({Subspace(("a",)), Subspace(("a",))["x"].subspace(()), Subspace(("a", "x"))}) == 2
    assert repr(Subspace(("a",), b"\xfe")) == "Subspace(raw_prefix=b'\\xfe\\x02a\\x00')"
    assert eval(repr(Subspace(("a",))), {"Subspace": Subspace}) == Subspace(("a",))


def test_bad_prefixes_are_refused() -> None:
    with pytest.raises(InvalidType):
        Subspace((), "raw")  # type: ignore[arg-type]
    with pytest.raises(TupleError):
        Subspace((set(),))
    with pytest.raises(TupleError):
        Subspace((Versionstamp(),))

"""Tuple layer: byte-identical to fdb.tuple, same ordering, strict on hostile bytes.

Every codec test runs against both implementations (the pure-Python reference and the
native ``found._tuple_codec``); the native one is skipped only when it is not built.
Randomized tests use a fresh seed per run, printed in failure messages; set
FOUND_TEST_SEED to replay one.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import math
import os
import random
import re
import struct
import sys
import tracemalloc
import types
import uuid

import fdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import found.tuple as ftuple
from found.errors import InvalidArgument, InvalidType, TupleError
from found.tuple import NATIVE_CODEC, PYTHON_CODEC, Codec, SingleFloat, Versionstamp

if not hasattr(fdb, "impl"):
    # fdb.tuple.Versionstamp.to_bytes looks up fdb.impl.Value, which only exists once
    # libfdb_c is loaded; nothing in these tests is such a Value.
    fdb.impl = types.SimpleNamespace(Value=type("Value", (), {}))

import fdb.tuple as fdb_tuple  # noqa: E402  (needs the stand-in above)

SEED = int(os.environ.get("FOUND_TEST_SEED", random.randrange(2**32)))

CODECS = [
    pytest.param(PYTHON_CODEC, id="python"),
    pytest.param(
        NATIVE_CODEC,
        id="native",
        marks=pytest.mark.skipif(NATIVE_CODEC is None, reason="found._tuple_codec is not built"),
    ),
]


@pytest.fixture(params=CODECS)
def codec(request: pytest.FixtureRequest) -> Codec:
    return request.param


def both_codecs() -> list[Codec]:
    return [c for c in (PYTHON_CODEC, NATIVE_CODEC) if c is not None]


# --- translating values between found and fdb, and comparing them exactly ------------


def to_fdb(value: object) -> object:
    """The same value expressed with fdb.tuple's wrapper classes."""
    if isinstance(value, SingleFloat):
        return fdb_tuple.SingleFloat(value.value)
    if isinstance(value, Versionstamp):
        return fdb_tuple.Versionstamp(value.tr_version, value.user_version)
    if isinstance(value, tuple):
        return tuple(to_fdb(v) for v in value)
    if isinstance(value, list):
        return [to_fdb(v) for v in value]
    return value


def canonical(value: object) -> object:
    """A form where equal means identical: exact types, float bits, lists as tuples."""
    if value is None:
        return ("none",)
    if isinstance(value, (SingleFloat, fdb_tuple.SingleFloat)):
        return ("single", struct.pack(">f", value.value))
    if isinstance(value, (Versionstamp, fdb_tuple.Versionstamp)):
        return ("stamp", value.tr_version, value.user_version)
    if isinstance(value, (tuple, list)):
        return ("tuple", tuple(canonical(v) for v in value))
    if isinstance(value, float):
        return ("double", struct.pack(">d", value))
    if isinstance(value, uuid.UUID):
        return ("uuid", type(value), value.bytes)
    return (type(value).__name__, value)


def decoded_canonical(value: object) -> object:
    """canonical(), but also insists on the exact types a decoder must return."""
    assert type(value) in (
        type(None),
        bytes,
        str,
        int,
        bool,
        float,
        tuple,
        uuid.UUID,
        SingleFloat,
        Versionstamp,
    ), type(value)
    if type(value) is tuple:
        return ("tuple", tuple(decoded_canonical(v) for v in value))
    return canonical(value)


# --- random values -------------------------------------------------------------------

INTERESTING_BYTES = [0x00, 0xFF, 0x01, 0xFE, 0x02, 0x05, 0x14, 0x7F, 0x80]


def random_bytes(rng: random.Random, max_length: int = 16) -> bytes:
    length = rng.randint(0, max_length)
    return bytes(
        rng.choice(INTERESTING_BYTES) if rng.random() < 0.4 else rng.randrange(256)
        for _ in range(length)
    )


def random_text(rng: random.Random) -> str:
    chars = []
    for _ in range(rng.randint(0, 12)):
        kind = rng.random()
        if kind < 0.5:
            chars.append(chr(rng.randrange(0x20, 0x7F)))
        elif kind < 0.6:
            chars.append("\x00")
        elif kind < 0.75:
            chars.append(chr(rng.randrange(0x80, 0x800)))
        elif kind < 0.9:
            point = rng.randrange(0x800, 0x10000)
            chars.append(chr(point if not 0xD800 <= point < 0xE000 else 0xE000))
        else:
            chars.append(chr(rng.randrange(0x10000, 0x110000)))
    return "".join(chars)


def random_int(rng: random.Random) -> int:
    kind = rng.random()
    sign = rng.choice((1, -1))
    if kind < 0.3:
        return rng.randint(-300, 300)
    if kind < 0.6:  # around every byte-length boundary, including 2**64 - 1
        return sign * ((1 << (8 * rng.randint(0, 10))) + rng.randint(-2, 2))
    if kind < 0.9:
        return sign * rng.getrandbits(rng.randint(1, 64))
    return sign * rng.getrandbits(rng.randint(65, 255 * 8))


SPECIAL_DOUBLES = [
    0.0,
    -0.0,
    math.inf,
    -math.inf,
    math.nan,
    -math.nan,
    5e-324,
    -5e-324,
    sys.float_info.max,
    -sys.float_info.max,
    sys.float_info.min,
    1.0,
    -1.0,
]


def random_double(rng: random.Random) -> float:
    kind = rng.random()
    if kind < 0.3:
        return rng.choice(SPECIAL_DOUBLES)
    if kind < 0.6:  # any bit pattern: NaN payloads, subnormals, both signs
        return struct.unpack(">d", rng.getrandbits(64).to_bytes(8, "big"))[0]
    return rng.uniform(-1e6, 1e6)


def random_single(rng: random.Random) -> SingleFloat:
    if rng.random() < 0.5:
        return SingleFloat(struct.unpack(">f", rng.getrandbits(32).to_bytes(4, "big"))[0])
    return SingleFloat(random_double(rng))


def random_versionstamp(rng: random.Random) -> Versionstamp:
    tr_version = rng.getrandbits(80).to_bytes(10, "big")
    if tr_version == b"\xff" * 10:
        tr_version = b"\x00" * 10
    return Versionstamp(tr_version, rng.randrange(65536))


def random_value(rng: random.Random, depth: int = 0) -> object:
    kind = rng.randrange(12 if depth < 3 else 10)
    if kind == 0:
        return None
    if kind == 1:
        return random_bytes(rng)
    if kind == 2:
        return random_text(rng)
    if kind in (3, 4):
        return random_int(rng)
    if kind == 5:
        return random_double(rng)
    if kind == 6:
        return rng.random() < 0.5
    if kind == 7:
        return uuid.UUID(int=rng.getrandbits(128))
    if kind == 8:
        return random_single(rng)
    if kind == 9:
        return random_versionstamp(rng)
    items = [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return tuple(items) if kind == 10 else items


def random_tuple(rng: random.Random) -> tuple:
    return tuple(random_value(rng) for _ in range(rng.randint(0, 5)))


def count_elements(value: object) -> int:
    if isinstance(value, (tuple, list)):
        return 1 + sum(count_elements(v) for v in value)
    return 1


class Corpus:
    """Random tuples (≥ 100k elements in all) with what fdb.tuple makes of them."""

    def __init__(self, seed: int, min_elements: int) -> None:
        rng = random.Random(seed)
        self.tuples: list[tuple] = []
        self.packed: list[bytes] = []
        self.unpacked: list[object] = []
        elements = 0
        while elements < min_elements:
            items = random_tuple(rng)
            elements += max(count_elements(items) - 1, 1)
            packed = fdb_tuple.pack(to_fdb(items))
            self.tuples.append(items)
            self.packed.append(packed)
            self.unpacked.append(canonical(fdb_tuple.unpack(packed)))


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return Corpus(SEED, 100_000)


# --- byte compatibility with fdb.tuple -------------------------------------------------


def test_random_tuples_pack_to_fdb_bytes_and_round_trip(codec: Codec, corpus: Corpus) -> None:
    for items, expected, fdb_unpacked in zip(
        corpus.tuples, corpus.packed, corpus.unpacked, strict=True
    ):
        packed = codec.pack(items)
        assert packed == expected, f"seed {SEED}: {items!r}"
        decoded = codec.unpack(packed)
        assert decoded_canonical(decoded) == fdb_unpacked, f"seed {SEED}: {items!r}"
        assert decoded_canonical(decoded) == canonical(items), f"seed {SEED}: {items!r}"


VALUES = st.recursive(
    st.none()
    | st.binary(max_size=24)
    | st.text(max_size=24)
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.integers(min_value=-(2 ** (255 * 8)) + 1, max_value=2 ** (255 * 8) - 1)
    | st.floats()
    | st.booleans()
    | st.uuids()
    | st.builds(SingleFloat, st.floats(width=32))
    | st.builds(Versionstamp, st.binary(min_size=10, max_size=10), st.integers(0, 65535)),
    lambda children: st.lists(children, max_size=4) | st.lists(children, max_size=4).map(tuple),
    max_leaves=12,
)
TUPLES = st.lists(VALUES, max_size=6).map(tuple)


@settings(max_examples=300, deadline=None)
@given(items=TUPLES)
def test_hypothesis_tuples_match_fdb(items: tuple) -> None:
    if any(isinstance(v, Versionstamp) and v.tr_version == b"\xff" * 10 for v in _flatten(items)):
        return  # complete-but-all-0xFF stamps decode as incomplete, in fdb.tuple too
    expected = fdb_tuple.pack(to_fdb(items))
    for codec in both_codecs():
        assert codec.pack(items) == expected
        assert decoded_canonical(codec.unpack(expected)) == canonical(items)


def _flatten(items: object) -> list:
    if isinstance(items, (tuple, list)):
        return [leaf for value in items for leaf in _flatten(value)]
    return [items]


GOLDEN = [
    ((), b""),
    ((None,), b"\x00"),
    ((b"",), b"\x01\x00"),
    (("",), b"\x02\x00"),
    ((b"a\x00b",), b"\x01a\x00\xffb\x00"),
    (("\x00",), b"\x02\x00\xff\x00"),
    ((0,), b"\x14"),
    ((1,), b"\x15\x01"),
    ((-1,), b"\x13\xfe"),
    ((255,), b"\x15\xff"),
    ((256,), b"\x16\x01\x00"),
    ((-256,), b"\x12\xfe\xff"),
    ((2**64 - 2,), b"\x1c" + b"\xff" * 7 + b"\xfe"),
    ((2**64 - 1,), b"\x1d\x08" + b"\xff" * 8),
    ((2**64,), b"\x1d\x09\x01" + b"\x00" * 8),
    ((-(2**64 - 2),), b"\x0c" + b"\x00" * 7 + b"\x01"),
    ((-(2**64 - 1),), b"\x0b\xf7" + b"\x00" * 8),
    ((-(2**64),), b"\x0b\xf6\xfe" + b"\xff" * 8),
    ((True,), b"\x27"),
    ((False,), b"\x26"),
    ((0.0,), b"\x21\x80" + b"\x00" * 7),
    ((-0.0,), b"\x21\x7f" + b"\xff" * 7),
    ((1.0,), b"\x21\xbf\xf0" + b"\x00" * 6),
    ((SingleFloat(0.0),), b"\x20\x80\x00\x00\x00"),
    ((SingleFloat(-0.0),), b"\x20\x7f\xff\xff\xff"),
    (((None,),), b"\x05\x00\xff\x00"),
    (((None, None), None), b"\x05\x00\xff\x00\xff\x00\x00"),
    (((),), b"\x05\x00"),
    (([1, [None]],), b"\x05\x15\x01\x05\x00\xff\x00\x00"),
    ((uuid.UUID(int=1),), b"\x30" + b"\x00" * 15 + b"\x01"),
    ((Versionstamp(b"\x01" * 10, 0x0203),), b"\x33" + b"\x01" * 10 + b"\x02\x03"),
    (("app", 1, b"x"), b"\x02app\x00\x15\x01\x01x\x00"),
]


@pytest.mark.parametrize(("items", "expected"), GOLDEN, ids=[repr(g[0]) for g in GOLDEN])
def test_golden_bytes(codec: Codec, items: tuple, expected: bytes) -> None:
    assert codec.pack(items) == expected
    assert fdb_tuple.pack(to_fdb(items)) == expected
    assert decoded_canonical(codec.unpack(expected)) == canonical(items)


def test_edge_values_keep_their_identity(codec: Codec) -> None:
    nan = struct.unpack(">d", b"\x7f\xf8\x00\x00\x00\x00\x12\x34")[0]
    negative_nan = struct.unpack(">d", b"\xff\xf0\x00\x00\x00\x00\x00\x01")[0]
    items = (True, 1, 1.0, False, 0, -0.0, 0.0, nan, negative_nan, "é", "e\u0301", b"x", "x")
    decoded = codec.unpack(codec.pack(items))
    assert [type(v) for v in decoded] == [type(v) for v in items]
    assert canonical(decoded) == canonical(items)  # NaN payloads and the sign of zero survive
    assert len(set(codec.pack((v,)) for v in items)) == len(items)


def test_huge_integers_up_to_255_bytes(codec: Codec) -> None:
    for magnitude in (2 ** (255 * 8) - 1, 2 ** (254 * 8), 2**64, 2**64 - 1):
        for value in (magnitude, -magnitude):
            packed = codec.pack((value,))
            assert packed == fdb_tuple.pack((value,))
            assert codec.unpack(packed) == (value,)


def test_integer_over_255_bytes_is_refused(codec: Codec) -> None:
    for value in (2 ** (255 * 8), -(2 ** (255 * 8))):
        with pytest.raises(TupleError, match="integer needs 256 bytes; the tuple layer's limit"):
            codec.pack((value,))


def test_non_canonical_integers_decode_like_fdb(codec: Codec) -> None:
    for data in (b"\x16\x00\x05", b"\x1d\x00", b"\x1d\x01\x07", b"\x0b\xff", b"\x12\xff\xff"):
        assert codec.unpack(data) == fdb_tuple.unpack(data)


def test_subclasses_pack_like_their_base_types(codec: Codec) -> None:
    import enum
    from collections import namedtuple

    class Color(enum.IntEnum):
        RED = 7

    class Name(str):
        pass

    class Blob(bytes):
        pass

    class Ratio(float):
        pass

    point = namedtuple("point", "x y")
    items = (Color.RED, Name("n\x00"), Blob(b"b\x00"), Ratio(0.5), point(1, None))
    assert codec.pack(items) == fdb_tuple.pack(items)
    assert codec.pack(items) == codec.pack((7, "n\x00", b"b\x00", 0.5, (1, None)))


def test_ctypes_floats_pack_like_fdb(codec: Codec) -> None:
    items = (ctypes.c_float(1.25), ctypes.c_double(-2.5), ctypes.c_float(1e300))
    assert codec.pack(items) == fdb_tuple.pack(items)


def test_prefix_and_prefix_len(codec: Codec) -> None:
    packed = codec.pack(("a", 1), prefix=b"\xfe\x01")
    assert packed == fdb_tuple.pack(("a", 1), prefix=b"\xfe\x01")
    assert codec.unpack(packed, prefix_len=2) == ("a", 1)
    assert codec.unpack(packed, 2) == ("a", 1)
    assert codec.unpack(bytearray(packed), 2) == ("a", 1)
    assert codec.unpack(memoryview(packed)[2:]) == ("a", 1)


def test_deep_nesting_up_to_the_limit(codec: Codec) -> None:
    depth = ftuple.MAX_NESTING
    value: object = None
    for _ in range(depth):
        value = (value,)
    packed = codec.pack((value,))
    assert packed == b"\x05" * depth + b"\x00\xff" + b"\x00" * depth
    assert codec.unpack(packed) == (value,)
    with pytest.raises(TupleError, match=f"nested deeper than {depth} levels"):
        codec.pack(((value,),))
    with pytest.raises(TupleError, match=f"nested deeper than {depth} levels") as error:
        codec.unpack(b"\x05" * (depth + 1) + b"\x00" * (depth + 1))
    assert error.value.offset == depth


def test_cyclic_list_is_refused(codec: Codec) -> None:
    cycle: list = []
    cycle.append(cycle)
    with pytest.raises(TupleError, match="nested deeper"):
        codec.pack((cycle,))


# --- ordering ---------------------------------------------------------------------------


def sign(number: int) -> int:
    return (number > 0) - (number < 0)


def narrow_value(rng: random.Random, depth: int = 0) -> object:
    """Values from small pools, so random pairs often share prefixes and tie."""
    pools = [
        [None],
        [b"", b"\x00", b"\x00\xff", b"\x01", b"a", b"a\x00"],
        ["", "\x00", "a", "a\x00", "é", "\U0001f600"],
        [-(2**64), -(2**64 - 1), -256, -255, -1, 0, 1, 255, 256, 2**64 - 1, 2**64],
        [-math.inf, -1.0, -0.0, 0.0, 1.0, math.inf, math.nan, -math.nan],
        [False, True],
        [uuid.UUID(int=0), uuid.UUID(int=1), uuid.UUID(int=2**127)],
        [SingleFloat(-1.0), SingleFloat(-0.0), SingleFloat(0.0), SingleFloat(math.nan)],
        [Versionstamp(b"\x00" * 10, 1), Versionstamp(b"\x00" * 10, 2), Versionstamp(b"\x01" * 10)],
    ]
    if depth < 2 and rng.random() < 0.15:
        return tuple(narrow_value(rng, depth + 1) for _ in range(rng.randint(0, 3)))
    return rng.choice(rng.choice(pools))


def test_packed_bytes_sort_like_fdb_compare(codec: Codec, corpus: Corpus) -> None:
    rng = random.Random(SEED + 1)
    pairs = [(rng.choice(corpus.tuples), rng.choice(corpus.tuples)) for _ in range(5000)]
    for _ in range(20000):
        length = rng.randint(0, 3)
        pairs.append(
            (
                tuple(narrow_value(rng) for _ in range(length)),
                tuple(narrow_value(rng) for _ in range(rng.randint(0, 3))),
            )
        )
    for left, right in pairs:
        expected = sign(fdb_tuple.compare(to_fdb(left), to_fdb(right)))
        left_bytes, right_bytes = codec.pack(left), codec.pack(right)
        assert sign((left_bytes > right_bytes) - (left_bytes < right_bytes)) == expected, (
            f"seed {SEED}: {left!r} vs {right!r}"
        )
        assert ftuple.compare(left, right) == expected


def test_sorting_by_key_matches_fdb_order() -> None:
    rng = random.Random(SEED + 2)
    items = [tuple(narrow_value(rng) for _ in range(2)) for _ in range(2000)]
    by_fdb = sorted(
        items, key=functools.cmp_to_key(lambda a, b: fdb_tuple.compare(*map(to_fdb, (a, b))))
    )
    by_key = sorted(items, key=ftuple.pack)
    assert [ftuple.pack(t) for t in by_fdb] == [ftuple.pack(t) for t in by_key]


# --- versionstamps --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("items", "prefix"),
    [
        (("a", Versionstamp()), b""),
        ((Versionstamp(user_version=7),), b"\x15\x01"),
        ((1, ("x", Versionstamp(user_version=65535), None), b"z"), b"prefix"),
        ((Versionstamp(b"\x01" * 10), [Versionstamp()]), b""),
    ],
)
def test_pack_with_versionstamp_matches_fdb(codec: Codec, items: tuple, prefix: bytes) -> None:
    expected = fdb_tuple.pack_with_versionstamp(to_fdb(items), prefix=prefix)
    assert codec.pack_with_versionstamp(items, prefix) == expected
    offset = int.from_bytes(expected[-4:], "little")
    assert expected[offset : offset + 10] == b"\xff" * 10


def test_versionstamp_misuse_is_refused(codec: Codec) -> None:
    with pytest.raises(TupleError, match="use pack_with_versionstamp"):
        codec.pack(("a", Versionstamp()))
    with pytest.raises(TupleError, match="found none"):
        codec.pack_with_versionstamp(("a", Versionstamp(b"\x00" * 10)))
    with pytest.raises(TupleError, match="more than one incomplete Versionstamp"):
        codec.pack_with_versionstamp((Versionstamp(), (Versionstamp(),)))


def test_versionstamps_round_trip(codec: Codec) -> None:
    stamps = (Versionstamp(b"\x00\x01" * 5, 9), Versionstamp())
    packed = codec.pack_with_versionstamp(stamps)[:-4]
    assert codec.unpack(packed) == stamps
    assert not codec.unpack(packed)[1].is_complete()


def test_versionstamp_class_semantics_match_fdb() -> None:
    rng = random.Random(SEED + 3)
    stamps = [
        Versionstamp(
            rng.choice([None, b"\x00" * 10, b"\x00" * 9 + b"\x01", b"\xff" * 10]),
            rng.choice([0, 1, 65535]),
        )
        for _ in range(200)
    ]
    for left in stamps[:40]:
        for right in stamps:
            fdb_left, fdb_right = to_fdb(left), to_fdb(right)
            assert (left == right) == (fdb_left == fdb_right)
            assert (left < right) == (fdb_left < fdb_right)
            assert (left > right) == (fdb_right < fdb_left)
            if left == right:
                assert hash(left) == hash(right)
    stamp = Versionstamp.from_bytes(b"\x00" + b"\x07" * 10 + b"\x01\x02", 1)
    assert stamp.to_bytes() == b"\x07" * 10 + b"\x01\x02" == to_fdb(stamp).to_bytes()
    assert Versionstamp.from_bytes(b"\xff" * 10 + b"\x00\x05") == Versionstamp.incomplete(5)
    assert Versionstamp.incomplete(5).completed(b"\x01" * 10) == Versionstamp(b"\x01" * 10, 5)
    assert Versionstamp.incomplete().to_bytes() == b"\xff" * 10 + b"\x00\x00"


def test_versionstamp_validation() -> None:
    with pytest.raises(InvalidArgument):
        Versionstamp(b"\x00" * 9)
    with pytest.raises(InvalidType):
        Versionstamp("0123456789")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        Versionstamp(None, 65536)
    with pytest.raises(InvalidArgument):
        Versionstamp.from_bytes(b"\x00" * 11)
    with pytest.raises(InvalidArgument):
        Versionstamp(b"\x00" * 10).completed(b"\x01" * 10)
    with pytest.raises(ValueError):  # InvalidArgument is a ValueError, as fdb raises
        Versionstamp(None, -1)


def test_has_incomplete_versionstamp_matches_fdb() -> None:
    cases = [
        (),
        (1, "a"),
        (Versionstamp(),),
        ((1, [Versionstamp()]),),
        (Versionstamp(b"\x00" * 10),),
    ]
    for items in cases:
        expected = fdb_tuple.has_incomplete_versionstamp(to_fdb(items))
        assert ftuple.has_incomplete_versionstamp(items) == expected
    wide = tuple((i,) for i in range(1000)) + ((Versionstamp(),),)
    assert ftuple.has_incomplete_versionstamp(wide)
    cycle: list = []
    cycle.append(cycle)
    with pytest.raises(TupleError, match="nested deeper"):
        ftuple.has_incomplete_versionstamp(cycle)


# --- SingleFloat ------------------------------------------------------------------------


def test_single_float_semantics_match_fdb() -> None:
    rng = random.Random(SEED + 4)
    values = [random_double(rng) for _ in range(300)] + [1e300, -1e300, 3, 2**100]
    singles = [SingleFloat(v) for v in values]
    for value, single in zip(values, singles, strict=True):
        reference = fdb_tuple.SingleFloat(value)
        assert struct.pack(">d", single.value) == struct.pack(">d", reference.value)
        assert ftuple.pack((single,)) == fdb_tuple.pack((reference,))
    for left in singles[:30]:
        for right in singles:
            fdb_left, fdb_right = to_fdb(left), to_fdb(right)
            assert (left == right) == (fdb_left == fdb_right)
            assert (left < right) == (fdb_left < fdb_right)
            if left == right:
                assert hash(left) == hash(right)
    assert SingleFloat(0.0) != SingleFloat(-0.0)
    assert SingleFloat(math.nan) == SingleFloat(math.nan)
    assert SingleFloat(1.5) != 1.5
    with pytest.raises(InvalidType):
        SingleFloat("1.5")  # type: ignore[arg-type]


# --- errors while packing ----------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [set(), {}, object(), bytearray(b"x"), 1j, memoryview(b"x"), fdb_tuple.SingleFloat(1.0)],
    ids=lambda v: type(v).__name__,
)
def test_unsupported_types_raise_tuple_error(codec: Codec, value: object) -> None:
    with pytest.raises(TupleError, match=f"cannot pack a value of type {type(value).__name__}"):
        codec.pack(("ok", value))
    with pytest.raises(ValueError):
        codec.pack(((value,),))


def test_bad_arguments_raise_tuple_error(codec: Codec) -> None:
    with pytest.raises(TupleError, match="expected a tuple of values, got str"):
        codec.pack("abc")
    with pytest.raises(TupleError, match="expected a tuple of values, got list"):
        codec.pack([1])
    with pytest.raises(TupleError, match="prefix must be bytes, got str"):
        codec.pack((1,), "p")
    with pytest.raises(TupleError, match="expected bytes to unpack, got str"):
        codec.unpack("abc")
    with pytest.raises(TupleError, match="prefix_len 5 is outside 0..1"):
        codec.unpack(b"\x14", 5)
    with pytest.raises(TupleError, match="prefix_len -1 is outside 0..1"):
        codec.unpack(b"\x14", -1)
    with pytest.raises(TupleError, match="prefix_len must be an int, got float"):
        codec.unpack(b"\x14", 1.0)
    with pytest.raises(TupleError, match="string is not encodable as UTF-8"):
        codec.pack(("\ud800",))


def test_pack_errors_are_identical_across_codecs() -> None:
    class Strange(SingleFloat):
        @property
        def value(self) -> float:
            return 1e300

    class Broken(Versionstamp):
        @property
        def user_version(self) -> int:
            return 70000

    class BadUUID(uuid.UUID):
        @property
        def int(self) -> int:
            return -1

    cases = [
        (Strange(1.0),),
        (Broken(),),
        (BadUUID.__new__(BadUUID),),
        (1, 2**3000),
        ("\udfff",),
        ((((set(),),),),),
    ]
    for items in cases:
        messages = set()
        for codec in both_codecs():
            with pytest.raises(TupleError) as error:
                codec.pack(items)
            assert error.value.offset is None
            messages.add(str(error.value))
        assert len(messages) == 1, messages


# --- hostile bytes -----------------------------------------------------------------------

MALFORMED = [
    (b"\x01abc", 0, "unterminated bytes"),
    (b"\x14\x02ab\x00\xff", 1, "unterminated string"),
    (b"\x02\xff\x00", 0, "string is not valid UTF-8"),
    (b"\x02\xed\xa0\x80\x00", 0, "string is not valid UTF-8"),  # an encoded surrogate
    (b"\x16\x01", 0, "truncated integer: needs 2 bytes, 1 left"),
    (b"\x14\x1d", 1, "truncated integer: needs 1 bytes, 0 left"),
    (b"\x1d\x09\x01", 0, "truncated integer: needs 10 bytes, 2 left"),
    (b"\x0b\xf6", 0, "truncated integer: needs 10 bytes, 1 left"),
    (b"\x20\x00", 0, "truncated float: needs 4 bytes, 1 left"),
    (b"\x21", 0, "truncated double: needs 8 bytes, 0 left"),
    (b"\x30" + b"\x00" * 15, 0, "truncated UUID: needs 16 bytes, 15 left"),
    (b"\x33" + b"\x00" * 11, 0, "truncated Versionstamp: needs 12 bytes, 11 left"),
    (b"\x05\x15\x01", 0, "nested tuple is not terminated"),
    (b"\x05\x05\x00", 0, "nested tuple is not terminated"),
    (b"\x05\x01a", 1, "unterminated bytes"),
    (b"\x00\xff", 1, "unknown type code 0xff"),
    (b"\x03", 0, "unknown type code 0x03"),
    (b"\x14\x14\x22", 2, "unknown type code 0x22"),
]


@pytest.mark.parametrize(
    ("data", "offset", "message"), MALFORMED, ids=[repr(m[0]) for m in MALFORMED]
)
def test_malformed_bytes_name_the_offset(
    codec: Codec, data: bytes, offset: int, message: str
) -> None:
    with pytest.raises(TupleError) as error:
        codec.unpack(data)
    assert error.value.offset == offset
    assert str(error.value) == f"{message} (at byte offset {offset})"


def test_prefix_len_shifts_error_offsets(codec: Codec) -> None:
    with pytest.raises(TupleError) as error:
        codec.unpack(b"pp\x14\x16\x01", prefix_len=2)
    assert error.value.offset == 3


def outcome(codec: Codec, data: bytes) -> tuple:
    try:
        return ("ok", decoded_canonical(codec.unpack(data)))
    except TupleError as error:
        assert error.offset is not None and 0 <= error.offset < max(len(data), 1), error.offset
        return ("error", error.offset, str(error))


def fuzz_inputs(rng: random.Random, count: int) -> list[bytes]:
    """Random byte strings plus mutations (flips, cuts, insertions, splices) of valid keys."""
    seeds = [PYTHON_CODEC.pack(random_tuple(rng)) for _ in range(500)]
    codes = [
        0x00,
        0x01,
        0x02,
        0x05,
        0x0B,
        0x0C,
        0x13,
        0x14,
        0x15,
        0x1C,
        0x1D,
        0x20,
        0x21,
        0x26,
        0x27,
        0x30,
        0x33,
        0xFF,
    ]
    inputs = []
    for _ in range(count):
        kind = rng.random()
        if kind < 0.3:
            inputs.append(
                bytes(
                    rng.choice(codes) if rng.random() < 0.5 else rng.randrange(256)
                    for _ in range(rng.randint(0, 24))
                )
            )
            continue
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 3)):
            action = rng.randrange(5)
            if action == 0 and data:
                data[rng.randrange(len(data))] = rng.randrange(256)
            elif action == 1 and data:
                del data[rng.randrange(len(data)) :]
            elif action == 2:
                data.insert(rng.randint(0, len(data)), rng.choice(codes))
            elif action == 3 and data:
                start = rng.randrange(len(data))
                del data[start : start + rng.randint(1, 4)]
            else:
                other = rng.choice(seeds)
                data[rng.randint(0, len(data)) :] = other[rng.randint(0, len(other)) :]
        inputs.append(bytes(data))
    return inputs


def test_fuzzed_bytes_raise_only_tuple_error_and_agree_across_codecs() -> None:
    rng = random.Random(SEED + 5)
    inputs = fuzz_inputs(rng, 100_000)
    decoded = 0
    for data in inputs:
        outcomes = {codec.name: outcome(codec, data) for codec in both_codecs()}
        reference = outcomes["python"]
        assert all(o == reference for o in outcomes.values()), f"seed {SEED}: {data!r} {outcomes}"
        if reference[0] == "ok":
            decoded += 1
            # Whatever we accept is well-formed, so fdb.tuple must read it the same way.
            assert canonical(fdb_tuple.unpack(data)) == reference[1], f"seed {SEED}: {data!r}"
    assert decoded > 1000  # the mutations still reach deep into valid structure


# --- native codec specifics -----------------------------------------------------------------

needs_native = pytest.mark.skipif(NATIVE_CODEC is None, reason="found._tuple_codec is not built")


@needs_native
def test_public_functions_are_native_when_built() -> None:
    assert ftuple.pack is NATIVE_CODEC.pack
    assert ftuple.unpack is NATIVE_CODEC.unpack
    assert ftuple.CODEC is NATIVE_CODEC


@needs_native
def test_native_keyword_arguments() -> None:
    native = NATIVE_CODEC
    assert native.pack(items=(1,), prefix=b"p") == b"p\x15\x01"
    assert native.unpack(data=b"p\x15\x01", prefix_len=1) == (1,)
    with pytest.raises(TypeError):
        native.pack((1,), b"", b"")
    with pytest.raises(TypeError):
        native.pack((1,), colour=b"")
    with pytest.raises(TypeError):
        native.pack((1,), prefix=b"", items=(2,))
    with pytest.raises(TypeError):
        native.unpack()


@needs_native
def test_native_codec_does_not_leak() -> None:
    native = NATIVE_CODEC
    rng = random.Random(SEED + 6)
    samples = [random_tuple(rng) for _ in range(200)]
    packed = [native.pack(t) for t in samples]
    hostile = fuzz_inputs(rng, 200)
    text = "a string whose references we count"
    before_refs = sys.getrefcount(text)

    def workload() -> None:
        for items, data in zip(samples, packed, strict=True):
            native.unpack(native.pack(items + (text,)))
            native.unpack(data)
        for data in hostile:
            try:
                native.unpack(data)
            except TupleError:
                pass
        for bad in ((set(),), (2**3000,), ("\ud800",), (Versionstamp(), Versionstamp())):
            try:
                native.pack_with_versionstamp(bad)
            except TupleError:
                pass

    workload()
    gc.collect()
    tracemalloc.start()
    try:
        first = tracemalloc.get_traced_memory()[0]
        for _ in range(20):
            workload()
        gc.collect()
        growth = tracemalloc.get_traced_memory()[0] - first
    finally:
        tracemalloc.stop()
    assert growth < 64 * 1024, f"{growth} bytes retained after 20 rounds"
    assert sys.getrefcount(text) == before_refs


@needs_native
def test_native_codec_must_be_configured_with_classes() -> None:
    from found import _tuple_codec

    with pytest.raises(TypeError):
        _tuple_codec.configure(1, 2, 3, 4, 5, 6, 7, 8)
    with pytest.raises(ValueError):
        _tuple_codec.configure(
            TupleError,
            SingleFloat,
            Versionstamp,
            uuid.UUID,
            uuid.SafeUUID.unknown,
            ctypes.c_float,
            ctypes.c_double,
            100_000,
        )
    assert NATIVE_CODEC.unpack(b"\x15\x01") == (1,)  # a refused configure changes nothing


def test_range_matches_fdb() -> None:
    for items in [(), ("a",), (1, (None, b"\x00"))]:
        expected = fdb_tuple.range(items)
        assert ftuple.range(items) == (expected.start, expected.stop)


# --- unpack_keys: a range read's keys in one call ---------------------------------------------


def test_unpack_keys_is_unpack_of_every_row_key(codec: Codec) -> None:
    rng = random.Random(SEED + 11)
    prefix = b"\x02layer\x00\x15\x07"
    tuples = [random_tuple(rng) for _ in range(2_000)]
    rows = [(codec.pack(items, prefix), rng.randbytes(rng.randint(0, 3))) for items in tuples]
    decoded = codec.unpack_keys(rows, len(prefix))
    assert [decoded_canonical(d) for d in decoded] == [
        decoded_canonical(PYTHON_CODEC.unpack(key, len(prefix))) for key, _ in rows
    ]
    assert codec.unpack_keys([], 3) == []


@pytest.mark.parametrize(
    ("rows", "prefix_len", "message"),
    [
        ([(b"\x02a\x00", b"")] * 2 + [(b"\x02ab", b"")], 0, "unterminated string"),
        ([(b"\x02a\x00", b"")], 5, "prefix_len 5 is outside 0..3 (row 0)"),
        ([(b"\x02a\x00", b""), ("text", b"")], 0, "bytes keys"),
        ([b"\x02a\x00"], 0, "(key, value) rows"),
        ((b"\x02a\x00", b""), 0, "a list of (key, value) rows"),
    ],
)
def test_unpack_keys_refuses_bad_rows_with_tuple_error(
    codec: Codec, rows: object, prefix_len: int, message: str
) -> None:
    with pytest.raises(TupleError, match=re.escape(message)):
        codec.unpack_keys(rows, prefix_len)


@needs_native
def test_decoded_tuples_of_atomic_items_are_not_tracked_by_the_collector() -> None:
    """The native codec untracks what the collector would untrack on its first pass, and
    only that: a tuple holding something the collector must see stays tracked."""
    assert not gc.is_tracked(NATIVE_CODEC.unpack(NATIVE_CODEC.pack(("a", 1, b"x", 2.5, None))))
    nested = NATIVE_CODEC.unpack(NATIVE_CODEC.pack(("a", ("b", 1))))
    assert not gc.is_tracked(nested) and not gc.is_tracked(nested[1])
    # a UUID is an instance with slots: tracked, so the tuple holding it stays tracked
    holder = NATIVE_CODEC.unpack(NATIVE_CODEC.pack((uuid.UUID(int=7),)))
    assert gc.is_tracked(holder[0]) == gc.is_tracked(uuid.UUID(int=7))
    assert gc.is_tracked(holder) == gc.is_tracked(holder[0])
    rows = NATIVE_CODEC.unpack_keys([(NATIVE_CODEC.pack(("k", 3)), b"")], 0)
    assert rows == [("k", 3)] and not gc.is_tracked(rows[0])

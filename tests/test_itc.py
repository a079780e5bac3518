"""itc: the paper's run, the spec's worked examples byte for byte, bad input, and a model test."""

from __future__ import annotations

import copy
import random

import pytest

from found.errors import FoundException, InvalidType
from found.ext import itc
from found.ext.itc import (
    CorruptEventError,
    CorruptIdError,
    CorruptStampError,
    Event,
    EventCounterOverflowError,
    Id,
    InactiveEventError,
    InactiveIdError,
    InactiveStampError,
    IncompatibleLibVersionError,
    InvalidParamError,
    ItcError,
    ItcStatus,
    OverlappingIdIntervalError,
    Stamp,
    StampComparisonResult,
)

LESS_THAN = StampComparisonResult.LESS_THAN
GREATER_THAN = StampComparisonResult.GREATER_THAN
EQUAL = StampComparisonResult.EQUAL
CONCURRENT = StampComparisonResult.CONCURRENT


def shows(stamp: Stamp, printed: str, hex_bytes: str) -> None:
    """Assert the printed form and the serialised bytes, and that the bytes read back."""
    assert str(stamp) == printed
    assert stamp.serialise().hex() == hex_bytes
    assert str(Stamp.deserialise(bytes.fromhex(hex_bytes))) == printed


# --- the paper's run (Almeida, Baquero, Fonte 2008), values derived by hand -----------------


def test_the_papers_run_fork_event_join_back_to_a_seed():
    a = Stamp()
    b = a.fork()
    assert (str(a), str(b)) == ("{(1, 0); 0}", "{(0, 1); 0}")

    a.event()
    b.event()
    assert (str(a), str(b)) == ("{(1, 0); (0, 1, 0)}", "{(0, 1); (0, 0, 1)}")

    c = b.fork()
    assert (str(b), str(c)) == ("{(0, (1, 0)); (0, 0, 1)}", "{(0, (0, 1)); (0, 0, 1)}")

    a.event()
    b.event()
    assert str(a) == "{(1, 0); (0, 2, 0)}"  # fill cannot help: grow the owned leaf
    assert str(b) == "{(0, (1, 0)); (0, 0, (1, 1, 0))}"  # grow expands the leaf 1

    b.join(c)
    assert str(b) == "{(0, 1); (0, 0, (1, 1, 0))}"
    b.event()
    assert str(b) == "{(0, 1); (0, 0, 2)}"  # fill levels the whole right half

    a.join(b)
    assert str(a) == "{1; 2}"


def test_the_papers_normal_form_examples():
    assert itc._norm_event(2, 1, 1) == 3
    assert itc._norm_event(2, (2, 1, 0), 3) == (4, (0, 1, 0), 1)
    assert itc._norm_id(0, 0) == 0
    assert itc._norm_id(1, 1) == 1
    assert itc._norm_id(1, 0) == (1, 0)


# --- the spec's worked examples (§9), byte for byte ----------------------------------------


def test_spec_examples_1_to_9_seed_fork_event_join_peek():
    s = Stamp()
    shows(s, "{1; 0}", "010901020100")
    shows(Stamp().event(), "{1; 1}", "01090102020201")

    a = Stamp()
    b = a.fork()
    shows(a, "{(1, 0); 0}", "0109030102000100")
    shows(b, "{(0, 1); 0}", "0109030100020100")
    a.event()
    shows(a, "{(1, 0); (0, 1, 0)}", "0109030102000401020100")
    b.event()
    b.event()
    shows(b, "{(0, 1); (0, 0, 2)}", "0109030100020401000202")
    assert a.compare_to(b) == CONCURRENT

    a.join(b)
    shows(a, "{1; (1, 0, 1)}", "01090102050301000201")
    assert str(b) == "???"
    assert not b.is_valid()
    shows(a.peek(), "{0; (1, 0, 1)}", "01090100050301000201")


def test_spec_examples_10_to_13_nested_forks():
    c = Stamp()
    d = c.fork()
    e = d.fork()
    shows(d, "{(0, (1, 0)); 0}", "01090501000102000100")
    shows(e, "{(0, (0, 1)); 0}", "01090501000100020100")

    d.event()
    e.event()
    shows(d, "{(0, (1, 0)); (0, 0, (0, 1, 0))}", "010905010001020006010001020100")

    d.join(e)
    shows(d, "{(0, 1); (0, 0, 1)}", "0109030100020401000201")
    c.event()
    c.join(d)
    shows(c, "{1; 1}", "01090102020201")


def test_spec_examples_14_to_16_libitc_grow_goes_right_on_a_fragmented_id():
    a = Stamp()
    b = a.fork()
    c = b.fork()
    a.join(c)
    shows(a, "{(1, (0, 1)); 0}", "01090501020100020100")
    a.event()  # the paper's grow would give (0, 1, 0)
    shows(a, "{(1, (0, 1)); (0, 0, (0, 0, 1))}", "010905010201000206010001000201")
    a.event()
    shows(a, "{(1, (0, 1)); (0, 0, (0, 0, 2))}", "010905010201000206010001000202")
    assert b.is_valid()


@pytest.mark.parametrize(
    ("count", "printed", "hex_bytes"),
    [
        (255, "{1; 255}", "010901020202ff"),
        (256, "{1; 256}", "0109010203040100"),
        (70000, "{1; 70000}", "010901020406011170"),
    ],
)
def test_spec_examples_17_to_19_counter_widths(count, printed, hex_bytes):
    shows(Stamp().event(count), printed, hex_bytes)


def test_spec_examples_20_to_22_join_peek_and_ids_ignored():
    x = Stamp()
    y = x.fork()
    x.event()
    y.event()
    x.join(y)
    shows(x, "{1; 1}", "01090102020201")

    p = x.peek()
    p.event()  # id 0: silently nothing
    shows(p, "{0; 1}", "01090100020201")

    u = Stamp()
    v = u.fork()
    assert u.compare_to(v) == EQUAL


def test_spec_id_examples():
    assert (str(Id()), Id().serialise().hex()) == ("1", "0102")
    assert (str(Id(seed=False)), Id(seed=False).serialise().hex()) == ("0", "0100")

    i = Id()
    j = i.split()
    assert (str(i), i.serialise().hex()) == ("(1, 0)", "01010200")
    assert (str(j), j.serialise().hex()) == ("(0, 1)", "01010002")

    k = j.split()
    assert (str(j), str(k)) == ("(0, (1, 0))", "(0, (0, 1))")
    assert i.sum(k) is i
    assert (str(i), i.serialise().hex()) == ("(1, (0, 1))", "010102010002")
    assert not k.is_valid()
    assert repr(i) == "<Id = (1, (0, 1))>"


def test_spec_event_examples():
    assert (str(Event()), Event().serialise().hex()) == ("0", "0100")
    event = Event.deserialise(bytes.fromhex("010301020100"))
    assert str(event) == "(1, 1, 0)"
    other = Event.deserialise(bytes.fromhex("0101000100" + "0203"))
    assert str(other) == "(0, 0, (0, 0, 3))"
    right_three = Event.deserialise(bytes.fromhex("0101000203"))
    assert str(right_three) == "(0, 0, 3)"

    assert event.join(right_three) is event
    assert (str(event), event.serialise().hex()) == ("(2, 0, 1)", "010302000201")
    assert not right_three.is_valid()
    assert repr(event) == "<Event = (2, 0, 1)>"


# --- decoding: what is accepted, and the typed error (with offset) for what is not -----------


@pytest.mark.parametrize(
    ("cls", "hex_bytes", "printed"),
    [
        (Id, "0002", "1"),  # version 0 data is read too
        (Event, "0101020100", "(0, 1, 0)"),
        (Event, "01010000", "(0, 0, 0)"),  # accepted and kept as is, like libitc
        (Event, "01040001", "1"),  # counter with a leading zero byte
        (Event, "0110ffffffffffffffff", "18446744073709551615"),
        (Stamp, "010a0001020100", "{1; 0}"),  # length field with a leading zero byte
        (Stamp, "000901020100", "{1; 0}"),
    ],
)
def test_decoder_accepts_what_libitc_accepts(cls, hex_bytes, printed):
    assert str(cls.deserialise(bytes.fromhex(hex_bytes))) == printed
    assert str(cls.deserialise(bytearray.fromhex(hex_bytes))) == printed


def test_non_minimal_encodings_reserialise_minimally():
    assert Event.deserialise(bytes.fromhex("01040001")).serialise().hex() == "010201"
    assert Event.deserialise(bytes.fromhex("01010000")).serialise().hex() == "01010000"
    assert Stamp.deserialise(bytes.fromhex("010a0001020100")).serialise().hex() == "010901020100"


@pytest.mark.parametrize(
    ("cls", "hex_bytes", "error", "offset"),
    [
        (Id, "01010202", CorruptIdError, 1),  # (1, 1) is not normal
        (Id, "01010000", CorruptIdError, 1),  # (0, 0) is not normal
        (Id, "0202", IncompatibleLibVersionError, 0),
        (Id, "010200", CorruptIdError, 2),  # trailing byte
        (Id, "0103", CorruptIdError, 1),  # unknown node byte
        (Id, "0101", CorruptIdError, 2),  # parent is the last byte
        (Id, "", InvalidParamError, 0),
        (Id, "01", InvalidParamError, 1),
        (Event, "010102010201", CorruptEventError, 1),  # (0, 1, 1): no child at 0
        (Event, "0120", CorruptEventError, 1),  # reserved header bit
        (Event, "0101", CorruptEventError, 2),  # parent last
        (Event, "010100", CorruptEventError, 3),  # incomplete
        (Event, "010000", CorruptEventError, 2),  # leftover
        (Event, "0104", CorruptEventError, 1),  # counter byte missing
        (Stamp, "0149010201" + "00", CorruptStampError, 1),  # header bit 6
        (Stamp, "010801020100", CorruptStampError, 1),  # id length field of 0 bytes
        (Stamp, "01090102010000", CorruptStampError, 6),  # leftover byte
        (Stamp, "010901020300", CorruptStampError, 4),  # event length past the end
        (Stamp, "01090402010202" + "0100", CorruptIdError, 4),  # spec's example: bytes after 1
        (Stamp, "0109030102020100", CorruptIdError, 3),  # (1, 1) inside
        (Stamp, "0109010201" + "02", CorruptEventError, 5),  # event counter bytes missing
        (Stamp, "010900020100", CorruptStampError, 2),  # empty id component
        (Stamp, "010d0000000001020100", InvalidParamError, 2),  # 5-byte length field
        (Stamp, "0109010201", InvalidParamError, 5),  # shorter than any stamp
    ],
)
def test_decoder_rejects_with_the_libitc_status_and_names_the_offset(cls, hex_bytes, error, offset):
    with pytest.raises(error) as caught:
        cls.deserialise(bytes.fromhex(hex_bytes))
    assert caught.value.offset == offset
    assert f"byte offset {offset}" in str(caught.value)
    assert isinstance(caught.value, ItcError)
    assert isinstance(caught.value, FoundException)


def test_stamp_decoder_checks_components_in_libitc_order():
    # A corrupt id is reported before a broken event framing that follows it.
    with pytest.raises(CorruptIdError):
        Stamp.deserialise(bytes.fromhex("010901030500"))
    # A corrupt event is reported before the bytes left over after it.
    with pytest.raises(CorruptEventError):
        Stamp.deserialise(bytes.fromhex("01090102010300"))


def test_deserialise_rejects_non_bytes():
    for cls in (Stamp, Id, Event):
        with pytest.raises(InvalidType):
            cls.deserialise("010901020100")
        with pytest.raises(TypeError):
            cls.deserialise(None)


def test_decoder_raises_only_typed_errors_on_mutated_bytes():
    rng = random.Random(11)
    samples = [_random_history_stamp(rng).serialise() for _ in range(40)]
    for _ in range(3000):
        data = bytearray(rng.choice(samples))
        for _ in range(rng.randrange(1, 4)):
            where = rng.randrange(len(data))
            choice = rng.random()
            if choice < 0.5:
                data[where] = rng.randrange(256)
            elif choice < 0.75:
                del data[where]
            else:
                data.insert(where, rng.randrange(256))
        try:
            stamp = Stamp.deserialise(bytes(data))
        except ItcError as error:
            assert error.offset is not None
        else:
            assert Stamp.deserialise(stamp.serialise()).serialise() == stamp.serialise()


# --- errors, misuse, and no half-changed objects ----------------------------------------------


def test_every_status_has_one_error_class_with_that_status():
    for status, cls in itc.ERRORS.items():
        assert cls.status is status
        assert issubclass(cls, ItcError)
    assert set(itc.ERRORS) == set(ItcStatus) - {ItcStatus.SUCCESS}
    assert CorruptIdError.status.name == "CORRUPT_ID"
    assert CorruptIdError.status == 5
    assert InactiveStampError.status.name == "INVALID_PARAM"
    assert issubclass(ItcError, FoundException)


def test_joining_a_stamp_with_itself_is_refused():
    stamp = Stamp().event()
    with pytest.raises(InvalidParamError, match="itself"):
        stamp.join(stamp)
    with pytest.raises(ValueError):
        stamp.join(stamp.fork(), stamp)
    assert str(stamp) == "{(1, 0); 1}"  # the fork happened, the join did not


def test_joining_a_consumed_stamp_names_the_problem_and_changes_nothing():
    a = Stamp()
    b = a.fork()
    c = b.fork()
    a.join(b)
    before = a.serialise()
    with pytest.raises(InactiveStampError, match="consumed"):
        a.join(c, b)
    assert a.serialise() == before
    assert c.is_valid()


def test_a_consumed_stamp_refuses_every_use():
    a = Stamp()
    b = a.fork()
    a.join(b)
    for use in (
        b.event,
        b.fork,
        b.peek,
        b.serialise,
        b.clone,
        lambda: b.compare_to(a),
        lambda: a.compare_to(b),
        lambda: a < b,
        lambda: b == a,
        lambda: b.join(Stamp(Id(seed=False))),
        lambda: b.id_component,
    ):
        with pytest.raises(InactiveStampError):
            use()
    assert repr(b) == "<Stamp = ???>"


def test_overlapping_ids_are_refused_and_nothing_changes():
    a = Stamp().event()
    b = Stamp().event(2)
    with pytest.raises(OverlappingIdIntervalError):
        a.join(b)
    assert (str(a), str(b)) == ("{1; 1}", "{1; 2}")
    assert b.is_valid()

    left = Stamp()
    right = left.fork()
    other = Stamp()
    with pytest.raises(OverlappingIdIntervalError):
        left.join(right, other)  # the first join would work; the second fails: no change
    assert (str(left), str(right)) == ("{(1, 0); 0}", "{(0, 1); 0}")
    assert right.is_valid() and other.is_valid()


def test_the_same_stamp_twice_in_one_join_is_refused():
    a = Stamp()
    b = a.fork()
    with pytest.raises(InvalidParamError, match="twice"):
        a.join(b, b)
    assert b.is_valid()


def test_wrong_types_raise_type_errors():
    stamp = Stamp()
    with pytest.raises(InvalidType):
        Stamp(id=Event())
    with pytest.raises(InvalidType):
        Stamp(event=Id())
    with pytest.raises(InvalidType):
        stamp.join("stamp")
    with pytest.raises(TypeError):
        stamp.compare_to(3)
    with pytest.raises(TypeError):
        _ = stamp < 3
    assert (stamp == 3) is False
    with pytest.raises(InvalidType):
        stamp.id_component = Event()
    with pytest.raises(InvalidType):
        stamp.event_component = Id()
    with pytest.raises(InvalidType):
        stamp.event(1.5)


def test_event_count_must_be_positive():
    stamp = Stamp()
    for count in (0, -1):
        with pytest.raises(InvalidParamError):
            stamp.event(count)
    assert str(stamp) == "{1; 0}"


def test_counter_overflow_leaves_the_stamp_unchanged():
    near = Stamp(event=Event.deserialise(b"\x01\x1e" + itc.MAX_COUNTER.to_bytes(15, "big")))
    with pytest.raises(EventCounterOverflowError):
        near.event()
    assert str(near) == f"{{1; {itc.MAX_COUNTER}}}"

    a = Stamp(event=Event.deserialise(b"\x01\x1e" + (itc.MAX_COUNTER - 1).to_bytes(15, "big")))
    b = a.fork()
    a.event()  # fills up to MAX_COUNTER in its half
    with pytest.raises(EventCounterOverflowError):
        b.event(2)  # the first would be fine, the second overflows: neither is kept
    assert str(b) == f"{{(0, 1); {itc.MAX_COUNTER - 1}}}"


def test_counters_go_past_64_bits_and_round_trip():
    stamp = Stamp(event=Event.deserialise(bytes.fromhex("0110ffffffffffffffff")))
    stamp.event()  # pyitc would overflow here
    assert str(stamp) == f"{{1; {2**64}}}"
    data = stamp.serialise()
    assert data.hex() == "010901020a12010000000000000000"  # 9 counter bytes
    assert str(Stamp.deserialise(data)) == str(stamp)


def test_inactive_id_and_event():
    a = Id()
    b = a.split()
    a.sum(b)
    with pytest.raises(InactiveIdError):
        b.split()
    with pytest.raises(InactiveIdError):
        Stamp(id=b)
    with pytest.raises(InvalidParamError):
        a.sum(a)

    e = Event()
    f = Event()
    e.join(f)
    with pytest.raises(InactiveEventError):
        f.serialise()
    assert str(f) == "???"


# --- stamps as objects: copies, components, comparisons ----------------------------------------


def test_constructor_forms():
    assert str(Stamp()) == "{1; 0}"
    assert str(Stamp(id=Id(seed=False))) == "{0; 0}"
    event = Event.deserialise(bytes.fromhex("0101020100"))
    assert str(Stamp(event=event)) == "{1; (0, 1, 0)}"
    # Both given: exactly those trees, no filling or normalisation.
    assert str(Stamp(Id(), event)) == "{1; (0, 1, 0)}"


def test_components_are_copies():
    stamp = Stamp().event()
    id_copy = stamp.id_component
    id_copy.split()
    assert str(stamp) == "{1; 1}"
    stamp.id_component = id_copy
    assert str(stamp) == "{(1, 0); 1}"
    id_copy.split()
    assert str(stamp) == "{(1, 0); 1}"

    event_copy = stamp.event_component
    event_copy.join(Event.deserialise(bytes.fromhex("010205")))
    assert str(stamp) == "{(1, 0); 1}"
    stamp.event_component = event_copy
    assert str(stamp) == "{(1, 0); 5}"


def test_clone_and_deepcopy_are_independent():
    stamp = Stamp().event()
    for copied in (stamp.clone(), copy.deepcopy(stamp)):
        copied.event()
        assert str(copied) == "{1; 2}"
        assert str(stamp) == "{1; 1}"
    assert repr(stamp) == "<Stamp = {1; 1}>"


def test_comparison_operators_follow_compare_to():
    a = Stamp()
    b = a.fork()
    assert a == b and a <= b and a >= b and not a < b and not a != b
    b.event()
    assert a < b and a <= b and b > a and b >= a and a != b
    a.event()
    assert a.compare_to(b) == CONCURRENT
    assert not (a < b or a <= b or a == b or a >= b or a > b)
    assert a != b
    assert b.compare_to(a) == CONCURRENT
    a.join(b)
    assert a.compare_to(a.peek()) == EQUAL
    assert a.compare_to(Stamp()) == GREATER_THAN
    assert Stamp().compare_to(a) == LESS_THAN


def test_peek_and_null_ids():
    stamp = Stamp().event(3)
    peek = stamp.peek()
    assert str(peek.fork()) == "{0; 3}"
    stamp.join(peek)  # a peek owns nothing, so it can join anything
    assert str(stamp) == "{1; 3}"


def test_event_count_matches_repeated_single_events():
    rng = random.Random(5)
    for _ in range(200):
        stamp = _random_history_stamp(rng)
        if not isinstance(stamp._event, tuple):
            stamp.event_component = Event.deserialise(bytes.fromhex("0101020100"))
        count = rng.randrange(1, 6)
        one_at_a_time = stamp.clone()
        for _ in range(count):
            one_at_a_time.event()
        assert stamp.event(count).serialise() == one_at_a_time.serialise()


def test_very_deep_trees_need_no_recursion():
    # A server that keeps the left half on every fork builds an id as deep as its fork count,
    # deeper here than Python's default recursion limit.
    server = Stamp()
    clients = [server.fork() for _ in range(1500)]
    server.event()
    clients[-1].event()
    assert str(server).startswith("{" + "(" * 1500)
    assert Stamp.deserialise(server.serialise()).serialise() == server.serialise()
    assert server.compare_to(clients[-1]) == CONCURRENT

    server.join(clients[-1])  # the two deepest halves merge back into one leaf
    assert server > clients[-2]
    assert str(server.id_component).startswith("(" * 1499 + "1, 0)")
    assert copy.deepcopy(server).serialise() == server.serialise()


# --- model test: random histories against explicit causal histories ----------------------------


def _assert_normal(stamp: Stamp) -> None:
    """The stamp's trees are in normal form (spec §1.1)."""
    stack = [stamp._id]
    while stack:
        node = stack.pop()
        if isinstance(node, tuple):
            left, right = node
            assert not (isinstance(left, int) and left == right), str(stamp)
            stack.extend(node)
    stack = [stamp._event]
    while stack:
        node = stack.pop()
        if isinstance(node, tuple):
            _, left, right = node
            assert not (isinstance(left, int) and isinstance(right, int) and left == right)
            assert itc._root(left) == 0 or itc._root(right) == 0, str(stamp)
            stack.extend((left, right))


def _expected(history_a: frozenset, history_b: frozenset) -> StampComparisonResult:
    if history_a == history_b:
        return EQUAL
    if history_a < history_b:
        return LESS_THAN
    if history_a > history_b:
        return GREATER_THAN
    return CONCURRENT


def _random_history_stamp(rng: random.Random) -> Stamp:
    """A stamp from a short random history, for the tests that need varied shapes."""
    replicas = [Stamp()]
    for _ in range(rng.randrange(1, 25)):
        stamp = rng.choice(replicas)
        choice = rng.random()
        if choice < 0.35:
            replicas.append(stamp.fork())
        elif choice < 0.8:
            stamp.event()
        elif len(replicas) > 1:
            other = rng.choice([i for i, r in enumerate(replicas) if r is not stamp])
            stamp.join(replicas.pop(other))  # by index: == on a consumed stamp raises
    return rng.choice(replicas)


def _run_history(seed: int, steps: int) -> None:
    rng = random.Random(seed)
    # Each replica: (stamp, set of event ids it has seen). Peeks own nothing.
    replicas: list[tuple[Stamp, frozenset]] = [(Stamp(), frozenset())]
    next_event = 0
    for _ in range(steps):
        index = rng.randrange(len(replicas))
        stamp, history = replicas[index]
        choice = rng.random()
        if choice < 0.25 and len(replicas) < 10:
            forked = stamp.fork() if rng.random() < 0.9 else stamp.peek()
            replicas.append((forked, history))
        elif choice < 0.65:
            before = stamp.clone()
            stamp.event()
            if stamp.id_component.serialise() != b"\x01\x00":
                history = history | {next_event}
                next_event += 1
                assert stamp > before
            else:
                assert stamp == before
            replicas[index] = (stamp, history)
        elif len(replicas) > 1:
            other_index = rng.choice([i for i in range(len(replicas)) if i != index])
            other, other_history = replicas[other_index]
            left, right = stamp.clone(), other.clone()
            stamp.join(other)
            assert not other.is_valid()
            assert stamp >= left and stamp >= right
            replicas[index] = (stamp, history | other_history)
            del replicas[other_index]

        for stamp, history in replicas:
            _assert_normal(stamp)
            data = stamp.serialise()
            assert Stamp.deserialise(data).serialise() == data
            for other, other_history in replicas:
                assert stamp.compare_to(other) == _expected(history, other_history)
        # The ids still partition the interval: summing them all gives the seed.
        total = Id(seed=False)
        for stamp, _ in replicas:
            total.sum(stamp.id_component)
        assert str(total) == "1"


@pytest.mark.parametrize("block", range(4))
def test_random_histories_match_a_model_of_causal_histories(block):
    for seed in range(block * 500, (block + 1) * 500):
        _run_history(seed, steps=30)


# --- optional: differential run against pyitc, when it is installed ---------------------------


def test_random_histories_match_pyitc_byte_for_byte():
    pyitc = pytest.importorskip("pyitc")
    for seed in range(300):
        rng = random.Random(seed)
        mine, theirs = [Stamp()], [pyitc.Stamp()]
        for _ in range(30):
            index = rng.randrange(len(mine))
            choice = rng.random()
            if choice < 0.3 and len(mine) < 8:
                mine.append(mine[index].fork())
                theirs.append(theirs[index].fork())
            elif choice < 0.7:
                mine[index].event()
                theirs[index].event()
            elif len(mine) > 1:
                other = rng.choice([i for i in range(len(mine)) if i != index])
                mine[index].join(mine[other])
                theirs[index].join(theirs[other])
                del mine[other], theirs[other]
            for stamp, reference in zip(mine, theirs, strict=True):
                assert str(stamp) == str(reference)
                if len(stamp.serialise()) < 128:  # pyitc's serialise fails on bigger stamps
                    assert stamp.serialise() == reference.serialise()

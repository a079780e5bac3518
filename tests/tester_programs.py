"""Random stack-machine programs for the differential test, in the spirit of the
bindingtester's ``api`` test: seeded, over a small key space so reads meet writes.

| subspace (fdb.tuple)            | holds                                                  |
|---------------------------------|--------------------------------------------------------|
| ``(prefix, i)``                 | instruction ``i`` of a thread (main prefix b"test_spec")|
| ``("workspace", …)``            | the keys programs read and write                       |
| ``("stamps", "k" or "v", …)``   | versionstamped keys and values (stamps differ per run) |
| ``("tester_output", thread)``   | LOG_STACK: ``(stack index, instruction number)``       |
| ``("tester_wait", thread)``     | a key a thread clears when done (the main WAIT_EMPTYs) |

The generator keeps a model of the stack (how deep, which slots hold an unwaited read)
so it can follow the api test's rules that make results deterministic: reads are waited
before commits, resets, transaction switches and ``_DATABASE`` writes; a commit is
``COMMIT, WAIT_FUTURE, RESET``; GET_VERSIONSTAMP comes just before such a commit.

``Features`` switches off, by default, the constructs where found is known to differ from
the official binding (see docs/tester.md, "Known disagreements").
"""

from __future__ import annotations

import random
import struct
import uuid
from dataclasses import dataclass, field

import fdb
import fdb.tuple
from fdb.impl import strinc  # the first key after every key with a prefix

MAIN_PREFIX = b"test_spec"
WORKSPACE = fdb.tuple.pack(("workspace",))
STAMPS = fdb.tuple.pack(("stamps",))
STAMPED_KEYS = fdb.tuple.pack(("stamps", "k"))
STAMPED_VALUES = fdb.tuple.pack(("stamps", "v"))
UNSET_STAMP = b"\xff" * 10  # packs as a complete stamp; the testers unpack it as incomplete

ATOMIC_OPS = [
    "ADD", "BIT_AND", "BIT_OR", "BIT_XOR", "AND", "OR", "XOR", "MAX", "MIN",
    "BYTE_MIN", "BYTE_MAX", "APPEND_IF_FITS", "COMPARE_AND_CLEAR",
]  # fmt: skip
ON_ERROR_CODES = [1, 1007, 1009, 1020, 1021, 1025, 1031, 1101, 2000, 2004, 2017, 4100]


def log_prefix(thread: bytes) -> bytes:
    """Where LOG_STACK writes the stack of ``thread``."""
    return fdb.tuple.pack(("tester_output", thread))


def wait_prefix(thread: bytes) -> bytes:
    """The key a thread clears when it is done."""
    return fdb.tuple.pack(("tester_wait", thread))


@dataclass(frozen=True)
class Features:
    """Program constructs to generate. `found` deliberately raises InvertedRange at the call
    for an inverted range (fdb returns [] for a read and fails the commit for a clear);
    found.tester hands such ranges to the engine the way fdb does, so they are compared
    too."""

    inverted_read_ranges: bool = True  # GET_RANGE with begin > end
    inverted_clear_ranges: bool = True  # CLEAR_RANGE with begin > end
    on_error_zero: bool = True  # ON_ERROR with code 0
    # ON_ERROR on a transaction in a failed state: cancelled, or kept after an ON_ERROR
    # (the api test always starts a new transaction after ON_ERROR)
    on_error_failed_transaction: bool = True
    threads: bool = True
    versionstamps: bool = True

    @classmethod
    def parse(cls, names: str) -> Features:
        """``"inverted_read_ranges,on_error_zero"`` → those features switched on."""
        chosen = {name.strip() for name in names.split(",") if name.strip()}
        unknown = chosen - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown features {sorted(unknown)}")
        return cls(**{name: True for name in chosen})


@dataclass
class Program:
    """A generated program: instructions per thread prefix, plus what the checker needs."""

    seed: int
    threads: dict[bytes, list[tuple]]
    versionstamp_numbers: dict[bytes, set[int]] = field(default_factory=dict)

    @property
    def main(self) -> list[tuple]:
        return self.threads[MAIN_PREFIX]

    def __len__(self) -> int:
        return sum(len(instructions) for instructions in self.threads.values())

    def operations(self) -> int:
        """How many instructions, over every thread, are not PUSH."""
        return sum(
            instruction[0] != "PUSH"
            for instructions in self.threads.values()
            for instruction in instructions
        )

    def describe(self, thread: bytes, number: int, context: int = 0) -> str:
        """Instruction ``number`` of ``thread`` (with ``context`` lines before), readable."""
        instructions = self.threads[thread]
        lines = []
        for index in range(max(0, number - context), min(number + 1, len(instructions))):
            lines.append(f"[{index}] " + " ".join(repr(part) for part in instructions[index]))
        return "\n".join(lines)

    def truncated(self, length: int) -> Program:
        """The same program with only the first ``length`` main-thread instructions."""
        threads = dict(self.threads)
        threads[MAIN_PREFIX] = self.main[:length]
        return Program(self.seed, threads, self.versionstamp_numbers)


class _Builder:
    """Emits one thread's instructions and tracks its stack model."""

    def __init__(self, rng: random.Random, name: bytes = MAIN_PREFIX) -> None:
        self.random = rng
        self.instructions: list[tuple] = []
        self.stack: list[bool] = []  # per slot, bottom first: True while an unwaited read
        self.versionstamps: set[int] = set()
        self.operations = 0  # instructions other than PUSH
        self.current = name  # the current transaction's name (USE_TRANSACTION)
        self.cancelled: set[bytes] = set()  # names of cancelled transactions

    @property
    def is_cancelled(self) -> bool:
        return self.current in self.cancelled

    def op(self, name: str, pops: int = 0, pushes: int = 0, pending: bool = False) -> None:
        self.instructions.append((name,))
        self.operations += 1
        if name == "CANCEL":
            self.cancelled.add(self.current)
        elif name in ("RESET", "NEW_TRANSACTION"):
            self.cancelled.discard(self.current)
        for _ in range(pops):
            if self.stack:
                self.stack.pop()
        self.stack.extend([pending] * pushes)

    def push(self, *items: object) -> None:
        """Pushes ``items`` so that the first ends on top (the driver's push_args)."""
        for item in reversed(items):
            self.instructions.append(("PUSH", item))
            self.stack.append(False)

    def swap(self, depth: int) -> None:
        self.push(depth)
        self.op("SWAP", pops=1)
        top = len(self.stack) - 1
        self.stack[top], self.stack[top - depth] = self.stack[top - depth], self.stack[top]

    def wait_reads(self) -> None:
        """WAIT_FUTUREs every unwaited read, in place (swapped to the top and back)."""
        for position, pending in enumerate(self.stack):
            if not pending:
                continue
            depth = len(self.stack) - 1 - position
            if depth:
                self.swap(depth)
            self.op("WAIT_FUTURE", pops=1, pushes=1)
            if depth:
                self.swap(depth)

    def blocking_commit(self) -> None:
        self.wait_reads()
        self.op("COMMIT", pushes=1)
        self.op("WAIT_FUTURE", pops=1, pushes=1)
        self.op("RESET")

    def log_stack(self, prefix: bytes) -> None:
        self.push(prefix)
        self.op("LOG_STACK", pops=len(self.stack))
        self.stack.clear()


class _Generator:
    """One program: preload, random operations, checkpoints, threads, final log."""

    def __init__(self, seed: int, size: int, features: Features, prefix: bytes) -> None:
        self.seed = seed
        self.prefix = prefix
        self.names = [prefix, prefix + b"/other", prefix + b"/third"]  # transaction names
        self.size = size
        self.features = features
        self.random = random.Random(seed)
        rng = self.random
        pool = {WORKSPACE + fdb.tuple.pack(self.key_tuple()) for _ in range(rng.randint(6, 40))}
        self.keys = sorted(pool)
        self.prefixes = [WORKSPACE] + [
            key[: rng.randint(len(WORKSPACE) + 1, len(key))] for key in self.keys
        ]
        self.values: list[bytes] = [b""]
        self.stamp_ids = 0
        self.threads: dict[bytes, list[tuple]] = {}
        self.versionstamp_numbers: dict[bytes, set[int]] = {}
        self.can_set_version = True
        self.has_version = False
        self.can_get_committed_version = False

    # -- random values ---------------------------------------------------------------------

    def key_tuple(self) -> tuple:
        rng = self.random
        kind = rng.random()
        if kind < 0.5:
            return (rng.randint(0, 12),)
        if kind < 0.75:
            return (rng.randint(0, 4), rng.randint(0, 3))
        if kind < 0.9:
            return (bytes([rng.choice(b"ab\x00\xff")]) * rng.randint(0, 3),)
        return ("s", rng.choice(["", "x", "é", "\U0001f600"]))

    def key(self) -> bytes:
        return self.random.choice(self.keys)

    def bound(self, edges: float = 0.2) -> bytes:
        """A range bound: usually a pool key, with probability ``edges`` a workspace edge."""
        choice = self.random.random()
        if choice < edges / 2:
            return WORKSPACE
        if choice < edges:
            return strinc(WORKSPACE)
        return self.key()

    def value(self) -> bytes:
        rng = self.random
        if rng.random() < 0.3 and len(self.values) > 1:
            return rng.choice(self.values)
        if rng.random() < 0.3:
            value = struct.pack("<q", rng.randint(-(2**20), 2**20))
        else:
            value = rng.randbytes(rng.randint(0, 12))
        self.values.append(value)
        return value

    def atomic_param(self, operation: str) -> bytes:
        rng = self.random
        if operation == "COMPARE_AND_CLEAR" and rng.random() < 0.7:
            return rng.choice(self.values)
        if operation in ("ADD", "MAX", "MIN") and rng.random() < 0.5:
            return struct.pack("<q", rng.randint(-1000, 1000))
        return rng.randbytes(rng.randint(0, 10))

    def int_item(self, max_bits: int = 2039) -> int:
        bits = self.random.randint(0, max_bits)
        return self.random.randint(-(1 << bits), (1 << bits) - 1)

    def float_value(self, exponent_bits: int) -> float:
        rng = self.random
        if rng.random() < 0.1:
            return rng.choice([float("nan"), -float("nan"), float("inf"), -float("inf"), 0.0, -0.0])
        exponent = rng.randint(-(1 << (exponent_bits - 1)) - 10, (1 << (exponent_bits - 1)) - 1)
        try:
            return rng.choice([-1, 1]) * rng.random() * 2.0**exponent
        except OverflowError:
            return float("inf")

    def string(self) -> str:
        rng = self.random
        alphabet = "ab\x00é\u9348\U0001f4a9\uf8ff"
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))

    def item(self, depth: int = 0, stamps: bool = True) -> object:
        """A random tuple element of any type the tuple layer has (complete Versionstamps
        only with ``stamps``)."""
        rng = self.random
        kind = rng.randrange(11 if depth < 2 else 10)
        while kind == 8 and not stamps:
            kind = rng.randrange(10)
        if kind == 0:
            return None
        if kind == 1:
            return rng.randbytes(rng.randint(0, 12))
        if kind == 2:
            return self.string()
        if kind == 3:
            return self.int_item(rng.choice([8, 64, 2039]))
        if kind == 4:
            return rng.random() < 0.5
        if kind == 5:
            return uuid.UUID(int=rng.getrandbits(128))
        if kind == 6:
            return fdb.tuple.SingleFloat(self.float_value(8))
        if kind == 7:
            return self.float_value(11)
        if kind == 8:
            return fdb.tuple.Versionstamp(rng.randbytes(10), rng.randint(0, 0xFFFF))
        if kind == 9:
            return rng.randint(-(2**64), 2**64)
        return tuple(self.item(depth + 1, stamps) for _ in range(rng.randint(0, 3)))

    def tuple_items(self, max_size: int = 6, stamps: bool = True) -> tuple:
        return tuple(self.item(0, stamps) for _ in range(self.random.randint(1, max_size)))

    # -- operations ------------------------------------------------------------------------

    def generate(self) -> Program:
        main = _Builder(self.random, self.prefix)
        main.op("NEW_TRANSACTION")
        main.op("GET_READ_VERSION", pushes=1)
        self.preload(main)
        next_checkpoint = self.random.randint(50, 150)
        thread_count = 0
        while main.operations < self.size:
            if main.operations >= next_checkpoint:
                main.wait_reads()
                main.log_stack(log_prefix(self.prefix))
                next_checkpoint = main.operations + self.random.randint(50, 150)
            if self.features.threads and thread_count < 2 and self.random.random() < 0.004:
                self.thread(main, b"thread%d" % thread_count)
                thread_count += 1
                continue
            self.random_operation(main)
        main.wait_reads()
        main.blocking_commit()
        main.op("NEW_TRANSACTION")
        main.log_stack(log_prefix(self.prefix))
        self.threads[self.prefix] = main.instructions
        self.versionstamp_numbers[self.prefix] = main.versionstamps
        return Program(self.seed, self.threads, self.versionstamp_numbers)

    def preload(self, b: _Builder) -> None:
        for index, key in enumerate(self.random.sample(self.keys, k=len(self.keys) // 2)):
            b.push(key, self.value())
            b.op("SET", pops=2)
            if index % 20 == 19:
                b.blocking_commit()
        b.blocking_commit()

    def random_operation(self, b: _Builder) -> None:
        rng = self.random
        choice = rng.choices(
            [
                self.read, self.write, self.database_write, self.transaction_op,
                self.version_op, self.conflict_op, self.size_op, self.tuple_op,
                self.stack_op, self.versionstamp_op, self.reuse_result, self.conflict_scenario,
            ],
            weights=[30, 22, 5, 6, 3, 4, 2, 10, 8, 3 if self.features.versionstamps else 0, 3, 2],
        )[0]  # fmt: skip
        choice(b)

    def read(self, b: _Builder) -> None:
        rng = self.random
        kind = rng.choice(
            ["GET", "GET_KEY", "GET_RANGE", "GET_RANGE_STARTS_WITH", "GET_RANGE_SELECTOR"]
        )
        suffix = rng.choice(["", "", "_SNAPSHOT", "_DATABASE"])
        if kind == "GET":
            b.push(self.key())
            pops = 1
        elif kind == "GET_KEY":
            b.push(self.bound(), rng.randint(0, 1), self.offset(), WORKSPACE)
            pops = 4
        elif kind == "GET_RANGE":
            b.push(*self.read_range(), *self.range_params())
            pops = 5
        elif kind == "GET_RANGE_STARTS_WITH":
            b.push(rng.choice(self.prefixes), *self.range_params())
            pops = 4
        else:
            begin = (self.bound(), rng.randint(0, 1), self.offset())
            end = (self.bound(), rng.randint(0, 1), self.offset())
            b.push(*begin, *end, *self.range_params(), WORKSPACE)
            pops = 10
        # single-call reads on a transaction may be left pending (they are waited later)
        pending = kind in ("GET", "GET_KEY") and suffix != "_DATABASE"
        b.op(kind + suffix, pops=pops, pushes=1, pending=pending)
        self.can_set_version = False
        if pending and rng.random() < 0.4:
            b.op("WAIT_FUTURE", pops=1, pushes=1)

    def read_range(self) -> tuple[bytes, bytes]:
        """Begin and end keys of a range read; in order unless inverted_read_ranges."""
        begin, end = self.bound(), self.bound()
        if begin > end and not self.features.inverted_read_ranges:
            begin, end = end, begin
        return begin, end

    def offset(self) -> int:
        rng = self.random
        return rng.randint(-4, 4) if rng.random() < 0.9 else rng.randint(-40, 40)

    def range_params(self) -> tuple[int, int, int]:
        rng = self.random
        choice = rng.random()
        if choice < 0.55:
            limit = rng.randint(1, 12)
        elif choice < 0.8:
            limit = 0
        elif choice < 0.92:
            limit = rng.randint(13, 200)
        else:
            limit = rng.randint(10**8, 2**31 - 1)
        return limit, rng.randint(0, 1), rng.randint(-2, 4)

    def write(self, b: _Builder, suffix: str = "") -> None:
        rng = self.random
        kind = rng.choices(
            ["SET", "CLEAR", "CLEAR_RANGE", "CLEAR_RANGE_STARTS_WITH", "ATOMIC_OP"],
            weights=[10, 3, 2, 1, 6],
        )[0]
        pushes = 1 if suffix else 0
        if kind == "SET":
            b.push(self.key(), self.value())
            b.op("SET" + suffix, pops=2, pushes=pushes)
        elif kind == "CLEAR":
            b.push(self.key())
            b.op("CLEAR" + suffix, pops=1, pushes=pushes)
        elif kind == "CLEAR_RANGE":
            begin, end = self.bound(0.04), self.bound(0.04)
            if begin > end and not self.features.inverted_clear_ranges:
                begin, end = end, begin
            b.push(begin, end)
            b.op("CLEAR_RANGE" + suffix, pops=2, pushes=pushes)
        elif kind == "CLEAR_RANGE_STARTS_WITH":
            b.push(rng.choice(self.prefixes[1:] if rng.random() < 0.95 else self.prefixes))
            b.op("CLEAR_RANGE_STARTS_WITH" + suffix, pops=1, pushes=pushes)
        else:
            operation = rng.choice(ATOMIC_OPS)
            b.push(operation, self.key(), self.atomic_param(operation))
            b.op("ATOMIC_OP" + suffix, pops=3, pushes=pushes)
        if suffix:
            b.op("WAIT_FUTURE", pops=1, pushes=1)

    def database_write(self, b: _Builder) -> None:
        b.wait_reads()
        self.write(b, "_DATABASE")

    def transaction_op(self, b: _Builder) -> None:
        rng = self.random
        kind = rng.choices(
            ["COMMIT", "RESET", "CANCEL", "NEW_TRANSACTION", "USE_TRANSACTION", "ON_ERROR"],
            weights=[10, 3, 1, 3, 2, 1],
        )[0]
        b.wait_reads()
        if kind == "COMMIT":
            b.blocking_commit()
            self.can_set_version = True
            self.can_get_committed_version = False
        elif kind == "RESET":
            b.op("RESET")
            self.can_set_version = True
        elif kind == "CANCEL":
            b.op("CANCEL")
            self.can_set_version = False
        elif kind == "NEW_TRANSACTION":
            b.op("NEW_TRANSACTION")
            self.can_set_version = True
            self.can_get_committed_version = True
        elif kind == "USE_TRANSACTION":
            self.use_transaction(b, rng.choice([self.prefix, *self.names]))
            self.can_set_version = False
            self.can_get_committed_version = False
        elif b.is_cancelled and not self.features.on_error_failed_transaction:
            b.op("RESET")
        else:
            codes = ON_ERROR_CODES + ([0] if self.features.on_error_zero else [])
            b.push(rng.choice(codes) if rng.random() < 0.8 else rng.randint(1, 5000))
            b.op("ON_ERROR", pops=1, pushes=1)
            b.op("WAIT_FUTURE", pops=1, pushes=1)
            if not self.features.on_error_failed_transaction or rng.random() < 0.8:
                b.op("NEW_TRANSACTION")
                self.can_set_version = True
            else:
                self.can_set_version = False

    def version_op(self, b: _Builder) -> None:
        rng = self.random
        choice = rng.random()
        if choice < 0.3:
            b.op(rng.choice(["GET_READ_VERSION", "GET_READ_VERSION_SNAPSHOT"]), pushes=1)
            self.has_version = self.can_set_version
        elif choice < 0.45:
            if self.has_version and self.can_set_version:
                b.op("SET_READ_VERSION")
                self.can_set_version = False
        elif choice < 0.75:
            self.read_in_the_past(b)
        else:
            commit = rng.random() < 0.7
            if commit:
                b.wait_reads()
                b.op("COMMIT", pushes=1)
                b.op("WAIT_FUTURE", pops=1, pushes=1)
            b.op("GET_COMMITTED_VERSION", pushes=1)
            self.has_version = True
            if commit:
                b.op("RESET")
                self.can_set_version = True

    def read_in_the_past(self, b: _Builder) -> None:
        """Take a read version, change the database, then read at that version from a new
        transaction (SET_READ_VERSION): the read must not see the change."""
        b.wait_reads()
        b.op("NEW_TRANSACTION")
        b.op("GET_READ_VERSION", pushes=1)
        self.write(b, "_DATABASE")
        b.op("NEW_TRANSACTION")
        b.op("SET_READ_VERSION")
        self.can_set_version = False
        b.push(self.key())
        b.op("GET", pops=1, pushes=1, pending=True)
        b.push(*self.read_range(), *self.range_params())
        b.op("GET_RANGE_SNAPSHOT", pops=5, pushes=1)

    def conflict_op(self, b: _Builder) -> None:
        rng = self.random
        kind = rng.choice(["READ", "WRITE"])
        choice = rng.random()
        if choice < 0.45:
            b.push(self.bound(), self.bound())  # either order: both bindings raise 2005
            b.op(f"{kind}_CONFLICT_RANGE", pops=2, pushes=1)
        elif choice < 0.9:
            b.push(self.key())
            b.op(f"{kind}_CONFLICT_KEY", pops=1, pushes=1)
        else:
            b.op("DISABLE_WRITE_CONFLICT")

    def use_transaction(self, b: _Builder, name: bytes) -> None:
        b.current = name
        b.push(name)
        b.op("USE_TRANSACTION", pops=1)

    def conflict_scenario(self, b: _Builder) -> None:
        """Two named transactions: the reader reads (maybe at snapshot), the writer writes
        (maybe without a write conflict range) and commits, then the reader writes and
        commits — a conflict (1020) exactly when a read met a conflicting write."""
        rng = self.random
        reader, writer = rng.sample(self.names, 2)
        b.wait_reads()
        self.use_transaction(b, reader)
        b.op("NEW_TRANSACTION")
        for _ in range(rng.randint(1, 3)):
            if rng.random() < 0.3:
                b.push(*sorted((self.bound(0.05), self.bound(0.05))), *self.range_params())
                b.op(rng.choice(["GET_RANGE", "GET_RANGE_SNAPSHOT"]), pops=5, pushes=1)
            elif rng.random() < 0.5:
                b.push(self.key())
                b.op(rng.choice(["GET", "GET_SNAPSHOT"]), pops=1, pushes=1)
                b.op("WAIT_FUTURE", pops=1, pushes=1)
            else:
                b.push(self.key())
                b.op("READ_CONFLICT_KEY", pops=1, pushes=1)
        self.use_transaction(b, writer)
        b.op("NEW_TRANSACTION")
        for _ in range(rng.randint(1, 3)):
            if rng.random() < 0.4:
                b.op("DISABLE_WRITE_CONFLICT")
            if rng.random() < 0.15:
                b.push(self.key())
                b.op("WRITE_CONFLICT_KEY", pops=1, pushes=1)
            else:
                self.write(b)
        b.blocking_commit()
        self.use_transaction(b, reader)
        self.write(b)
        b.blocking_commit()
        self.use_transaction(b, self.prefix)
        self.can_set_version = False

    def size_op(self, b: _Builder) -> None:
        rng = self.random
        choice = rng.random()
        if choice < 0.5:
            b.op("GET_APPROXIMATE_SIZE", pushes=1)
            return
        begin, end = sorted((self.bound(), self.bound()))
        if choice < 0.8:
            b.push(begin, end)
            b.op("GET_ESTIMATED_RANGE_SIZE", pops=2, pushes=1)
        else:
            b.push(begin, end, rng.choice([1, 100, 10_000_000]))
            b.op("GET_RANGE_SPLIT_POINTS", pops=3, pushes=1)

    def tuple_op(self, b: _Builder) -> None:
        rng = self.random
        kind = rng.choice(
            ["TUPLE_PACK", "TUPLE_UNPACK", "TUPLE_RANGE", "TUPLE_SORT", "SUB", "CONCAT",
             "ENCODE_FLOAT", "ENCODE_DOUBLE", "DECODE_FLOAT", "DECODE_DOUBLE",
             "TUPLE_PACK_WITH_VERSIONSTAMP"]
        )  # fmt: skip
        if kind in ("TUPLE_PACK", "TUPLE_RANGE"):
            items = self.tuple_items()
            b.push(len(items), *items)
            b.op(kind, pops=len(items) + 1, pushes=1 if kind == "TUPLE_PACK" else 2)
        elif kind == "TUPLE_UNPACK":
            items = self.tuple_items()
            if rng.random() < 0.5:
                b.push(len(items), *items)
                b.op("TUPLE_PACK", pops=len(items) + 1, pushes=1)
            else:
                b.push(fdb.tuple.pack(items))
            b.op("TUPLE_UNPACK", pops=1, pushes=len(items))
        elif kind == "TUPLE_SORT":
            count = rng.randint(1, 8)
            for _ in range(count):
                items = self.tuple_items(4)
                if rng.random() < 0.3 and len(items) > 1:
                    items = items[: rng.randint(1, len(items) - 1)]  # a prefix of another
                b.push(len(items), *items)
                b.op("TUPLE_PACK", pops=len(items) + 1, pushes=1)
            b.push(count)
            b.op("TUPLE_SORT", pops=count + 1, pushes=count)
        elif kind == "SUB":
            b.push(self.int_item(), self.int_item())
            b.op("SUB", pops=2, pushes=1)
        elif kind == "CONCAT":
            if rng.random() < 0.5:
                b.push(rng.randbytes(rng.randint(0, 6)), rng.randbytes(rng.randint(0, 6)))
            else:
                b.push(self.string(), self.string())
            b.op("CONCAT", pops=2, pushes=1)
        elif kind in ("ENCODE_FLOAT", "ENCODE_DOUBLE"):  # any bytes: NaN payloads included
            size, form, exponent_bits = (4, ">f", 8) if kind == "ENCODE_FLOAT" else (8, ">d", 11)
            if rng.random() < 0.5:
                b.push(rng.randbytes(size))
            else:
                b.push(struct.pack(form, self.float_value(exponent_bits)))
            b.op(kind, pops=1, pushes=1)
        elif kind == "DECODE_FLOAT":
            b.push(fdb.tuple.SingleFloat(self.float_value(8)))
            b.op(kind, pops=1, pushes=1)
        elif kind == "DECODE_DOUBLE":
            b.push(self.float_value(11))
            b.op(kind, pops=1, pushes=1)
        else:
            self.pack_with_versionstamp(b, stamps=rng.choice([0, 1, 1, 2]), prefix=rng.randbytes(3))

    def pack_with_versionstamp(self, b: _Builder, stamps: int, prefix: bytes) -> None:
        """TUPLE_PACK_WITH_VERSIONSTAMP of a tuple with ``stamps`` incomplete stamps; pushes
        the status and, for exactly one stamp, the key (on top)."""
        rng = self.random
        items = list(self.tuple_items(4, stamps=False))
        for _ in range(stamps):
            stamp = fdb.tuple.Versionstamp(UNSET_STAMP, rng.randint(0, 0xFFFF))
            if rng.random() < 0.2:
                stamp = (stamp, self.item(1, stamps=False))  # nested one level down
            items.insert(rng.randint(0, len(items)), stamp)
        b.push(prefix, len(items), *items)
        b.op("TUPLE_PACK_WITH_VERSIONSTAMP", pops=len(items) + 2, pushes=2 if stamps == 1 else 1)

    def stack_op(self, b: _Builder) -> None:
        rng = self.random
        depth = len(b.stack)
        kinds = ["DUP", "SWAP", "POP", "WAIT_FUTURE", "EMPTY_STACK"]
        kind = rng.choices(kinds, [4, 4, 3, 2, 0.2])[0]
        if depth == 0 or kind == "EMPTY_STACK":
            if depth and rng.random() < 0.5:
                b.op("EMPTY_STACK")
                b.stack.clear()
            return
        if kind == "DUP":
            b.op("DUP", pushes=1, pending=b.stack[-1])
        elif kind == "SWAP":
            b.swap(rng.randint(0, depth - 1))
        elif kind == "POP":
            b.op("POP", pops=1)
        else:
            b.op("WAIT_FUTURE", pops=1, pushes=1)

    def reuse_result(self, b: _Builder) -> None:
        """A GET whose (maybe pending) result becomes the value of a SET."""
        b.push(self.key())
        b.op("GET", pops=1, pushes=1, pending=True)
        b.push(self.key())
        b.op("SET", pops=2)

    def versionstamp_op(self, b: _Builder) -> None:
        """Versionstamped keys and values in the stamps subspace, then maybe a commit with
        GET_VERSIONSTAMP."""
        rng = self.random
        self.stamp_ids += 1
        user_version = rng.randint(0, 0xFFFF)
        choice = rng.random()
        if choice < 0.35:
            items = (self.stamp_ids, fdb.tuple.Versionstamp(user_version=user_version))
            items += self.tuple_items(2, stamps=False) if rng.random() < 0.5 else ()
            key = fdb.tuple.pack_with_versionstamp(items, prefix=STAMPED_KEYS)
            b.push("SET_VERSIONSTAMPED_KEY", key, self.value())
            b.op("ATOMIC_OP", pops=3)
        elif choice < 0.7:
            key = STAMPED_VALUES + fdb.tuple.pack((self.stamp_ids,))
            stamp = fdb.tuple.Versionstamp(user_version=user_version)
            param = fdb.tuple.pack_with_versionstamp(("value", stamp, self.item(1, stamps=False)))
            b.push("SET_VERSIONSTAMPED_VALUE", key, param)
            b.op("ATOMIC_OP", pops=3)
        else:  # the key built on the stack by TUPLE_PACK_WITH_VERSIONSTAMP
            b.push(self.value())
            self.pack_with_versionstamp(b, stamps=1, prefix=STAMPED_KEYS)
            b.swap(1)
            b.op("POP", pops=1)  # the b"OK"
            b.push("SET_VERSIONSTAMPED_KEY")
            b.op("ATOMIC_OP", pops=3)
        if rng.random() < 0.5:
            b.versionstamps.add(len(b.instructions))
            b.op("GET_VERSIONSTAMP", pushes=1)
            b.blocking_commit()
            self.can_set_version = True
            self.can_get_committed_version = False

    def thread(self, main: _Builder, prefix: bytes) -> None:
        """START_THREAD of a short program on its own keys; the main thread WAIT_EMPTYs
        until the thread clears its wait key (so what follows is deterministic)."""
        rng = self.random
        main.wait_reads()
        main.push(wait_prefix(prefix), b"")
        main.op("SET_DATABASE", pops=2, pushes=1)
        main.op("WAIT_FUTURE", pops=1, pushes=1)
        main.push(prefix)
        main.op("START_THREAD", pops=1)
        main.push(wait_prefix(prefix))
        main.op("WAIT_EMPTY", pops=1, pushes=1)

        thread = _Builder(rng)
        thread.op("NEW_TRANSACTION")
        own = [WORKSPACE + fdb.tuple.pack(("thread", prefix, index)) for index in range(4)]
        for key in own:
            thread.push(key, self.value())
            thread.op("SET", pops=2)
        thread.push(self.key())
        thread.op("GET", pops=1, pushes=1, pending=True)
        thread.push(own[0], strinc(own[-1]), 0, rng.randint(0, 1), -2)
        thread.op("GET_RANGE", pops=5, pushes=1)
        thread.blocking_commit()
        thread.log_stack(log_prefix(prefix))
        thread.push(wait_prefix(prefix))
        thread.op("CLEAR_DATABASE", pops=1, pushes=1)
        thread.op("WAIT_FUTURE", pops=1, pushes=1)
        self.threads[prefix] = thread.instructions
        self.versionstamp_numbers[prefix] = set()


def generate(
    seed: int, size: int = 1_000, features: Features | None = None, prefix: bytes = MAIN_PREFIX
) -> Program:
    """A program of at least ``size`` main-thread operations (instructions other than PUSH),
    the same for the same seed, stored under ``prefix`` (its thread and transaction names
    derive from it; START_THREADs only when ``features.threads``)."""
    return _Generator(seed, size, features or Features(), prefix).generate()


# --- directory programs ----------------------------------------------------------------------

DIRECTORY_NAMES = ["a", "b", "", "\U0001f4a9"]
DIRECTORY_LAYERS = [b"", b"", b"", b"test_layer", b"partition"]
DIRECTORY_LOG = fdb.tuple.pack(("directory_log", "directory"))
SUBSPACE_LOG = fdb.tuple.pack(("directory_log", "subspace"))
_APPENDS = {
    "DIRECTORY_CREATE_SUBSPACE", "DIRECTORY_CREATE_LAYER", "DIRECTORY_CREATE_OR_OPEN",
    "DIRECTORY_CREATE", "DIRECTORY_OPEN", "DIRECTORY_MOVE", "DIRECTORY_MOVE_TO",
    "DIRECTORY_OPEN_SUBSPACE",
}  # fmt: skip


class _DirectoryGenerator:
    """Random directory-extension programs: several directory layers (the default one,
    layers over subspaces with and without manual prefixes, partitions), every directory
    instruction and its _DATABASE/_SNAPSHOT forms, and both log instructions. The
    directory list's entries are only tracked by count: an instruction on an entry of the
    wrong kind is a DIRECTORY_ERROR on both sides, which is compared like any result."""

    def __init__(self, seed: int, size: int) -> None:
        self.seed = seed
        self.size = size
        self.random = random.Random(seed)
        self.kinds = ["layer"]  # per directory-list entry: layer, directory or subspace
        self.layers = 0
        self.known_paths: list[tuple[str, ...]] = []  # paths given to create instructions

    @property
    def entries(self) -> int:
        return len(self.kinds)

    def path(self, minimum: int = 1) -> tuple[str, ...]:
        """A new path (short, over few names) or, often, one created before."""
        rng = self.random
        if minimum and self.known_paths and rng.random() < 0.5:
            return rng.choice(self.known_paths)
        length = rng.choices([0, 1, 2, 3], [minimum == 0, 6, 3, 1])[0]
        return tuple(rng.choice(DIRECTORY_NAMES) for _ in range(length))

    def push_path(self, b: _Builder, path: tuple[str, ...]) -> None:
        b.push(len(path), *path)

    def op(self, b: _Builder, name: str, suffix: str = "", kind: str = "directory") -> None:
        """Emits ``name + suffix``; an appending instruction adds an entry of ``kind``
        (a guess: on failure the tester appends None)."""
        b.op(name + suffix)
        if name in _APPENDS:
            self.kinds.append(kind)

    def change_to(self, b: _Builder, kinds: tuple[str, ...]) -> None:
        """DIRECTORY_CHANGE to an entry of one of ``kinds`` (sometimes to any entry)."""
        rng = self.random
        candidates = [index for index, kind in enumerate(self.kinds) if kind in kinds]
        if not candidates or rng.random() < 0.15:
            candidates = list(range(self.entries))
        elif "layer" in kinds and rng.random() < 0.4:
            candidates = [0]  # the default directory layer, where most paths are
        b.push(rng.choice(candidates))
        b.op("DIRECTORY_CHANGE")

    def new_layer(self, b: _Builder) -> None:
        """Two subspaces, then a directory layer over them (node, content)."""
        self.layers += 1
        for role in ("node", "content"):
            b.push(fdb.tuple.pack((f"layer{self.layers}", role)))
            self.push_path(b, self.path(0))
            self.op(b, "DIRECTORY_CREATE_SUBSPACE", kind="subspace")
        b.push(self.entries - 2, self.entries - 1, self.random.randint(0, 1))
        self.op(b, "DIRECTORY_CREATE_LAYER", kind="layer")

    def generate(self) -> Program:
        rng = self.random
        b = _Builder(rng)
        b.op("NEW_TRANSACTION")
        for _ in range(2):
            self.new_layer(b)
        next_log = rng.randint(40, 120)
        while b.operations < self.size:
            if b.operations >= next_log:
                b.log_stack(log_prefix(MAIN_PREFIX))
                next_log = b.operations + rng.randint(40, 120)
            self.random_operation(b)
        b.blocking_commit()
        b.op("NEW_TRANSACTION")
        b.log_stack(log_prefix(MAIN_PREFIX))
        return Program(self.seed, {MAIN_PREFIX: b.instructions}, {MAIN_PREFIX: set()})

    def random_operation(self, b: _Builder) -> None:
        rng = self.random
        kind = rng.choices(
            ["commit", "new_transaction", "layer", "create_subspace", "create_or_open",
             "create", "open", "move", "move_to", "remove", "list_or_exists", "pack",
             "range", "contains", "open_subspace", "log", "error_index"],
            weights=[5, 1, 1, 2, 8, 6, 5, 4, 2, 4, 6, 4, 2, 2, 2, 4, 1],
        )[0]  # fmt: skip
        suffix = rng.choice(["", "", "_DATABASE"])
        if suffix and kind in ("create_or_open", "create", "open", "move", "move_to", "remove"):
            b.blocking_commit()  # what the current transaction did is then visible to it
        if rng.random() < 0.6:
            if kind in ("pack", "range", "contains", "open_subspace"):
                self.change_to(b, ("subspace", "directory"))
            else:
                self.change_to(b, ("layer", "directory"))
        if kind == "commit":
            b.blocking_commit()
        elif kind == "new_transaction":
            b.op("NEW_TRANSACTION")
        elif kind == "layer":
            self.new_layer(b)
        elif kind == "create_subspace":
            b.push(rng.randbytes(rng.randint(0, 3)))
            self.push_path(b, self.path(0))
            self.op(b, "DIRECTORY_CREATE_SUBSPACE", kind="subspace")
        elif kind == "create_or_open":
            b.push(rng.choice(DIRECTORY_LAYERS))
            self.known_paths.append(self.path())
            self.push_path(b, self.known_paths[-1])
            self.op(b, "DIRECTORY_CREATE_OR_OPEN", suffix)
        elif kind == "create":
            prefix = None if rng.random() < 0.5 else b"\x05" + rng.randbytes(rng.randint(0, 2))
            b.push(prefix)
            b.push(rng.choice(DIRECTORY_LAYERS))
            self.known_paths.append(self.path())
            self.push_path(b, self.known_paths[-1])
            self.op(b, "DIRECTORY_CREATE", suffix)
        elif kind == "open":
            b.push(rng.choice(DIRECTORY_LAYERS) if rng.random() < 0.2 else b"")
            self.push_path(b, self.path())
            self.op(b, "DIRECTORY_OPEN", rng.choice(["", "_DATABASE", "_SNAPSHOT"]))
        elif kind == "move":
            new, old = self.path(), self.path()
            self.push_path(b, new)
            self.push_path(b, old)
            self.op(b, "DIRECTORY_MOVE", suffix)
        elif kind == "move_to":
            self.push_path(b, self.path())
            self.op(b, "DIRECTORY_MOVE_TO", suffix)
        elif kind == "remove":
            self.optional_path(b)
            self.op(b, rng.choice(["DIRECTORY_REMOVE", "DIRECTORY_REMOVE_IF_EXISTS"]), suffix)
        elif kind == "list_or_exists":
            self.optional_path(b)
            name = rng.choice(["DIRECTORY_LIST", "DIRECTORY_EXISTS"])
            self.op(b, name, rng.choice(["", "_DATABASE", "_SNAPSHOT"]))
        elif kind == "pack":
            items = tuple(rng.choice([1, "x", b"y", None, (2, "z")]) for _ in range(3))
            b.push(len(items), *items)
            self.op(b, "DIRECTORY_PACK_KEY")
            b.op("DUP")
            self.op(b, rng.choice(["DIRECTORY_UNPACK_KEY", "DIRECTORY_STRIP_PREFIX"]))
        elif kind == "range":
            b.push(1, rng.choice(["x", 7, b""]))
            self.op(b, "DIRECTORY_RANGE")
        elif kind == "contains":
            b.push(rng.choice([b"", b"\x15\x01", b"\x05\x01\x02", rng.randbytes(3)]))
            self.op(b, "DIRECTORY_CONTAINS")
        elif kind == "open_subspace":
            b.push(1, rng.choice(["x", 7]))
            self.op(b, "DIRECTORY_OPEN_SUBSPACE", kind="subspace")
        elif kind == "log":
            if rng.random() < 0.5:
                b.push(SUBSPACE_LOG)
                self.op(b, "DIRECTORY_LOG_SUBSPACE")
            else:
                b.push(DIRECTORY_LOG)
                self.op(b, "DIRECTORY_LOG_DIRECTORY")
        else:
            b.push(rng.randrange(self.entries))
            self.op(b, "DIRECTORY_SET_ERROR_INDEX")

    def optional_path(self, b: _Builder) -> None:
        if self.random.random() < 0.7:
            self.push_path(b, self.path())
            b.push(1)
        else:
            b.push(0)


def generate_directory(seed: int, size: int = 500) -> Program:
    """A directory-extension program of at least ``size`` operations (non-PUSH)."""
    return _DirectoryGenerator(seed, size).generate()

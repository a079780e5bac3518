"""Several processes on one data directory, through `found` and the official `fdb` binding.

Each child is a fresh Python process (a script given with -c) that takes commands on stdin
and reports events on stdout, one `word arg...` line each; a thread of this process reads
and timestamps them. What is checked is the multi-process contract: invariants hold in
every snapshot, a commit acknowledged to one process is visible to the next transaction of
any other (strict serializability), conflicts between processes fail with 1020,
versionstamps are unique and ordered, watches see other processes' writes, a SIGKILLed
committer neither loses anyone's acknowledged commit nor stalls the others, and
checkpoints run while other processes keep the directory open.
"""

from __future__ import annotations

import asyncio
import os
import queue
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers import run_python

import found

# ==================================================================== child scripts

# Every child: `say` writes one event line (from any thread) and flushes it at once.
PRELUDE = textwrap.dedent(
    """
    import asyncio, json, os, random, sys, threading, time
    _say_lock = threading.Lock()
    def say(*words):
        with _say_lock:
            sys.stdout.write(" ".join(map(str, words)) + "\\n")
            sys.stdout.flush()
    """
)

# The official binding on the embedded engine, loaded the way tests/conftest.py does it.
FDB_PRELUDE = PRELUDE + textwrap.dedent(
    """
    import ctypes, found._native
    ctypes.CDLL(found._native.embedded_library_path())
    import fdb, fdb.tuple
    fdb.api_version(730)
    db = fdb.open("found:" + sys.argv[1])
    """
)

# An interactive client on `found`. Keys and values are ASCII words.
#   begin | rv | get K | set K V | commit       one transaction, step by step
#   watch K                                     watch K (own transaction); "fired K" later
#   bump K                                      K += 1 in a new transaction (retried)
#   stamps LABEL N                              N versionstamped commits from 4 tasks
#   fill N SIZE                                 N commits of one SIZE-byte value each
#   count                                       check what `fill` wrote, in one snapshot
#   status                                      checkpoints written, log generation
AGENT_FOUND = PRELUDE + textwrap.dedent(
    """
    import found

    async def retried(db, body):
        tx = found.create_transaction(db)
        try:
            while True:
                try:
                    result = await body(tx)
                    await found.commit(tx)
                    return result, found.committed_version(tx)
                except found.errors.FDBError as error:
                    await found.on_error(tx, error)
        finally:
            tx.close()

    async def bump(db, key):
        async def body(tx):
            read_version = await found.read_version(tx)
            seen = int(await found.get(tx, key) or b"0")
            found.set(tx, key, b"%d" % (seen + 1))
            return seen, read_version
        (seen, read_version), committed = await retried(db, body)
        say("bumped", seen, read_version, committed)

    async def stamps(db, label, count):
        async def one(n):
            async def body(tx):
                key = found.pack_with_versionstamp(("vs", found.Versionstamp()))
                found.set_versionstamped_key(tx, key, b"%s-%d" % (label.encode(), n))
                return found.get_versionstamp(tx)
            stamp, committed = await retried(db, body)
            say("stamp", (await stamp).hex(), committed, label, n)
        async def worker(first):
            for n in range(first, count, 4):
                await one(n)
        await asyncio.gather(*(worker(first) for first in range(4)))

    def fill_value(n, size):
        return (b"%08d" % n) * (size // 8)

    async def fill(db, count, size):
        async def one(n):
            async def body(tx):
                found.set(tx, found.pack(("fill", n)), fill_value(n, size))
            await retried(db, body)
        async def worker(first):
            for n in range(first, count, 4):
                await one(n)
        await asyncio.gather(*(worker(first) for first in range(4)))

    async def count(db):
        async def body(tx):
            return await found.all(found.query(tx, *found.Subspace(("fill",)).range()))
        rows = await found.transactional(db, body)
        wrong = sum(1 for key, value in rows
                    if value != fill_value(found.unpack(key)[1], len(value)))
        say("count", len(rows), wrong)

    async def status(db):
        async with found.transaction(db) as tx:
            engine = json.loads(await found.get(tx, b"\\xff\\xff/status/json"))["found"]
        say("status", engine["checkpoints"], engine["log_generation"])

    async def fired(future, name):
        await future
        say("fired", name)

    async def main():
        db = await found.open(sys.argv[1])
        say("open", os.getpid())
        tx = None
        background = set()
        while True:
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:
                break
            command, *args = line.split()
            if command == "begin":
                tx = found.create_transaction(db)
            elif command == "rv":
                say("rv", await found.read_version(tx))
            elif command == "get":
                value = await found.get(tx, args[0].encode())
                say("value", "-" if value is None else value.decode())
            elif command == "set":
                found.set(tx, args[0].encode(), args[1].encode())
            elif command == "commit":
                try:
                    await found.commit(tx)
                    say("committed", found.committed_version(tx))
                except found.errors.FDBError as error:
                    say("error", error.code)
            elif command == "watch":
                key = args[0].encode()
                async with found.transaction(db) as watching:
                    await found.get(watching, key)
                    future = found.watch(watching, key)
                background.add(asyncio.create_task(fired(future, args[0])))
                say("watching", args[0])
            elif command == "bump":
                await bump(db, args[0].encode())
            elif command == "stamps":
                await stamps(db, args[0], int(args[1]))
                say("stamped")
            elif command == "fill":
                await fill(db, int(args[0]), int(args[1]))
                say("filled")
            elif command == "count":
                await count(db)
            elif command == "status":
                await status(db)
            else:
                raise SystemExit(f"unknown command {command!r}")
        for task in background:
            task.cancel()
        db.close()

    asyncio.run(main())
    """
)

# The same protocol on the official `fdb` binding (synchronous; watches and versionstamp
# workers on threads). Supports begin, rv, get, set, commit, watch, bump, stamps.
AGENT_FDB = FDB_PRELUDE + textwrap.dedent(
    """
    def retried(body):
        tr = db.create_transaction()
        while True:
            try:
                result = body(tr)
                tr.commit().wait()
                return result, tr.get_committed_version()
            except fdb.FDBError as error:
                tr.on_error(error).wait()

    def bump(key):
        def body(tr):
            read_version = tr.get_read_version().wait()
            seen = int(tr[key].value or b"0")
            tr[key] = b"%d" % (seen + 1)
            return seen, read_version
        (seen, read_version), committed = retried(body)
        say("bumped", seen, read_version, committed)

    def stamps(label, count):
        def worker(first):
            for n in range(first, count, 4):
                def body(tr):
                    key = fdb.tuple.pack_with_versionstamp(("vs", fdb.tuple.Versionstamp()))
                    tr.set_versionstamped_key(key, b"%s-%d" % (label.encode(), n))
                    return tr.get_versionstamp()
                stamp, committed = retried(body)
                say("stamp", stamp.wait().hex(), committed, label, n)
        workers = [threading.Thread(target=worker, args=(first,)) for first in range(4)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()

    say("open", os.getpid())
    tr = None
    for line in sys.stdin:
        command, *args = line.split()
        if command == "begin":
            tr = db.create_transaction()
        elif command == "rv":
            say("rv", tr.get_read_version().wait())
        elif command == "get":
            value = tr[args[0].encode()].value
            say("value", "-" if value is None else value.decode())
        elif command == "set":
            tr[args[0].encode()] = args[1].encode()
        elif command == "commit":
            try:
                tr.commit().wait()
                say("committed", tr.get_committed_version())
            except fdb.FDBError as error:
                say("error", error.code)
        elif command == "watch":
            key, name = args[0].encode(), args[0]
            watching = db.create_transaction()
            watching[key].wait()
            future = watching.watch(key)
            watching.commit().wait()
            future.on_ready(lambda _future, name=name: say("fired", name))
            say("watching", name)
        elif command == "bump":
            bump(args[0].encode())
        elif command == "stamps":
            stamps(args[0], int(args[1]))
            say("stamped")
        else:
            raise SystemExit(f"unknown command {command!r}")
    """
)

AGENTS = {"found": AGENT_FOUND, "fdb": AGENT_FDB}

# Bank transfers between ACCOUNTS accounts for SECONDS: each read-modify-writes two
# balances and records ("log", LABEL, n) -> (source, target, amount) in the same
# transaction; "ack n" once n is acknowledged. A transfer whose log key already exists is
# not applied again (an attempt that committed after all is never doubled).
BANK_FOUND = PRELUDE + textwrap.dedent(
    """
    import itertools, found
    DIRECTORY, LABEL, SECONDS, ACCOUNTS = sys.argv[1:5]
    SECONDS, ACCOUNTS = float(SECONDS), int(ACCOUNTS)

    async def transfer(tx, n, source, target, amount):
        log = found.pack(("log", LABEL, n))
        if await found.get(tx, log) is not None:
            return
        keys = [found.pack(("acct", source)), found.pack(("acct", target))]
        have, other = [int(value) for value in
                       await asyncio.gather(*(found.get(tx, key) for key in keys))]
        amount = min(amount, have)
        found.set(tx, keys[0], b"%d" % (have - amount))
        found.set(tx, keys[1], b"%d" % (other + amount))
        found.set(tx, log, found.pack((source, target, amount)))

    async def main():
        db = await found.open(DIRECTORY)
        say("open", os.getpid())
        rng = random.Random()
        numbers = itertools.count()
        deadline = time.monotonic() + SECONDS
        async def worker():
            while time.monotonic() < deadline:
                n = next(numbers)
                source, target = rng.sample(range(ACCOUNTS), 2)
                await found.transactional(db, transfer, n, source, target, rng.randint(1, 50))
                say("ack", n)
        await asyncio.gather(*(worker() for _ in range(4)))
        db.close()
        say("done")

    asyncio.run(main())
    """
)

BANK_FDB = FDB_PRELUDE + textwrap.dedent(
    """
    import itertools
    DIRECTORY, LABEL, SECONDS, ACCOUNTS = sys.argv[1:5]
    SECONDS, ACCOUNTS = float(SECONDS), int(ACCOUNTS)

    @fdb.transactional
    def transfer(tr, n, source, target, amount):
        log = fdb.tuple.pack(("log", LABEL, n))
        if tr[log].present():
            return
        keys = [fdb.tuple.pack(("acct", source)), fdb.tuple.pack(("acct", target))]
        have, other = [int(tr[key].value) for key in keys]
        amount = min(amount, have)
        tr[keys[0]] = b"%d" % (have - amount)
        tr[keys[1]] = b"%d" % (other + amount)
        tr[log] = fdb.tuple.pack((source, target, amount))

    numbers = itertools.count()
    deadline = time.monotonic() + SECONDS

    def worker():
        rng = random.Random()
        while time.monotonic() < deadline:
            n = next(numbers)
            source, target = rng.sample(range(ACCOUNTS), 2)
            transfer(db, n, source, target, rng.randint(1, 50))
            say("ack", n)

    say("open", os.getpid())
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    say("done")
    """
)

# Commits as fast as 4 tasks can, each transaction writing ("a", LABEL, RUN, i) and
# ("b", LABEL, RUN, i) and adding 1 to b"count"; "ack i" once acknowledged. Stops when
# stdin closes. Idempotent like the bank: a retry never counts twice.
STORM = PRELUDE + textwrap.dedent(
    """
    import itertools, found
    DIRECTORY, LABEL, RUN = sys.argv[1], sys.argv[2], int(sys.argv[3])

    async def commit_one(tx, index):
        first = found.pack(("a", LABEL, RUN, index))
        if await found.get(tx, first) is not None:
            return
        value = b"%s-%d-%d." % (LABEL.encode(), RUN, index) * 8
        found.set(tx, first, value)
        found.set(tx, found.pack(("b", LABEL, RUN, index)), value)
        found.add(tx, b"count", (1).to_bytes(8, "little"))

    async def main():
        db = await found.open(DIRECTORY)
        numbers = itertools.count()
        stop = asyncio.Event()
        async def writer():
            while not stop.is_set():
                index = next(numbers)
                await found.transactional(db, commit_one, index)
                say("ack", index)
        say("started", os.getpid())
        writers = [asyncio.create_task(writer()) for _ in range(4)]
        await asyncio.to_thread(sys.stdin.readline)
        stop.set()
        await asyncio.gather(*writers)
        db.close()
        say("stopped")

    asyncio.run(main())
    """
)

# ==================================================================== the parent's side

Event = tuple[float, list[str]]


class Child:
    """A child process on the line protocol above. Events that arrive while another is
    awaited are kept for later, so `expect` can pick them in any order."""

    def __init__(self, script: str, *args: str, env: dict[str, str] | None = None) -> None:
        environment = {
            name: value for name, value in os.environ.items() if not name.startswith("FOUND_FAULT")
        }  # fault injection would turn the exact outcomes checked here into random ones
        environment.update(env or {})
        self.process = subprocess.Popen(
            [sys.executable, "-c", script, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
        )
        self.events: queue.Queue[Event] = queue.Queue()
        self.held: deque[Event] = deque()
        self.errors: list[str] = []
        self.ended = False
        self.readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self.readers:
            reader.start()

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.events.put((time.monotonic(), line.split()))
        self.events.put((time.monotonic(), ["<eof>"]))

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.errors.append(line)

    def describe(self) -> str:
        stderr = "".join(self.errors)[-3000:]
        return f"child {self.process.pid} (exit {self.process.poll()}): {stderr}"

    def send(self, *words: object) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(" ".join(map(str, words)) + "\n")
        self.process.stdin.flush()

    def _wait_for(self, word: str, timeout: float) -> Event:
        for index, (stamp, words) in enumerate(self.held):
            if words[0] == word:
                del self.held[index]
                return stamp, words[1:]
        deadline = time.monotonic() + timeout
        while not self.ended:
            try:
                stamp, words = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if words == ["<eof>"]:
                self.ended = True
                self.process.wait(timeout=30)
            elif words[0] == word:
                return stamp, words[1:]
            else:
                self.held.append((stamp, words))
        why = "before exiting" if self.ended else f"within {timeout} s"
        raise AssertionError(f"no {word!r} {why} from {self.describe()}")

    async def expect_at(self, word: str, timeout: float = 30.0) -> Event:
        """The next `word` event: its arrival time and its arguments."""
        return await asyncio.to_thread(self._wait_for, word, timeout)

    async def expect(self, word: str, timeout: float = 30.0) -> list[str]:
        return (await self.expect_at(word, timeout))[1]

    def arrived(self, word: str) -> bool:
        """Whether a `word` event has arrived (without waiting)."""
        while True:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                break
            if event[1] == ["<eof>"]:
                self.ended = True
            else:
                self.held.append(event)
        return any(words[0] == word for _, words in self.held)

    def drain(self, word: str) -> list[Event]:
        """Every `word` event received so far; all of them once the process has ended."""
        if self.process.poll() is not None:
            for reader in self.readers:
                reader.join(timeout=30)
        self.arrived(word)
        taken = [event for event in self.held if event[1][0] == word]
        self.held = deque(event for event in self.held if event[1][0] != word)
        return [(stamp, words[1:]) for stamp, words in taken]

    async def finish(self, timeout: float = 60.0) -> int:
        """Closes stdin (the agents' signal to stop) and waits for the exit status."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        return await asyncio.to_thread(self.process.wait, timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()


Spawn = Callable[..., Child]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Starts children; whatever is still running at the end of the test is killed."""
    started: list[Child] = []

    def start(script: str, *args: str, env: dict[str, str] | None = None) -> Child:
        child = Child(script, *args, env=env)
        started.append(child)
        return child

    yield start
    for child in started:
        child.kill()


async def agents(
    spawn: Spawn, directory: Path, *kinds: str, env: dict[str, str] | None = None
) -> list[Child]:
    """Interactive clients (`found` or `fdb`) on directory, each with the database open."""
    children = [spawn(AGENTS[kind], str(directory), env=env) for kind in kinds]
    for child in children:
        await child.expect("open")
    return children


async def create(directory: Path) -> None:
    """Makes directory a database before any child opens it."""
    db = await found.open(str(directory))
    db.close()


def verify_cli(directory: Path) -> subprocess.CompletedProcess[str]:
    return run_python("-m", "found", "verify", str(directory), timeout=120)


async def read_everything(db: found.Database) -> dict[bytes, bytes]:
    async def scan(tx: found.Transaction) -> dict[bytes, bytes]:
        return dict(await found.all(found.query(tx, b"", b"\xff")))

    return await found.transactional(db, scan)


# ==================================================================== a. bank transfers

ACCOUNTS = 20
OPENING_BALANCE = 1000


def check_bank_snapshot(rows: dict[bytes, bytes]) -> set[tuple[str, int]]:
    """Checks one consistent snapshot: the total is unchanged and every balance equals the
    opening balance plus the transfers logged in the same snapshot; returns the logged
    transfer ids."""
    balances = {}
    expected = dict.fromkeys(range(ACCOUNTS), OPENING_BALANCE)
    logged = set()
    for key, value in rows.items():
        kind, *rest = found.unpack(key)
        if kind == "acct":
            balances[rest[0]] = int(value)
        elif kind == "log":
            source, target, amount = found.unpack(value)
            expected[source] -= amount
            expected[target] += amount
            logged.add((rest[0], rest[1]))
    assert sum(balances.values()) == ACCOUNTS * OPENING_BALANCE, balances
    assert balances == expected, "balances disagree with the transfers logged beside them"
    assert min(balances.values()) >= 0
    return logged


async def test_bank_transfers_keep_the_total_in_every_snapshot(tmp_path: Path, spawn: Spawn):
    """Two `found` and two `fdb` processes move money between 20 accounts while this
    process reads: each of its snapshots is consistent, nothing acknowledged is lost."""
    db = await found.open(str(tmp_path))
    try:
        async with found.transaction(db) as tx:
            for account in range(ACCOUNTS):
                found.set(tx, found.pack(("acct", account)), b"%d" % OPENING_BALANCE)
        seconds = "4"
        labels = {"found0": BANK_FOUND, "found1": BANK_FOUND, "fdb0": BANK_FDB, "fdb1": BANK_FDB}
        children = {
            label: spawn(script, str(tmp_path), label, seconds, str(ACCOUNTS))
            for label, script in labels.items()
        }
        for child in children.values():
            await child.expect("open")
        snapshots = 0
        while any(child.process.poll() is None for child in children.values()):
            check_bank_snapshot(await read_everything(db))
            snapshots += 1
            await asyncio.sleep(0.01)
        for child in children.values():
            assert child.process.wait() == 0, child.describe()
            assert child.drain("done"), child.describe()
        acknowledged = {
            (label, int(words[0]))
            for label, child in children.items()
            for _, words in child.drain("ack")
        }
        logged = check_bank_snapshot(await read_everything(db))
    finally:
        db.close()
    lost = sorted(acknowledged - logged)
    assert not lost, f"acknowledged transfers lost: {lost[:5]}"
    by_process = Counter(label for label, _ in acknowledged)
    assert set(by_process) == set(labels), f"a process made no transfer: {by_process}"
    assert snapshots >= 20  # the reads really ran alongside the transfers


# ==================================================================== b. conflicts


@pytest.mark.parametrize("reader, writer", [("found", "fdb"), ("fdb", "found"), ("found", "found")])
async def test_a_write_from_another_process_conflicts(
    tmp_path: Path, spawn: Spawn, reader: str, writer: str
):
    """A reads k, B commits k, A's commit fails with 1020; with disjoint keys both commit
    and A's next transaction sees B's write."""
    await create(tmp_path)
    a, b = await agents(spawn, tmp_path, reader, writer)
    for round_ in range(3):
        a.send("begin")
        a.send("rv")
        read_version = int((await a.expect("rv"))[0])
        a.send("get", "k")
        await a.expect("value")
        b.send("begin")
        b.send("set", "k", f"b{round_}")
        b.send("commit")
        committed = int((await b.expect("committed"))[0])
        assert committed > read_version
        a.send("set", "other", f"a{round_}")
        a.send("commit")
        assert await a.expect("error") == ["1020"]

    a.send("begin")
    a.send("get", "k1")
    await a.expect("value")
    b.send("begin")
    b.send("set", "k2", "from-b")
    b.send("commit")
    await b.expect("committed")
    a.send("set", "k3", "from-a")
    a.send("commit")
    await a.expect("committed")
    a.send("begin")
    for key in ("k", "other", "k2", "k3"):
        a.send("get", key)
    assert [(await a.expect("value"))[0] for _ in range(4)] == ["b2", "-", "from-b", "from-a"]
    for child in (a, b):
        assert await child.finish() == 0, child.describe()


# ==================================================================== c. strict serializability


async def test_each_process_sees_the_commit_acknowledged_to_the_other(tmp_path: Path, spawn: Spawn):
    """Two processes take turns incrementing one counter, each turn starting after the
    other's commit was acknowledged: every turn must see the previous one, with a read
    version at or after the previous commit and a later commit version."""
    await create(tmp_path)
    pair = await agents(spawn, tmp_path, "found", "fdb")
    last_commit = 0
    for turn in range(150):
        child = pair[turn % 2]
        child.send("bump", "counter")
        seen, read_version, committed = map(int, await child.expect("bumped"))
        assert seen == turn, f"turn {turn} saw {seen}: the other process's commit is missing"
        assert read_version >= last_commit
        assert committed > last_commit
        last_commit = committed
    for child in pair:
        assert await child.finish() == 0, child.describe()


# ==================================================================== d. watches


async def test_a_watch_fires_for_another_process_write(tmp_path: Path, spawn: Spawn):
    """A `found` watch fires for an `fdb` process's write and the other way round; neither
    fires before the write."""
    await create(tmp_path)
    first, second = await agents(spawn, tmp_path, "found", "fdb")
    for watcher, writer, key in (
        (first, second, "w1"),
        (second, first, "w2"),
        (first, second, "w1"),
    ):
        watcher.send("watch", key)
        await watcher.expect("watching")
        await asyncio.sleep(0.2)
        assert not watcher.arrived("fired"), "a watch fired with no write"
        writer.send("begin")
        writer.send("set", key, f"{time.monotonic()}")
        writer.send("commit")
        committed_at, _ = await writer.expect_at("committed")
        fired_at, name = await watcher.expect_at("fired", timeout=10)
        assert name == [key]
        assert fired_at - committed_at < 2.0, f"the watch took {fired_at - committed_at:.2f} s"
    for child in (first, second):
        assert await child.finish() == 0, child.describe()


# ==================================================================== e. versionstamps


async def test_versionstamps_from_two_processes_are_unique_and_ordered(
    tmp_path: Path, spawn: Spawn
):
    """Concurrent versionstamped commits from a `found` and an `fdb` process: every stamp
    is distinct, begins with its commit's version, and the stamps sort in commit-version
    order; one commit version never belongs to two processes."""
    await create(tmp_path)
    children = await agents(spawn, tmp_path, "found", "fdb")
    count = 200
    for child, label in zip(children, ("found", "fdb"), strict=True):
        child.send("stamps", label, count)
    for child in children:
        await child.expect("stamped")
    reported = []
    for child in children:
        for _, (stamp, committed, label, n) in child.drain("stamp"):
            reported.append((bytes.fromhex(stamp), int(committed), f"{label}-{n}"))
    assert len(reported) == 2 * count
    assert len({stamp for stamp, _, _ in reported}) == 2 * count, "a versionstamp repeats"
    for stamp, committed, _ in reported:
        assert int.from_bytes(stamp[:8], "big") == committed
    in_stamp_order = sorted(reported)
    versions = [committed for _, committed, _ in in_stamp_order]
    assert versions == sorted(versions)
    owners: dict[int, set[str]] = {}
    for _, committed, name in reported:
        owners.setdefault(committed, set()).add(name.split("-")[0])
    assert all(len(names) == 1 for names in owners.values()), "two processes, one version"

    db = await found.open(str(tmp_path))
    try:
        rows = await read_everything(db)
    finally:
        db.close()
    stored = [
        (found.unpack(key)[1], value.decode())
        for key, value in rows.items()
        if found.unpack(key)[0] == "vs"
    ]
    assert [name for _, name in stored] == [name for _, _, name in in_stamp_order]
    assert [stamp.to_bytes()[:10] for stamp, _ in stored] == [s for s, _, _ in in_stamp_order]
    for child in children:
        assert await child.finish() == 0, child.describe()


# ==================================================================== f. crashes


async def test_sigkill_of_one_committer_loses_nothing_and_stalls_no_one(
    tmp_path: Path, spawn: Spawn
):
    """Three processes commit continuously (checkpoints running); one is SIGKILLed at
    random moments and restarted. Every acknowledged commit of every process survives,
    no transaction is half visible, the survivors never wait more than 2 s for an
    acknowledgement, and the files verify."""
    await create(tmp_path)
    rng = random.Random(os.getpid())
    env = {"FOUND_CHECKPOINT_BYTES": "200000"}
    survivors = {label: spawn(STORM, str(tmp_path), label, "0", env=env) for label in ("s0", "s1")}
    for child in survivors.values():
        await child.expect("started")
    acknowledged: set[tuple[str, int, int]] = set()
    kills = 12
    for run in range(kills):
        victim = spawn(STORM, str(tmp_path), "victim", str(run), env=env)
        if run % 4 != 3:
            await victim.expect("started")
        # else: killed wherever it is, perhaps while opening
        await asyncio.sleep(rng.uniform(0.02, 0.3))
        victim.kill()
        acknowledged |= {("victim", run, int(words[0])) for _, words in victim.drain("ack")}
    await asyncio.sleep(0.3)
    for label, child in survivors.items():
        assert await child.finish() == 0, child.describe()
        assert child.drain("stopped"), child.describe()
        acks = child.drain("ack")
        acknowledged |= {(label, 0, int(words[0])) for _, words in acks}
        arrivals = [stamp for stamp, _ in acks]
        gap = max(later - earlier for earlier, later in zip(arrivals, arrivals[1:], strict=False))
        assert gap < 2.0, f"{label} waited {gap:.2f} s for an acknowledgement"

    db = await found.open(str(tmp_path))
    try:
        rows = await read_everything(db)
    finally:
        db.close()
    halves: dict[str, set[tuple[str, int, int]]] = {"a": set(), "b": set()}
    for key in rows:
        if key != b"count":
            half, *commit = found.unpack(key)
            halves[half].add(tuple(commit))
    missing = acknowledged - halves["a"]
    assert not missing, f"acknowledged commits lost: {sorted(missing)[:5]}"
    assert halves["a"] == halves["b"], "a transaction is half visible"
    assert int.from_bytes(rows[b"count"], "little") == len(halves["a"])
    assert {label for label, _, _ in acknowledged} == {"s0", "s1", "victim"}
    result = verify_cli(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


# ==================================================================== g. checkpoints


async def test_checkpoints_run_while_another_process_keeps_the_directory_open(
    tmp_path: Path, spawn: Spawn
):
    """With a 64 KiB checkpoint threshold, one process writes ~20 thresholds' worth while
    two others have the directory open: one idle, one stopped (SIGSTOP) so that it falls
    many checkpoints behind. Both then see every write (the stopped one by reloading the
    latest checkpoint), their watches fire, a transaction the stopped one began before
    still conflicts, and a fresh process sees it all."""
    await create(tmp_path)
    env = {"FOUND_CHECKPOINT_BYTES": "65536"}
    idle, frozen, writer = await agents(spawn, tmp_path, "found", "found", "found", env=env)
    for child in (idle, frozen):
        child.send("count")
        assert await child.expect("count") == ["0", "0"]
        child.send("watch", "last")
        await child.expect("watching")
    frozen.send("status")
    frozen_generation = int((await frozen.expect("status"))[1])
    frozen.send("begin")  # a transaction that read "last" before the writes below
    frozen.send("get", "last")
    assert await frozen.expect("value") == ["-"]
    frozen.process.send_signal(signal.SIGSTOP)

    count, size = 1500, 1000
    writer.send("fill", count, size)
    await writer.expect("filled", timeout=120)
    writer.send("begin")
    writer.send("set", "last", "done")
    writer.send("commit")
    await writer.expect("committed")
    writer.send("status")
    generation = int((await writer.expect("status"))[1])
    assert generation >= frozen_generation + 2  # more than one rotation behind: a reload
    frozen.process.send_signal(signal.SIGCONT)
    frozen.send("set", "stale", "write")
    frozen.send("commit")  # its read is stale: a reload must not lose that conflict
    assert await frozen.expect("error", timeout=10) in (["1020"], ["1007"])
    for child in (idle, frozen):
        assert await child.expect("fired", timeout=10) == ["last"]
        child.send("count")
        assert await child.expect("count") == [str(count), "0"]
        child.send("begin")
        child.send("get", "last")
        assert await child.expect("value") == ["done"]
    idle.send("set", "from-idle", "yes")
    idle.send("commit")
    await idle.expect("committed")
    checkpoints = 0
    for child in (idle, frozen, writer):
        child.send("status")
        written, following = map(int, await child.expect("status"))
        checkpoints += written
        assert following >= generation  # everyone follows the log into its newest file
    assert checkpoints >= 3, f"only {checkpoints} checkpoints ran"

    fresh, reader = await agents(spawn, tmp_path, "found", "fdb", env=env)
    fresh.send("count")
    assert await fresh.expect("count") == [str(count), "0"]
    reader.send("begin")
    reader.send("get", "from-idle")
    reader.send("get", "last")
    assert [(await reader.expect("value"))[0] for _ in range(2)] == ["yes", "done"]
    for child in (idle, frozen, writer, fresh, reader):
        assert await child.finish() == 0, child.describe()
    result = verify_cli(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr

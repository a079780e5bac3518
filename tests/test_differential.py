"""Differential test: random stack-machine programs run through `found.tester` and through a
reference machine on the official `fdb` binding (tests/fdb_stack_tester.py), each on its own
fresh in-memory store; the logged stacks and the final databases must agree key by key.

FOUND_FUZZ_INSTRUCTIONS (default 10,000) sets how many random instructions a run covers —
counting operations, not the PUSHes of their arguments (which add about twice as many) — in
programs of about 1,000; FOUND_FUZZ_SEED=S runs only seed S; FOUND_FUZZ_FEATURES switches
on constructs excluded by default (tests/tester_programs.py, ``Features``).

Versionstamps come from commit versions, which differ between two runs, so they compare by
rank: every 10-byte transaction version a run produced (stamped keys and values, and
GET_VERSIONSTAMP results) is replaced by its position among that run's versions. Nothing
else is normalised.
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import fdb
import fdb.tuple
import fdb_stack_tester
import pytest
import tester_programs
from tester_programs import MAIN_PREFIX, STAMPED_VALUES, STAMPS, Features, Program

import found
import found.tester

PROGRAM_SIZE = 1_000
TOTAL_INSTRUCTIONS = int(os.environ.get("FOUND_FUZZ_INSTRUCTIONS", "10000"))
FEATURES = Features.parse(os.environ.get("FOUND_FUZZ_FEATURES", ""))
DIRECTORY_PROGRAM_SIZE = 500
if "FOUND_FUZZ_SEED" in os.environ:
    SEEDS = DIRECTORY_SEEDS = [int(os.environ["FOUND_FUZZ_SEED"])]
else:
    SEEDS = list(range(max(1, -(-TOTAL_INSTRUCTIONS // PROGRAM_SIZE))))
    DIRECTORY_SEEDS = list(range(max(1, TOTAL_INSTRUCTIONS // (4 * DIRECTORY_PROGRAM_SIZE))))

_stores = itertools.count()

Dump = dict[Any, Any]


# --- running one program on one side -------------------------------------------------------


def _store(side: str, seed: int) -> str:
    return f"found:memory:differential-{seed}-{side}-{next(_stores)}"


@fdb.transactional
def _insert(tr: Any, rows: list[tuple[bytes, bytes]]) -> None:
    for key, value in rows:
        tr[key] = value


def insert(fdb_db: Any, program: Program) -> None:
    """Writes the program the way the bindingtester driver does (packed by fdb.tuple)."""
    rows = [
        (fdb.tuple.pack((prefix, index)), fdb.tuple.pack(instruction))
        for prefix, instructions in program.threads.items()
        for index, instruction in enumerate(instructions)
    ]
    for start in range(0, len(rows), 5_000):
        _insert(fdb_db, rows[start : start + 5_000])


@fdb.transactional
def dump(tr: Any) -> dict[bytes, bytes]:
    """Every key of the normal key space."""
    return {row.key: row.value for row in tr.get_range(b"", b"\xff")}


async def run_side(side: str, program: Program) -> dict[bytes, bytes]:
    """Runs ``program`` through found.tester (``side="found"``) or the fdb reference on a
    fresh in-memory store; returns the store's contents."""
    name = _store(side, program.seed)
    fdb_db = fdb.open(name)
    insert(fdb_db, program)
    # Both directory layers pick allocator candidates with random.randrange in the same
    # order; the same seed on both sides makes allocated prefixes comparable.
    importlib.import_module("found.directory")._random.seed(program.seed)
    random.seed(program.seed)
    if side == "found":
        db = await found.open(name)
        try:
            await found.tester.run(db, MAIN_PREFIX)
        finally:
            db.close()
    else:
        await asyncio.to_thread(fdb_stack_tester.run, fdb_db, MAIN_PREFIX)
    return dump(fdb_db)


# --- comparing -------------------------------------------------------------------------------


def _stamps_in(value: object, found_versions: set[bytes]) -> None:
    if isinstance(value, fdb.tuple.Versionstamp) and value.is_complete():
        found_versions.add(value.tr_version)
    elif isinstance(value, (tuple, list)):
        for element in value:
            _stamps_in(element, found_versions)


def _ranked(value: object, ranks: dict[bytes, int]) -> object:
    """``value`` with each complete Versionstamp's transaction version replaced by its rank
    (as 10 big-endian bytes), so the result still packs and compares as bytes."""
    if isinstance(value, fdb.tuple.Versionstamp) and value.is_complete():
        rank = ranks[value.tr_version].to_bytes(10, "big")
        return fdb.tuple.Versionstamp(rank, value.user_version)
    if isinstance(value, (tuple, list)):
        return tuple(_ranked(element, ranks) for element in value)
    return value


def _is_stamp_result(value: bytes) -> bool:
    item = fdb.tuple.unpack(value)[0]
    return isinstance(item, bytes) and len(item) == 10


def canonical(program: Program, contents: dict[bytes, bytes]) -> tuple[dict, Dump]:
    """Splits a run's contents into stack logs ``{thread: {(index, number): value}}`` and the
    rest, with versionstamps replaced by their rank among the run's commit versions."""
    log_prefixes = {tester_programs.log_prefix(thread): thread for thread in program.threads}
    versions: set[bytes] = set()
    for key, value in contents.items():
        if key.startswith(STAMPS):
            _stamps_in(fdb.tuple.unpack(key), versions)
            if key.startswith(STAMPED_VALUES):
                _stamps_in(fdb.tuple.unpack(value), versions)
    logs: dict[bytes, dict[tuple[int, int], Any]] = {thread: {} for thread in program.threads}
    stamp_results = []
    rest: Dump = {}
    for key, value in contents.items():
        for prefix, thread in log_prefixes.items():
            if key.startswith(prefix):
                index, number = fdb.tuple.unpack(key[len(prefix) :])
                stamped = number in program.versionstamp_numbers.get(thread, ())
                if stamped and _is_stamp_result(value):
                    stamp_results.append((thread, index, number, fdb.tuple.unpack(value)[0]))
                    versions.add(fdb.tuple.unpack(value)[0])
                else:
                    logs[thread][index, number] = value
                break
        else:
            rest[key] = value
    ranks = {version: rank for rank, version in enumerate(sorted(versions))}
    for thread, index, number, version in stamp_results:
        logs[thread][index, number] = ("<versionstamp>", ranks[version])
    canonical_rest: Dump = {}
    for key, value in rest.items():
        if key.startswith(STAMPED_VALUES):
            value = fdb.tuple.pack(_ranked(fdb.tuple.unpack(value), ranks))
        if key.startswith(STAMPS):
            key = fdb.tuple.pack(_ranked(fdb.tuple.unpack(key), ranks))
        canonical_rest[key] = value
    return logs, canonical_rest


_ABSENT = object()


def _show(value: object, log: bool = True) -> str:
    """A logged value as the item it packs (ERROR items decoded); others as they are."""
    if value is _ABSENT:
        return "(absent)"
    if log and isinstance(value, bytes):
        try:
            (item,) = fdb.tuple.unpack(value)
        except Exception:
            return repr(value)
        if isinstance(item, bytes) and item.startswith(b"\x01ERROR\x00"):
            return f"{item!r} = {fdb.tuple.unpack(item)!r}"
        return repr(item)
    return repr(value)


def disagreements(
    program: Program, found_contents: dict, fdb_contents: dict
) -> tuple[str, bool] | None:
    """None when the runs agree; else a report naming the seed, the first instruction
    whose logged result differs (or the first differing key) and both values, and whether
    the report names the instruction (else ``locate`` has to find it)."""
    found_logs, found_rest = canonical(program, found_contents)
    fdb_logs, fdb_rest = canonical(program, fdb_contents)
    for thread in sorted(program.threads, key=lambda name: name != MAIN_PREFIX):  # main first
        ours, theirs = found_logs[thread], fdb_logs[thread]
        differing = _differing(ours, theirs)
        if differing:
            index, number = min(differing, key=lambda slot: (slot[1], slot[0]))
            return (
                f"seed {program.seed}: found and fdb disagree at instruction {number} of thread "
                f"{thread!r} ({len(differing)} differing stack entries)\n"
                f"  stack index {index}\n"
                f"  found: {_show(ours.get((index, number), _ABSENT))}\n"
                f"  fdb:   {_show(theirs.get((index, number), _ABSENT))}\n"
                f"program up to it:\n{program.describe(thread, number, context=12)}",
                True,
            )
    differing_keys = sorted(_differing(found_rest, fdb_rest), key=repr)
    if differing_keys:
        key = differing_keys[0]
        return (
            f"seed {program.seed}: found and fdb leave different data "
            f"({len(differing_keys)} keys differ); first key {key!r}\n"
            f"  found: {_show(found_rest.get(key, _ABSENT), log=False)}\n"
            f"  fdb:   {_show(fdb_rest.get(key, _ABSENT), log=False)}",
            False,
        )
    return None


def _differing(ours: Dump, theirs: Dump) -> list[Any]:
    keys = ours.keys() | theirs.keys()
    return [key for key in keys if ours.get(key, _ABSENT) != theirs.get(key, _ABSENT)]


def _crash(side: str, failure: BaseException) -> str:
    notes = "".join(f"\n    {note}" for note in getattr(failure, "__notes__", ()))
    return f"  {side} aborted: {type(failure).__name__}: {failure}{notes}"


async def _outcome(side: str, program: Program) -> tuple[dict | None, BaseException | None]:
    try:
        return await run_side(side, program), None
    except Exception as failure:  # a tester abort is a finding, reported with the seed
        return None, failure


async def _differs(program: Program) -> bool:
    (ours, our_failure), (theirs, their_failure) = [
        await _outcome(side, program) for side in ("found", "fdb")
    ]
    if our_failure or their_failure:
        return type(our_failure) is not type(their_failure)
    return disagreements(program, ours, theirs) is not None


async def locate(program: Program) -> int:
    """The first main-thread instruction after which the two runs' data differ (bisection
    over truncated programs)."""
    agree, differ = 0, len(program.main)
    while differ - agree > 1:
        middle = (agree + differ) // 2
        if await _differs(program.truncated(middle)):
            differ = middle
        else:
            agree = middle
    return differ - 1


async def compare(program: Program) -> str | None:
    """None when found and fdb agree on ``program``; else the report for the assertion."""
    ours, our_failure = await _outcome("found", program)
    theirs, their_failure = await _outcome("fdb", program)
    if our_failure or their_failure:
        lines = [f"seed {program.seed}: a tester aborted"]
        for side, failure in (("found", our_failure), ("fdb", their_failure)):
            if failure is not None:
                lines.append(_crash(side, failure))
        report, located = "\n".join(lines), False
    else:
        outcome = disagreements(program, ours, theirs)
        if outcome is None:
            return None
        report, located = outcome
    if not located:
        number = await locate(program)
        report += (
            f"\nbisection: the runs' data first differ after main-thread instruction "
            f"{number}:\n{program.describe(MAIN_PREFIX, number, context=12)}"
        )
    return (
        f"{report}\nreproduce: FOUND_FUZZ_SEED={program.seed} "
        f"FOUND_FUZZ_FEATURES={os.environ.get('FOUND_FUZZ_FEATURES', '')!r} "
        "pytest tests/test_differential.py"
    )


# --- tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
async def test_found_agrees_with_fdb(seed: int) -> None:
    program = tester_programs.generate(seed, PROGRAM_SIZE, FEATURES)
    report = await compare(program)
    assert report is None, report


@pytest.mark.parametrize("seed", DIRECTORY_SEEDS)
async def test_found_directory_extension_agrees_with_fdb(seed: int) -> None:
    program = tester_programs.generate_directory(seed, DIRECTORY_PROGRAM_SIZE)
    report = await compare(program)
    assert report is None, report


def test_a_run_covers_the_instruction_budget() -> None:
    if "FOUND_FUZZ_SEED" in os.environ:
        pytest.skip("one seed chosen by hand")
    programs = [tester_programs.generate(seed, PROGRAM_SIZE, FEATURES) for seed in SEEDS]
    assert sum(program.operations() for program in programs) >= TOTAL_INSTRUCTIONS


async def test_concurrent_threads_run_to_the_end() -> None:
    """``--concurrency 5`` style: five api programs started as threads by one main thread,
    on one store (nothing to compare: their interleaving decides); both machines must run
    every thread to its final LOG_STACK without aborting."""
    features = Features(threads=False)
    threads = [b"concurrent%d" % index for index in range(5)]
    programs = [
        tester_programs.generate(index, 200, features, thread)
        for index, thread in enumerate(threads)
    ]
    main: list[tuple] = []
    for thread in threads:
        main += [("PUSH", thread), ("START_THREAD",)]
    combined = Program(0, {MAIN_PREFIX: main})
    for program in programs:
        combined.threads.update(program.threads)
    for side in ("found", "fdb"):
        contents = await run_side(side, combined)
        for thread, program in zip(threads, programs, strict=True):
            logged = {
                fdb.tuple.unpack(key[len(tester_programs.log_prefix(thread)) :])[1]
                for key in contents
                if key.startswith(tester_programs.log_prefix(thread))
            }
            instructions = program.threads[thread]
            last_commit = max(i for i, step in enumerate(instructions) if step == ("COMMIT",))
            assert last_commit in logged, f"{side}: {thread!r} stopped before its last commit"


async def _found_insert(db: found.Database, program: Program) -> None:
    async def write(tx: found.Transaction) -> None:
        for prefix, instructions in program.threads.items():
            for index, instruction in enumerate(instructions):
                found.set(tx, found.pack((prefix, index)), fdb.tuple.pack(instruction))

    await found.transactional(db, write)


async def _found_dump(db: found.Database) -> dict[bytes, bytes]:
    async def read(tx: found.Transaction) -> dict[bytes, bytes]:
        return dict(await found.all(found.query(tx, b"", b"\xff")))

    return await found.transactional(db, read)


async def test_the_tester_process_runs_a_stored_program(tmp_path: Path) -> None:
    """§1 process contract: ``python -m found.tester <prefix> <api_version> <cluster>`` on a
    data directory, compared with the fdb reference on the same program."""
    program = tester_programs.generate(101, 300, FEATURES)
    directory = str(tmp_path / "store")
    db = await found.open(directory)
    await _found_insert(db, program)
    db.close()
    command = [sys.executable, "-m", "found.tester", MAIN_PREFIX.decode(), "730", directory]
    finished = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=120
    )
    assert finished.returncode == 0, finished.stderr
    db = await found.open(directory)
    contents = await _found_dump(db)
    db.close()
    outcome = disagreements(program, contents, await run_side("fdb", program))
    assert outcome is None, outcome[0]


async def test_an_unknown_instruction_aborts_the_process(tmp_path: Path) -> None:
    directory = str(tmp_path / "store")
    db = await found.open(directory)
    await _found_insert(db, Program(0, {MAIN_PREFIX: [("NO_SUCH_OP",)]}))
    db.close()
    command = [sys.executable, "-m", "found.tester", MAIN_PREFIX.decode(), "730", directory]
    finished = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True)
    assert finished.returncode != 0
    assert "NO_SUCH_OP" in finished.stderr


async def test_unit_tests_leave_the_stack_untouched(db: found.Database) -> None:
    log = tester_programs.log_prefix(MAIN_PREFIX)
    program = [("PUSH", b"sentinel"), ("UNIT_TESTS",), ("PUSH", log), ("LOG_STACK",)]
    await _found_insert(db, Program(0, {MAIN_PREFIX: program}))
    await found.tester.run(db, MAIN_PREFIX)
    contents = await _found_dump(db)
    logged = {key: value for key, value in contents.items() if key.startswith(log)}
    assert logged == {log + found.pack((0, 0)): found.pack((b"sentinel",))}
    assert not any(key.startswith(found.pack(("found.tester",))[:-1]) for key in contents)

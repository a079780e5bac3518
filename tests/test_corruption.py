"""Damaged files: a flipped byte inside the log or the snapshot is detected and reported
(the database refuses to open and says where), a torn log tail is recovered up to the last
whole record, and the offline verifier agrees with the engine."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from helpers import run_python

import found
from found import datafiles, errors


async def make_database(directory: Path, commits: int, checkpoint: bool = False) -> None:
    db = await found.open(str(directory))
    for index in range(commits):
        async with found.transaction(db) as tx:
            found.set(tx, b"key%04d" % index, b"value%04d" % index * 10)
    db.close()
    if checkpoint:
        result = run_python("-m", "found", "checkpoint", str(directory), timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr


async def keys_in(directory: Path) -> list[bytes]:
    db = await found.open(str(directory))
    try:
        rows = await found.transactional(db, lambda tx: found.all(found.query(tx, b"", b"\xff")))
    finally:
        db.close()
    return [key for key, _ in rows]


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x40
    path.write_bytes(bytes(data))


def verify_cli(directory: Path) -> subprocess.CompletedProcess:
    return run_python("-m", "found", "verify", str(directory), timeout=120)


async def test_flipped_byte_in_the_middle_of_the_log_refuses_to_open(tmp_path):
    await make_database(tmp_path, 20)
    log = tmp_path / "wal.log"
    flip_byte(log, 16 + 8 + 20)  # inside the first record's payload; whole records follow
    with pytest.raises(errors.FileCorrupt, match="byte offset 16"):
        await found.open(str(tmp_path))
    report = datafiles.verify_log(log)
    assert not report.ok and "byte offset 16" in report.errors[0]
    result = verify_cli(tmp_path)
    assert result.returncode == 1 and "CORRUPT" in result.stdout


async def test_torn_tail_is_recovered_up_to_the_last_whole_record(tmp_path):
    await make_database(tmp_path, 20)
    log = tmp_path / "wal.log"
    size = log.stat().st_size
    with open(log, "r+b") as file:
        file.truncate(size - 7)  # the last record loses its end, as in a crash mid-write
    report = datafiles.verify_log(log)
    assert report.ok and report.torn_tail_bytes > 0
    assert verify_cli(tmp_path).returncode == 0
    keys = await keys_in(tmp_path)
    assert keys == [b"key%04d" % index for index in range(19)]
    # and the database keeps working after the truncation
    await make_database(tmp_path, 1)
    assert datafiles.verify_log(log).torn_tail_bytes == 0


async def test_flipped_byte_in_the_snapshot_refuses_to_open(tmp_path):
    await make_database(tmp_path, 30, checkpoint=True)
    snapshot = tmp_path / "snapshot.dat"
    assert snapshot.exists()
    assert await keys_in(tmp_path) == [b"key%04d" % index for index in range(30)]
    flip_byte(snapshot, 24 + 8 + 30)
    with pytest.raises(errors.FileCorrupt, match="snapshot"):
        await found.open(str(tmp_path))
    assert not datafiles.verify_snapshot(snapshot).ok
    assert verify_cli(tmp_path).returncode == 1


async def test_a_truncated_snapshot_refuses_to_open(tmp_path):
    await make_database(tmp_path, 40, checkpoint=True)
    snapshot = tmp_path / "snapshot.dat"
    data = snapshot.read_bytes()
    for keep in (10, len(data) // 2, len(data) - 1):
        snapshot.write_bytes(data[:keep])
        with pytest.raises(errors.FileCorrupt, match="snapshot"):
            await found.open(str(tmp_path))
    snapshot.write_bytes(data)
    assert len(await keys_in(tmp_path)) == 40


async def test_a_snapshot_of_blocks_larger_than_a_read_reopens_whole(tmp_path):
    """The engine reads a snapshot a few MiB at a time: a block of 256 rows of 90 KB values
    (23 MB) is more than one read, and the blocks after it start mid-buffer."""
    def value(index: int) -> bytes:
        return bytes([index % 251]) * 89_990 + b"%010d" % index

    db = await found.open(str(tmp_path))
    for first in range(0, 300, 100):
        async with found.transaction(db) as tx:
            for index in range(first, first + 100):
                found.set(tx, b"big%04d" % index, value(index))
    db.close()
    result = run_python("-m", "found", "checkpoint", str(tmp_path), timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "snapshot.dat").stat().st_size > 25 * 2**20
    db = await found.open(str(tmp_path))
    try:
        rows = await found.transactional(
            db, lambda tx: found.all(found.query(tx, b"big", b"bih"))
        )
    finally:
        db.close()
    assert [key for key, _ in rows] == [b"big%04d" % index for index in range(300)]
    assert all(row_value == value(index) for index, (_, row_value) in enumerate(rows))


async def test_checkpointed_database_reopens_with_the_same_data_and_a_small_log(tmp_path):
    await make_database(tmp_path, 50, checkpoint=True)
    assert (tmp_path / "wal.log").stat().st_size == 16  # header only: all in the snapshot
    assert await keys_in(tmp_path) == [b"key%04d" % index for index in range(50)]
    result = run_python("-m", "found", "stats", str(tmp_path))
    assert result.returncode == 0
    assert re.search(r"^keys\s+51$", result.stdout, re.M)  # 50 keys + \xff/coordinators
    assert re.search(r"^log bytes\s+16 \(a checkpoint starts at 67,108,864\)$", result.stdout, re.M)


async def test_a_rotation_interrupted_before_its_rename_leaves_the_log_whole(tmp_path):
    # A checkpoint copies the log's tail to wal.next before it takes the commit lock; a
    # process that dies before renaming it over wal.log leaves it behind, half written.
    await make_database(tmp_path, 12)
    (tmp_path / "wal.next").write_bytes(b"FOUNDWAL" + b"\x00" * 40 + b"half a copy")
    assert await keys_in(tmp_path) == [b"key%04d" % index for index in range(12)]
    assert not (tmp_path / "wal.next").exists()  # the first process to open removes it
    assert verify_cli(tmp_path).returncode == 0


async def test_not_a_database_and_newer_formats_are_clear_errors(tmp_path):
    (tmp_path / "wal.log").write_bytes(b"this is not a log at all")
    with pytest.raises(errors.FileCorrupt, match="bad header"):
        await found.open(str(tmp_path))
    newer = tmp_path / "newer"
    await make_database(newer, 2)
    data = bytearray((newer / "wal.log").read_bytes())
    data[8] = 9  # format version 9
    (newer / "wal.log").write_bytes(bytes(data))
    with pytest.raises(errors.FileCorrupt, match="format version 9"):
        await found.open(str(newer))


def test_verify_of_a_directory_without_a_database_fails(tmp_path):
    result = verify_cli(tmp_path)
    assert result.returncode == 1 and "no found database" in result.stdout


async def test_status_json_reports_the_engine_state(tmp_path):
    await make_database(tmp_path, 3)
    db = await found.open(str(tmp_path))
    async with found.transaction(db) as tx:
        status = json.loads(await found.get(tx, b"\xff\xff/status/json"))
    db.close()
    assert status["client"]["database_status"]["available"] is True
    assert status["found"]["location"] == os.path.realpath(tmp_path)
    assert status["found"]["keys"] >= 3


async def test_a_directory_of_other_files_is_not_taken_over(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(errors.FileCorrupt, match="not a found data directory.*notes.txt"):
        await found.open(str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # nothing written

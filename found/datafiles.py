"""Reads the embedded engine's files without the engine: an independent check of the
on-disk format, used by ``python -m found verify``.

A data directory holds ``wal.log`` (the write-ahead log) and, once a checkpoint ran,
``snapshot.dat`` (plus ``shared``, ``LOCK`` and ``checkpoint.lock``, which coordinate
the processes that have it open and hold no data). Both formats are described in
``found/engine/wal.cc`` and ``found/engine/snapshot.cc``; every record carries a CRC-32C.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from crc32c import crc32c

WAL_MAGIC = b"FOUNDWAL"
SNAPSHOT_MAGIC = b"FOUNDSNP"
SNAPSHOT_END = b"FOUNDEND"
FORMAT = 1  # snapshot.dat
LOG_FORMATS = (1, 2)  # wal.log: 2 adds write conflict ranges and a generation (a superset)
TRAILER_MARK = 0xFFFFFFFF


@dataclass
class FileReport:
    """What verifying one file found."""

    path: str
    size: int = 0
    records: int = 0
    keys: int = 0
    first_version: int | None = None
    last_version: int | None = None
    torn_tail_bytes: int = 0
    preallocated_bytes: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


Progress = Callable[[int, int], None]


def _no_progress(done: int, total: int) -> None:
    pass


def _whole_record(data: bytes, at: int) -> int | None:
    """The commit version of the record at ``at`` if it is whole and checksummed, else None."""
    if len(data) - at < 8:
        return None
    length, checksum = struct.unpack_from("<II", data, at)
    if length < 12 or length > len(data) - at - 8:
        return None
    payload = data[at + 8 : at + 8 + length]
    if crc32c(payload) != checksum:
        return None
    return struct.unpack_from("<Q", payload, 0)[0]


def _valid_record_after(data: bytes, start: int) -> bool:
    return any(_whole_record(data, at) is not None for at in range(start, len(data) - 19))


def verify_log(path: Path, progress: Progress = _no_progress) -> FileReport:
    """Checks every record of a log: a bad checksum before the last record is an error,
    an incomplete or bad final record is a torn tail (the engine drops it at open)."""
    data = path.read_bytes()
    report = FileReport(str(path), size=len(data))
    if len(data) < 16 or data[:8] != WAL_MAGIC:
        report.errors.append("not a found log (bad header)")
        return report
    (version,) = struct.unpack_from("<I", data, 8)
    if version not in LOG_FORMATS:
        report.errors.append(f"log format {version}, this reader knows formats {LOG_FORMATS}")
        return report
    at = 16
    while at < len(data):
        progress(at, len(data))
        commit_version = _whole_record(data, at)
        if commit_version is None:
            if not any(data[at:]):
                # Zeros written ahead of the end (the engine overwrites them in place).
                report.preallocated_bytes = len(data) - at
                break
            # Torn tail only if nothing valid follows: a crash tears the last write only.
            if _valid_record_after(data, at + 1):
                report.errors.append(
                    f"damaged log record at byte offset {at} with valid records after it"
                )
            else:
                report.torn_tail_bytes = len(data) - at
            return report
        if report.first_version is None:
            report.first_version = commit_version
        report.last_version = commit_version
        report.records += 1
        (length,) = struct.unpack_from("<I", data, at)
        at += 8 + length
    progress(len(data), len(data))
    return report


def verify_snapshot(path: Path, progress: Progress = _no_progress) -> FileReport:
    """Checks a snapshot's blocks, trailer checksum and key count."""
    data = path.read_bytes()
    report = FileReport(str(path), size=len(data))
    if len(data) < 24 or data[:8] != SNAPSHOT_MAGIC:
        report.errors.append("not a found snapshot (bad header)")
        return report
    version, _, snapshot_version = struct.unpack_from("<IIQ", data, 8)
    if version != FORMAT:
        report.errors.append(f"snapshot format {version}, this reader knows format {FORMAT}")
        return report
    report.first_version = report.last_version = snapshot_version
    at = 24
    while True:
        progress(at, len(data))
        if at + 8 > len(data):
            report.errors.append(f"snapshot truncated (no trailer) at byte offset {at}")
            return report
        length, checksum = struct.unpack_from("<II", data, at)
        if length == TRAILER_MARK:
            whole, keys = struct.unpack_from("<IQ", data, at + 4)
            if at + 24 != len(data) or data[at + 16 : at + 24] != SNAPSHOT_END:
                report.errors.append(f"bad snapshot trailer at byte offset {at}")
            elif crc32c(data[:at]) != whole:
                report.errors.append(f"snapshot checksum mismatch at byte offset {at}")
            elif keys != report.keys:
                report.errors.append(f"snapshot says {keys} keys, blocks hold {report.keys}")
            break
        if length > len(data) - at - 8:
            report.errors.append(f"snapshot block runs past the end at byte offset {at}")
            return report
        payload = data[at + 8 : at + 8 + length]
        if crc32c(payload) != checksum:
            report.errors.append(f"checksum mismatch in the snapshot block at byte offset {at}")
            return report
        (count,) = struct.unpack_from("<I", payload, 0)
        report.keys += count
        report.records += 1
        at += 8 + length
    progress(len(data), len(data))
    return report


def verify_directory(directory: Path, progress: Progress = _no_progress) -> list[FileReport]:
    """Verifies every engine file in a data directory; raises FileNotFoundError when the
    directory holds no found database."""
    log = directory / "wal.log"
    if not log.exists():
        raise FileNotFoundError(f"{directory} holds no found database (no wal.log)")
    reports = []
    snapshot = directory / "snapshot.dat"
    if snapshot.exists():
        reports.append(verify_snapshot(snapshot, progress))
    reports.append(verify_log(log, progress))
    return reports

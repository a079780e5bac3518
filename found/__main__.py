"""``python -m found``: operator commands.

    python -m found lib-path           print the embedded engine's path (a libfdb_c)
    python -m found fdb-link install   make the official `fdb` binding load the engine
    python -m found fdb-link remove    undo it
    python -m found stats DIR          keys, bytes, log size, last checkpoint of a database
    python -m found checkpoint DIR     write a checkpoint now and shrink the log
    python -m found verify DIR         check every checksum of a database's files offline

``stats`` and ``checkpoint`` open the database, so no other process may hold it.
Exit status: 0 when all is well, 1 when something is wrong (verify) or failed.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import sys
import time
from pathlib import Path

from . import _native


def _fdb_pth_path() -> Path:
    spec = importlib.util.find_spec("fdb")
    if spec is None or spec.origin is None:
        raise SystemExit("the official binding is not installed (pip install foundationdb)")
    return Path(spec.origin).parent / "libfdb_c.so.pth"


async def _status(directory: str, checkpoint: bool) -> dict:
    import found

    if checkpoint:
        _native.ensure_started()
        _native.set_knob("found_checkpoint_bytes", 0)
    db = await found.open(directory)
    try:
        deadline = time.monotonic() + 600
        while True:
            async with found.transaction(db) as tx:
                status = json.loads(await found.get(tx, b"\xff\xff/status/json"))["found"]
            if not checkpoint or (status["checkpoints"] > 0 and not status["checkpoint_running"]):
                return status
            if status["checkpoint_error"]:
                raise SystemExit(f"checkpoint failed: {status['checkpoint_error']}")
            if time.monotonic() > deadline:
                raise SystemExit("checkpoint did not finish within 10 minutes")
            await asyncio.sleep(0.05)
    finally:
        db.close()


def _print_status(status: dict) -> None:
    last = status["last_checkpoint_unix"]
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(last)) if last else "never"
    print(f"location        {status['location']}")
    print(f"keys            {status['keys']:,}")  # system keys included
    print(f"bytes           {status['bytes']:,} (keys + values)")
    threshold = status["checkpoint_bytes"]
    print(f"log bytes       {status['log_bytes']:,} (a checkpoint starts at {threshold:,})")
    print(f"snapshot bytes  {status['snapshot_bytes']:,} (version {status['snapshot_version']})")
    print(f"last checkpoint {when}")


def _progress_bar(label: str):
    if not sys.stderr.isatty():
        return lambda done, total: None
    state = {"last": 0.0}

    def show(done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - state["last"] < 0.1:
            return
        state["last"] = now
        width = 30
        filled = width * done // max(total, 1)
        sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} B")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def _verify(directory: Path) -> int:
    from .datafiles import verify_directory

    try:
        reports = verify_directory(directory, _progress_bar("verifying"))
    except FileNotFoundError as error:
        print(f"error: {error}")
        return 1
    healthy = True
    for report in reports:
        state = "ok" if report.ok else "CORRUPT"
        print(
            f"{report.path}: {state}, {report.size:,} bytes, {report.records:,} records"
            + (f", {report.keys:,} keys" if report.keys else "")
        )
        if report.torn_tail_bytes:
            print(
                f"  torn tail of {report.torn_tail_bytes} bytes (an interrupted write; "
                "the engine drops it at the next open)"
            )
        if report.preallocated_bytes:
            zeros = report.preallocated_bytes
            print(f"  {zeros:,} bytes of zeros ahead of the end (room for appends)")
        for error in report.errors:
            print(f"  error: {error}")
        healthy = healthy and report.ok
    return 0 if healthy else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m found",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("lib-path", help="print the embedded engine's path")
    link = commands.add_parser("fdb-link", help="point the official fdb binding at the engine")
    link.add_argument("action", choices=["install", "remove"])
    for name, text in (
        ("stats", "show a database's statistics"),
        ("checkpoint", "checkpoint a database now"),
        ("verify", "verify a database's files offline"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("directory")
    arguments = parser.parse_args(argv)

    if arguments.command == "lib-path":
        print(_native.embedded_library_path())
        return 0
    if arguments.command == "fdb-link":
        pth = _fdb_pth_path()
        if arguments.action == "install":
            pth.write_text(_native.embedded_library_path() + "\n")
            print(f"wrote {pth}: `import fdb` now loads found's engine")
        elif pth.exists():
            pth.unlink()
            print(f"removed {pth}")
        return 0
    directory = Path(arguments.directory)
    if arguments.command == "verify":
        return _verify(directory)
    if not (directory / "wal.log").exists():
        print(f"error: {directory} holds no found database (no wal.log)")
        return 1
    from .errors import FoundException

    try:
        status = asyncio.run(_status(str(directory), arguments.command == "checkpoint"))
    except FoundException as error:
        print(f"error: {error}")
        return 1
    _print_status(status)
    return 0


if __name__ == "__main__":
    sys.exit(main())

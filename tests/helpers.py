"""Small helpers shared by the test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import found


def run(db: found.Database, func: Any, *args: Any, **kwargs: Any) -> Any:
    """``found.transactional`` under a short name: the tests' usual way in."""
    return found.transactional(db, func, *args, **kwargs)


async def everything(db: found.Database) -> list[tuple[bytes, bytes]]:
    """Every key and value of the normal key space, in order."""

    async def scan(tx: found.Transaction) -> list[tuple[bytes, bytes]]:
        return await found.all(found.query(tx, b"", b"\xff"))

    return await run(db, scan)


def run_python(
    *arguments: str, timeout: float = 60, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Runs this Python with `arguments` in a child process (a `-c` program, `-m found
    verify`…) and returns what it did, output captured as text; `env` is added to this
    process's environment."""
    return subprocess.run(
        [sys.executable, *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, **(env or {})),
    )


def build_preload_shim(source: str, directory: Path) -> Path:
    """Compiles `source` into an LD_PRELOAD library (with the C compiler the engine's
    build needs anyway): tests use it to make one system call fail or kill a process at an
    exact instant."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    assert compiler, "a C compiler is needed to build the engine, and the tests' shims"
    (directory / "shim.c").write_text(source)
    library = directory / "shim.so"
    subprocess.run(
        [compiler, "-shared", "-fPIC", "-o", str(library), str(directory / "shim.c"), "-ldl"],
        check=True,
    )
    return library

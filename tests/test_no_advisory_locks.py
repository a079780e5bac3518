"""A data directory on a filesystem without advisory locks (flock fails, as on some
network filesystems) gets a clear error naming the problem, not a silently unshared
store. The failure is simulated with an LD_PRELOAD shim whose flock() fails ENOLCK."""

from __future__ import annotations

import textwrap
from pathlib import Path

from helpers import build_preload_shim, run_python

SHIM = r"""
#include <errno.h>
int flock(int fd, int operation) { (void)fd; (void)operation; errno = ENOLCK; return -1; }
"""

OPEN = textwrap.dedent(
    """
    import asyncio, sys, found
    async def main():
        try:
            await found.open(sys.argv[1])
        except found.errors.FDBError as error:
            print(type(error).__name__, error.code, error)
            return
        print("opened")
    asyncio.run(main())
    """
)


def test_a_filesystem_without_advisory_locks_is_a_clear_error(tmp_path: Path) -> None:
    shim = build_preload_shim(SHIM, tmp_path)
    directory = tmp_path / "db"
    done = run_python("-c", OPEN, str(directory), env={"LD_PRELOAD": str(shim)})
    assert done.returncode == 0, done.stderr
    assert "opened" not in done.stdout
    assert "advisory locks" in done.stdout and "No locks available" in done.stdout, done.stdout
    # Without the shim the same directory opens (nothing half-made was left behind).
    done = run_python("-c", OPEN, str(directory))
    assert done.stdout.strip() == "opened", done.stdout + done.stderr

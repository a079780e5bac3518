"""Small helpers shared by the test modules (fixtures live in conftest.py)."""

from __future__ import annotations

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

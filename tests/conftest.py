"""Test fixtures: a real embedded engine per test (in memory or in a temporary directory),
and the official `fdb` binding loaded on the same engine as an independent client.

`fdb` must select the API version and start the network before `found` does (found then
shares them); doing it at import time here guarantees the order.
"""

from __future__ import annotations

import ctypes
import itertools
from collections.abc import AsyncIterator

import pytest

import found
import found._native

ctypes.CDLL(found._native.embedded_library_path())  # fdb finds it by SONAME: libfdb_c.so
import fdb  # noqa: E402

fdb.api_version(730)
fdb.open("found:memory")  # starts fdb's network thread, which found then shares

_names = itertools.count()


@pytest.fixture
def store_name() -> str:
    """A fresh name for an in-memory store that both clients can open."""
    return f"found:memory:test-{next(_names)}"


@pytest.fixture
async def db(store_name: str) -> AsyncIterator[found.Database]:
    database = await found.open(store_name)
    yield database
    database.close()


@pytest.fixture
def fdb_db(store_name: str) -> fdb.Database:
    """The official binding on the same store as the `db` fixture."""
    return fdb.open(store_name)

"""Adapters that put `found` (awaited API) and the official `fdb` binding (on found's
embedded engine) into the shared baselines harness (../shared/bench).

    pip install -r ../shared/bench/requirements.txt   # lmdb, rocksdict…
    PYTHONPATH=. .venv/bin/python ../shared/bench/run_baselines.py --quick \\
        --adapter benchmarks.found_adapter:FoundAdapter \\
        --adapter benchmarks.found_adapter:FdbAdapter --out /tmp/baselines-found.json

run_baselines.py puts only its own directory on sys.path and imports the adapter module
by name, hence PYTHONPATH=. (the repository root, where `benchmarks/` lives); its default
output directory is read-only, hence --out.

Both adapters run in one process on one engine. The engine accepts one API-version
selection and one network: `fdb` must select the version and start the network before
`found` first opens a database (found then shares them; the other order makes `fdb`
refuse). The harness opens adapters in a rotating order, so whichever opens first calls
`start_engine()`, which does it in the right order.

Relaxed commits (`durable=False`) turn off the engine's `found_sync` knob — FOUND_SYNC=0,
the engine's relaxed mode: commits are written to the log but not fsynced — through the
`knob` network option. The knob is process-wide, not per database, so `SyncKnob` turns it
back on for every durable commit and never turns it off while a durable commit is in
flight (a relaxed commit then simply runs durable).
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from found._capi import lib

import found
import found._native as native

try:
    from harness.adapters import Adapter, AsyncAdapter
except ImportError:  # imported outside run_baselines.py: find the harness beside the repo
    sys.path.insert(0, os.environ.get(
        "FOUND_BENCH_HARNESS", str(Path(__file__).resolve().parents[2] / "shared" / "bench")
    ))
    from harness.adapters import Adapter, AsyncAdapter

KV = tuple[bytes, bytes]
KEY_SPACE_END = b"\xff"
NETWORK_OPTION_KNOB = 40

# ==================================================================== the shared engine

_engine_lock = threading.Lock()
_engine_started = False


def _fdb():
    """The `fdb` module, bound to found's engine and at API version 730, or None when the
    binding is not installed. Raises RuntimeError when the engine refuses the version."""
    ctypes.CDLL(native.embedded_library_path())  # loaded before `fdb` looks for a libfdb_c
    try:
        import fdb
    except ImportError:
        return None
    fdb.api_version(730)
    return fdb


def start_engine() -> None:
    """Loads found's engine once per process so that both `found` and `fdb` can use it:
    `fdb` (when installed) selects the API version and starts the network thread, then
    `found` joins. If `found` already runs the engine, it is left as it is (`fdb` then
    cannot join: see ``FdbAdapter.open``)."""
    global _engine_started
    with _engine_lock:
        if _engine_started:
            return
        if native.library_path() is None:
            fdb = _fdb()
            if fdb is not None:
                import fdb.impl

                with fdb.impl._network_thread_reentrant_lock:
                    if not fdb.impl._network_thread:
                        fdb.impl.init()  # fdb's network thread, no database opened yet
        native.ensure_started()  # found shares fdb's network (or starts it without fdb)
        _engine_started = True


class SyncKnob:
    """The engine's process-wide `found_sync` knob, switched per commit: on for durable
    commits, off for relaxed ones unless a durable commit is in flight."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sync = True
        self._durable_in_flight = 0

    def _set(self, durable: bool) -> None:
        text = b"found_sync=%d" % int(durable)
        native.check(lib.fdb_network_set_option_w(NETWORK_OPTION_KNOB, text, len(text)))
        self._sync = durable

    def enter(self, durable: bool) -> None:
        """Call before a commit of the given kind; pair with ``leave``."""
        with self._lock:
            if durable:
                self._durable_in_flight += 1
                if not self._sync:
                    self._set(True)
            elif self._sync and self._durable_in_flight == 0:
                self._set(False)

    def leave(self, durable: bool) -> None:
        if durable:
            with self._lock:
                self._durable_in_flight -= 1


sync_knob = SyncKnob()


def _engine_version() -> str:
    try:
        version = metadata.version("found")
    except metadata.PackageNotFoundError:
        version = "?"
    return f"found {version}, engine {native.embedded_library_path()}"


_DURABILITY = (
    "group-commit WAL; durable: fdatasync before the commit returns (FOUND_SYNC=1, default); "
    "relaxed: knob found_sync=0 (log written, not synced), switched per commit"
)

# ==================================================================== found (awaited)


async def _range(tx: found.Transaction, begin: bytes, limit: int) -> list[KV]:
    # found.all: the whole bounded range in one go (StreamingMode.WANT_ALL), the way a
    # caller wanting a list reads it; `async for` over found.query streams row by row.
    return await found.all(found.query(tx, begin, KEY_SPACE_END, limit=limit))


async def _read(tx: found.Transaction, read_keys: Sequence[bytes]) -> list:
    get = found.get
    return [await get(tx, key) for key in read_keys]


async def _read_write(
    tx: found.Transaction, read_keys: Sequence[bytes], write_kvs: Sequence[KV]
) -> list:
    # Sequential awaits: the engine answers reads from memory at once, so issuing them
    # concurrently (asyncio.gather) would only add task overhead.
    get = found.get
    values = [await get(tx, key) for key in read_keys]
    for key, value in write_kvs:
        found.set(tx, key, value)
    return values


class FoundAdapter(AsyncAdapter):
    """found's awaited API: found.transactional per operation; read-only work uses the
    snapshot view (reads from one read version, nothing to commit)."""

    name = "found"
    durability = _DURABILITY

    def version(self) -> str:
        return _engine_version()

    def config(self) -> dict:
        return {"api": "found.transactional", "reads": "sequential awaits",
                "read_only": "snapshot=True",
                "get": "Database.get (a snapshot transaction of its own)",
                "range": "found.all(found.query(...)), StreamingMode.WANT_ALL"}

    async def open(self, path: str) -> None:
        start_engine()
        os.makedirs(path, exist_ok=True)
        self._db = await found.open(path)

    async def close(self) -> None:
        self._db.close()

    async def get(self, key: bytes) -> bytes | None:
        # A read in a snapshot transaction of its own (fdb's db[key]): one native call.
        return await self._db.get(key)

    async def range(self, begin: bytes, limit: int) -> list[KV]:
        return await found.transactional(self._db, _range, begin, limit, snapshot=True)

    async def transaction(self, read_keys, write_kvs, durable=True):
        if not write_kvs:
            return await found.transactional(self._db, _read, read_keys, snapshot=True)
        sync_knob.enter(durable)
        try:
            return await found.transactional(self._db, _read_write, read_keys, write_kvs)
        finally:
            sync_knob.leave(durable)


# ==================================================================== fdb (synchronous)


class FdbAdapter(Adapter):
    """The official `fdb` binding (API 730) on found's engine, in its own idioms:
    ``db[key]``, ``db.get_range``, ``@fdb.transactional`` with reads issued before waited."""

    name = "fdb"
    durability = _DURABILITY
    load_reps = 1  # the same engine and load path as `found`: one load is enough

    @classmethod
    def unavailable(cls) -> str | None:
        try:
            import fdb  # noqa: F401
        except ImportError as error:
            return str(error)
        return None

    def version(self) -> str:
        try:
            binding = metadata.version("foundationdb")
        except metadata.PackageNotFoundError:
            binding = "?"
        return f"foundationdb binding {binding} (API 730) on {_engine_version()}"

    def config(self) -> dict:
        return {"api": "fdb.open, @fdb.transactional", "range": "Database.get_range (want_all)"}

    def open(self, path: str) -> None:
        start_engine()
        try:
            fdb = _fdb()
        except RuntimeError as error:
            raise RuntimeError(
                "fdb cannot join found's engine: found opened a database in this process "
                "before fdb selected its API version"
            ) from error
        os.makedirs(path, exist_ok=True)
        self._path = path
        self._db = fdb.open(path)
        self._transaction = _fdb_transaction_function(fdb)

    def close(self) -> None:
        # fdb has no Database.close: it caches every opened database for the process's
        # life. Dropping the cached handle lets the engine close the directory.
        import fdb.impl

        with fdb.impl.cacheLock:
            fdb.impl.open_databases.pop(self._path, None)
        self._db = None

    def get(self, key: bytes) -> bytes | None:
        return self._db[key]

    def range(self, begin: bytes, limit: int) -> list:
        return self._db.get_range(begin, KEY_SPACE_END, limit=limit)

    def transaction(self, read_keys, write_kvs, durable=True):
        if not write_kvs:
            return self._transaction(self._db, read_keys, ())
        sync_knob.enter(durable)
        try:
            return self._transaction(self._db, read_keys, write_kvs)
        finally:
            sync_knob.leave(durable)


def _fdb_transaction_function(fdb):
    @fdb.transactional
    def read_write(tr, read_keys, write_kvs):
        futures = [tr[key] for key in read_keys]  # every read issued, then waited
        for key, value in write_kvs:
            tr[key] = value
        return [future.value for future in futures]

    return read_write

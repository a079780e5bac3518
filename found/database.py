"""Opening a database: the embedded engine by default, a real FDB cluster when asked.

``await found.open()`` with no argument opens the embedded engine's default data
directory: ``$FOUND_DATA_DIR`` if set, else ``$XDG_DATA_HOME/found/default`` (usually
``~/.local/share/found/default``). When a real libfdb_c is chosen (see ``found._native``)
no argument means FDB's own default cluster file. An argument may be a data directory,
a ``found:`` URI (``found:memory`` for a throw-away in-memory store) or a cluster file.
A path that does not exist yet becomes a new data directory, unless it ends in
``.cluster`` (then it names a missing cluster file: ``NoClusterFileFound``).
"""

from __future__ import annotations

import os
from pathlib import Path

from . import _native, errors
from ._capi import ffi, lib


def default_data_directory() -> str:
    """Where ``found.open()`` keeps data on the embedded engine when given no argument."""
    explicit = os.environ.get("FOUND_DATA_DIR")
    if explicit:
        return explicit
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "found" / "default")


class Database:
    """A handle on one database. Cheap to share between tasks; close it when done."""

    __slots__ = ("_pointer", "location", "__weakref__")

    def __init__(self, pointer: object, location: str | None) -> None:
        self._pointer = pointer
        self.location = location

    @property
    def pointer(self) -> object:
        """The C ``FDBDatabase*``; raises DatabaseClosed after :meth:`close`."""
        if self._pointer is None:
            raise errors.DatabaseClosed(f"database {self.location!r} is closed")
        return self._pointer

    @property
    def closed(self) -> bool:
        return self._pointer is None

    async def get(self, key: bytes) -> bytes | None:
        """The committed value of ``key`` (None when absent), read in a snapshot
        transaction of its own and retried on retryable errors — fdb's ``db[key]``. The
        fastest way to read one key: on the embedded engine it is one native call."""
        from .reads import database_get

        return await database_get(self, key)

    def set_option(self, code: int, value: bytes | int | None = None) -> None:
        """Sets a database option by its FDB code (defaults for new transactions)."""
        parameter = _option_bytes(value)
        _native.check(lib.fdb_database_set_option_w(self.pointer, code, parameter, len(parameter)))

    def open_tenant(self, name: bytes) -> Tenant:
        """A handle on tenant ``name`` (FDB 7.3 tenants): transactions created from it see
        only the tenant's keys. The embedded engine has no tenants: their transactions
        fail with ``TenantsDisabled`` (2136)."""
        if not isinstance(name, bytes):
            raise errors.InvalidType(f"tenant name must be bytes, not {type(name).__name__}")
        out = ffi.new("FDBTenant**")
        _native.check(lib.fdb_database_open_tenant_w(self.pointer, name, len(name), out))
        return Tenant(self, name, out[0])

    def close(self) -> None:
        """Releases the handle; transactions already created keep working until destroyed."""
        if self._pointer is not None:
            lib.fdb_database_destroy_w(self._pointer)
            self._pointer = None

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._pointer is None else "open"
        return f"<found.Database {self.location!r} {state}>"


class Tenant:
    """A tenant of a database; pass it wherever a Database is taken (``transactional``,
    ``transaction``, ``create_transaction``)."""

    __slots__ = ("_pointer", "database", "name", "__weakref__")

    def __init__(self, database: Database, name: bytes, pointer: object) -> None:
        self.database = database
        self.name = name
        self._pointer = pointer

    @property
    def location(self) -> str | None:
        return self.database.location

    @property
    def pointer(self) -> object:
        if self._pointer is None:
            raise errors.DatabaseClosed(f"tenant {self.name!r} is closed")
        return self._pointer

    def close(self) -> None:
        """Releases the tenant handle."""
        if self._pointer is not None:
            lib.fdb_tenant_destroy_w(self._pointer)
            self._pointer = None

    def __del__(self) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<found.Tenant {self.name!r} of {self.database!r}>"


def _option_bytes(value: bytes | int | str | None) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bool):
        raise errors.InvalidType("option values are bytes, str, int or None, not bool")
    if isinstance(value, int):
        return value.to_bytes(8, "little", signed=True)
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise errors.InvalidType(
        f"option value must be bytes, str, int or None, not {type(value).__name__}"
    )


async def open(cluster_file: str | os.PathLike[str] | None = None) -> Database:  # noqa: A001
    """Opens a database (see the module docstring for what ``cluster_file`` may be).

    Several processes may open one data directory (see the README). Raises a typed FDB
    error when the location cannot be used: ``FileCorrupt`` for a damaged log,
    ``NoClusterFileFound`` for a path that does not exist, ``DatabaseLocked`` when
    something that is not a found engine holds the directory's lock exclusively.
    """
    _native.ensure_started()
    if cluster_file is None and _native.library_path() == _native.embedded_library_path():
        cluster_file = default_data_directory()
        Path(cluster_file).mkdir(parents=True, exist_ok=True)
    location = None if cluster_file is None else os.fspath(cluster_file)
    if (
        location
        and not location.startswith("found:")
        and not location.endswith(".cluster")
        and not os.path.exists(location)
    ):
        Path(location).mkdir(parents=True, exist_ok=True)  # a new data directory
    out = ffi.new("FDBDatabase**")
    argument = ffi.NULL if location is None else location.encode()
    code = lib.fdb_create_database_w(argument, out)
    if code:
        reason = ffi.string(lib.found_last_open_error()).decode(errors="replace")
        description = errors.from_code(code)
        detail = f"cannot open {location!r}: {description}" + (f" — {reason}" if reason else "")
        raise errors.from_code(code, detail)
    return Database(out[0], location)

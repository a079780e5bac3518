"""The process-wide link to the FDB C API: which library, the API version, the network
thread, and the bridge that turns C futures into asyncio awaitables.

Library choice (first match wins):
1. ``FOUND_LIBFDB_C=/path/to/libfdb_c.so`` — that library (a real libfdb_c for a cluster).
2. ``FOUND_CLIENT=system`` — the system's ``libfdb_c.so`` found by the dynamic loader.
3. Otherwise the embedded engine shipped inside this package (``found/libfdb_c.so``).

Only one library and one API version can serve a process. If the official ``fdb`` binding
already selected the API version and started the network in this process (on the same
library), `found` shares them instead of failing.
"""

from __future__ import annotations

import asyncio
import ctypes.util
import os
import threading
import weakref
from pathlib import Path

from . import _hot_calls, errors
from ._capi import ffi, lib

API_VERSION = 730
HEADER_VERSION = 730

_lock = threading.Lock()
_library_path: str | None = None
_network_thread: threading.Thread | None = None
_started = False


def embedded_library_path() -> str:
    """Absolute path of the embedded engine (a libfdb_c-compatible shared library)."""
    return str(Path(__file__).resolve().parent / "libfdb_c.so")


def chosen_library_path() -> str:
    """The library `found` uses in this process, by the rules in the module docstring."""
    explicit = os.environ.get("FOUND_LIBFDB_C")
    if explicit:
        return explicit
    if os.environ.get("FOUND_CLIENT", "embedded") == "system":
        found = ctypes.util.find_library("fdb_c")
        if not found:
            raise errors.InvalidArgument(
                "FOUND_CLIENT=system but no libfdb_c is installed where the loader looks"
            )
        return found
    return embedded_library_path()


def check(code: int) -> None:
    """Raises the typed error for a nonzero FDB error code."""
    if code:
        raise errors.from_code(code)


def _run_network() -> None:
    lib.fdb_run_network_w()


def _stop_network() -> None:
    if _network_thread is not None and _network_thread.is_alive():
        lib.fdb_stop_network_w()
        _network_thread.join(timeout=5)


def ensure_started() -> None:
    """Loads the library, selects the API version and runs the network thread (once)."""
    global _started, _library_path, _network_thread
    if _started:
        return
    with _lock:
        if _started:
            return
        path = chosen_library_path()
        if lib.found_load(path.encode()) != 0:
            raise errors.InvalidArgument(
                f"cannot load the FDB client library: {ffi.string(lib.found_load_error()).decode()}"
            )
        _library_path = path
        _hot_calls.bind(lib.found_hot_calls())
        code = lib.fdb_select_api_version_impl_w(API_VERSION, HEADER_VERSION)
        if code not in (0, 2201):  # 2201: another binding in this process selected it
            check(code)
        code = lib.fdb_setup_network_w()
        if code == 0:
            _network_thread = threading.Thread(
                target=_run_network, name="found-network", daemon=True
            )
            _network_thread.start()
            import atexit

            atexit.register(_stop_network)
        elif code != 2009:  # 2009: another binding in this process runs the network
            check(code)
        _started = True


def library_path() -> str | None:
    """The path of the loaded library, or None before the first `found.open`."""
    return _library_path


# --- futures → asyncio ---------------------------------------------------------------


class _Notifier:
    """One per event loop: C callbacks queue ready futures and poke an eventfd; the loop
    drains the whole batch on one wake-up."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.pointer = lib.found_notifier_new()
        if self.pointer == ffi.NULL:
            raise errors.FDBError("cannot create the completion notifier", code=4100)
        self.waiting: dict[int, asyncio.Future[None]] = {}
        self.buffer = ffi.new("uintptr_t[]", 256)
        self.loop = loop
        loop.add_reader(lib.found_notifier_fd(self.pointer), self.drain)

    def drain(self) -> None:
        waiting = self.waiting
        while True:
            count = lib.found_notifier_drain(self.pointer, self.buffer, 256)
            for index in range(count):
                address = self.buffer[index]
                waiter = waiting.get(address)
                if waiter is None:
                    continue
                # An address can be reused by a newer future; only a ready one counts.
                if not lib.fdb_future_is_ready_w(ffi.cast("FDBFuture*", address)):
                    continue
                del waiting[address]
                if not waiter.done():
                    waiter.set_result(None)
            if count < 256:
                return


_notifiers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Notifier] = (
    weakref.WeakKeyDictionary()
)


def _notifier() -> _Notifier:
    loop = asyncio.get_running_loop()
    notifier = _notifiers.get(loop)
    if notifier is None:
        notifier = _notifiers[loop] = _Notifier(loop)
    return notifier


async def wait(future: object) -> None:
    """Waits (without blocking the loop) until a pending C future is ready. Cancelling the
    awaiting task cancels and destroys the C future."""
    notifier = _notifier()
    address = int(ffi.cast("uintptr_t", future))
    waiter = notifier.loop.create_future()
    notifier.waiting[address] = waiter
    lib.found_future_notify(future, notifier.pointer)
    try:
        await waiter
    except asyncio.CancelledError:
        notifier.waiting.pop(address, None)
        lib.fdb_future_cancel_w(future)
        lib.fdb_future_destroy_w(future)
        raise


def take_error(future: object) -> int:
    """Destroys a ready future and returns its error code (0: none)."""
    code = lib.fdb_future_get_error_w(future)
    lib.fdb_future_destroy_w(future)
    return code


def set_knob(name: str, value: int | float | str) -> None:
    """Sets an engine knob (``found_*`` names; see README) through FDB's knob option."""
    ensure_started()
    text = f"{name}={value}".encode()
    check(lib.fdb_network_set_option_w(40, text, len(text)))

"""Typed errors: one class per FoundationDB error code, plus client-side misuse errors.

Everything `found` raises derives from :class:`FoundException`. Errors that come from
the C API (the embedded engine or a real libfdb_c) are :class:`FDBError` subclasses
looked up by code in :data:`ERRORS`, the single table below, so ``except NotCommitted``
works and every error still carries ``.code``, ``.retryable`` and ``.maybe_committed``.
"""

from __future__ import annotations

# code: (ClassName, description, retryable, maybe_committed)
# "retryable" follows fdb_error_predicate(RETRYABLE); maybe_committed follows
# fdb_error_predicate(MAYBE_COMMITTED).
_TABLE: dict[int, tuple[str, str, bool, bool]] = {
    1007: (
        "TransactionTooOld",
        "Transaction is too old to perform reads or be committed",
        True,
        False,
    ),
    1009: ("FutureVersion", "Request for future version", True, False),
    1020: (
        "NotCommitted",
        "Transaction not committed due to conflict with another transaction",
        True,
        False,
    ),
    1021: ("CommitUnknownResult", "Transaction may or may not have committed", True, True),
    1025: (
        "TransactionCancelled",
        "Operation aborted because the transaction was cancelled",
        False,
        False,
    ),
    1031: (
        "TransactionTimedOut",
        "Operation aborted because the transaction timed out",
        False,
        False,
    ),
    1032: ("TooManyWatches", "Too many watches currently set", False, False),
    1034: (
        "WatchesDisabled",
        "Watches cannot be set if read your writes is disabled",
        False,
        False,
    ),
    1036: ("AccessedUnreadable", "Read or wrote an unreadable key", False, False),
    1037: ("ProcessBehind", "Storage process does not have recent mutations", True, False),
    1038: ("DatabaseLocked", "Database is locked", True, False),
    1039: ("ClusterVersionChanged", "The protocol version of the cluster has changed", True, True),
    1042: (
        "CommitProxyMemoryLimitExceeded",
        "CommitProxy commit memory limit exceeded",
        True,
        False,
    ),
    1051: ("BatchTransactionThrottled", "Batch GRV request rate limit exceeded", True, False),
    1078: (
        "GrvProxyMemoryLimitExceeded",
        "GetReadVersion proxy memory limit exceeded",
        True,
        False,
    ),
    1101: ("OperationCancelled", "Asynchronous operation cancelled", False, False),
    1102: ("FutureReleased", "Future has been released", False, False),
    1213: ("TagThrottled", "Transaction tag is being throttled", True, False),
    1223: ("ProxyTagThrottled", "Exceeded maximum proxy tag throttling duration", True, False),
    1510: ("IOError", "Disk i/o operation failed", False, False),
    1514: ("FileNotWritable", "File could not be written", False, False),
    1515: (
        "NoClusterFileFound",
        "No cluster file found in current directory or default location",
        False,
        False,
    ),
    1522: ("FileCorrupt", "A structurally corrupt data file was detected", False, False),
    2000: ("ClientInvalidOperation", "Invalid API call", False, False),
    2004: ("KeyOutsideLegalRange", "Key outside legal range", False, False),
    2005: ("InvertedRange", "Range begin key larger than end key", False, False),
    2006: ("InvalidOptionValue", "Option set with an invalid value", False, False),
    2007: ("InvalidOption", "Option not valid in this context", False, False),
    2008: ("NetworkNotSetup", "Action not possible before the network is configured", False, False),
    2009: ("NetworkAlreadySetup", "Network can be configured only once", False, False),
    2010: ("ReadVersionAlreadySet", "Transaction already has a read version set", False, False),
    2011: ("VersionInvalid", "Version not valid", False, False),
    2012: ("RangeLimitsInvalid", "Range limits not valid", False, False),
    2013: ("InvalidDatabaseName", "Database name must be 'DB'", False, False),
    2015: ("FutureNotSet", "Future not ready", False, False),
    2017: ("UsedDuringCommit", "Operation issued while a commit was outstanding", False, False),
    2018: ("InvalidMutationType", "Unrecognized atomic mutation type", False, False),
    2020: (
        "TransactionInvalidVersion",
        "Transaction does not have a valid commit version",
        False,
        False,
    ),
    2021: (
        "NoCommitVersion",
        "Transaction is read-only and therefore does not have a commit version",
        False,
        False,
    ),
    2025: ("NetworkCannotBeRestarted", "Network can only be started once", False, False),
    2026: (
        "BlockedFromNetworkThread",
        "Detected a deadlock in a callback called from the network thread",
        False,
        False,
    ),
    2101: ("TransactionTooLarge", "Transaction exceeds byte limit", False, False),
    2102: ("KeyTooLarge", "Key length exceeds limit", False, False),
    2103: ("ValueTooLarge", "Value length exceeds limit", False, False),
    2104: ("ConnectionStringInvalid", "Connection string invalid", False, False),
    2108: ("UnsupportedOperation", "Operation is not supported", False, False),
    2109: ("TooManyTags", "Too many tags set on transaction", False, False),
    2110: ("TagTooLong", "Tag set on transaction is too long", False, False),
    2136: ("TenantsDisabled", "Tenants have been disabled in the cluster", False, False),
    2200: ("ApiVersionUnset", "API version is not set", False, False),
    2201: ("ApiVersionAlreadySet", "API version may be set only once", False, False),
    2202: ("ApiVersionInvalid", "API version not valid", False, False),
    2203: ("ApiVersionNotSupported", "API version not supported", False, False),
    2204: ("ApiFunctionMissing", "Failed to load a required FDB API function.", False, False),
    2210: (
        "ExactModeWithoutLimits",
        "EXACT streaming mode requires limits, but none were given",
        False,
        False,
    ),
    4000: ("UnknownError", "An unknown error occurred", False, False),
    4100: ("InternalError", "An internal error occurred", False, False),
}


class FoundException(Exception):
    """Base of every error raised by `found`."""

    code: int | None = None
    retryable: bool = False
    maybe_committed: bool = False


class FDBError(FoundException):
    """An error reported by the FDB C API, identified by its numeric ``code``."""

    code: int = 4000
    description: str = "An unknown error occurred"

    def __init__(self, message: str | None = None, code: int | None = None) -> None:
        if code is not None:
            self.code = code
        super().__init__(message or f"{self.description} (FDB error {self.code})")


ERRORS: dict[int, type[FDBError]] = {}

for _code, (_name, _description, _retryable, _maybe) in _TABLE.items():
    _class = type(
        _name,
        (FDBError,),
        {
            "code": _code,
            "description": _description,
            "retryable": _retryable,
            "maybe_committed": _maybe,
            "__doc__": f"FDB error {_code}: {_description}.",
            "__module__": __name__,
        },
    )
    globals()[_name] = _class
    ERRORS[_code] = _class


def from_code(code: int, message: str | None = None) -> FDBError:
    """Return the exception instance for an FDB error ``code`` (unknown codes keep their code)."""
    cls = ERRORS.get(code)
    if cls is None:
        error = FDBError(message or f"FDB error {code}", code=code)
        return error
    return cls(message)


# --- client-side errors: misuse detected before anything reaches the C API ---------


class InvalidArgument(FoundException, ValueError):
    """An argument has the right type but a value the call cannot accept."""


class InvalidType(FoundException, TypeError):
    """An argument has the wrong type (e.g. a ``str`` where a ``bytes`` key is expected)."""


class DatabaseClosed(FoundException):
    """The database handle was closed; open a new one."""


class TupleError(FoundException, ValueError):
    """Bytes that are not a valid packed tuple, or a value the tuple layer cannot pack.

    ``offset`` is the byte position where decoding failed (``None`` when packing).
    """

    def __init__(self, message: str, offset: int | None = None) -> None:
        self.offset = offset
        if offset is not None:
            message = f"{message} (at byte offset {offset})"
        super().__init__(message)


class LayerError(FoundException, ValueError):
    """A layer (nstore, vnstore, bstore, eavstore, pstore…) was called with bad input."""

"""FDB options by name: ``found.set_option(tx, "timeout", 500)``.

Each name maps to its FDB code and parameter kind: ``int`` (milliseconds, counts, bytes),
``str``/``bytes``, or ``flag`` (no parameter; pass True). Codes follow FDB's options file;
every other option is still reachable by code with ``tx.set_option(code, value)``.
"""

from __future__ import annotations

from typing import Any

from . import errors

# name: (code, kind)
TRANSACTION_OPTIONS: dict[str, tuple[int, str]] = {
    "causal_write_risky": (10, "flag"),
    "causal_read_risky": (20, "flag"),
    "next_write_no_write_conflict_range": (30, "flag"),
    "read_your_writes_disable": (51, "flag"),
    "durability_risky": (120, "flag"),
    "priority_system_immediate": (200, "flag"),
    "priority_batch": (201, "flag"),
    "access_system_keys": (301, "flag"),
    "read_system_keys": (302, "flag"),
    "lock_aware": (303, "flag"),
    "debug_transaction_identifier": (403, "str"),
    "timeout": (500, "int"),
    "retry_limit": (501, "int"),
    "max_retry_delay": (502, "int"),
    "size_limit": (503, "int"),
    "snapshot_ryw_enable": (600, "flag"),
    "snapshot_ryw_disable": (601, "flag"),
    "used_during_commit_protection_disable": (701, "flag"),
    "special_key_space_relaxed": (713, "flag"),
    "special_key_space_enable_writes": (714, "flag"),
    "tag": (800, "str"),
    "auto_throttle_tag": (801, "str"),
    "bypass_unreadable": (1100, "flag"),
}

DATABASE_OPTIONS: dict[str, tuple[int, str]] = {
    "max_watches": (20, "int"),
    "snapshot_ryw_enable": (26, "flag"),
    "snapshot_ryw_disable": (27, "flag"),
    "transaction_timeout": (500, "int"),
    "transaction_retry_limit": (501, "int"),
    "transaction_max_retry_delay": (502, "int"),
    "transaction_size_limit": (503, "int"),
    "transaction_bypass_unreadable": (700, "flag"),
    "transaction_used_during_commit_protection_disable": (701, "flag"),
}


def encode(table: dict[str, tuple[int, str]], name: str, value: Any) -> tuple[int, Any]:
    """Returns ``(code, parameter)`` for option ``name``, or raises InvalidArgument /
    InvalidType naming what is wrong."""
    entry = table.get(name)
    if entry is None:
        raise errors.InvalidArgument(f"unknown option {name!r}; known: {', '.join(sorted(table))}")
    code, kind = entry
    if kind == "flag":
        if value not in (True, None):
            raise errors.InvalidArgument(f"option {name!r} takes no value (pass True)")
        return code, None
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise errors.InvalidType(f"option {name!r} takes an int, not {type(value).__name__}")
        return code, value
    if not isinstance(value, (str, bytes)):
        raise errors.InvalidType(f"option {name!r} takes str or bytes, not {type(value).__name__}")
    return code, value


def set_option(target: Any, name: str, value: Any = True) -> None:
    """Sets a named option on a transaction or a database (``found.set_option``)."""
    from .database import Database

    table = DATABASE_OPTIONS if isinstance(target, Database) else TRANSACTION_OPTIONS
    code, parameter = encode(table, name, value)
    target.set_option(code, parameter)

"""found — an asyncio toolkit for FoundationDB, with an embedded engine.

The table of contents of the public API; every name is defined in its own module.
"""

from . import errors
from .database import Database, default_data_directory, open
from .reads import (
    StreamingMode,
    all,
    approximate_size,
    estimated_size,
    get,
    get_key,
    next_prefix,
    query,
    read_version,
    set_read_version,
    split_points,
)
from .selectors import KeySelector, gt, gte, lt, lte
from .subspace import Subspace
from .transaction import (
    Transaction,
    cancel,
    commit,
    create_transaction,
    on_error,
    reset,
    transaction,
    transactional,
)
from .tuple import Versionstamp, pack, pack_with_versionstamp, unpack
from .writes import (
    MutationType,
    add,
    add_conflict_range,
    append_if_fits,
    atomic,
    bit_and,
    bit_or,
    bit_xor,
    byte_max,
    byte_min,
    clear,
    committed_version,
    compare_and_clear,
    get_versionstamp,
    max,
    min,
    set,
    set_versionstamped_key,
    set_versionstamped_value,
    watch,
)

__all__ = [
    "Database", "KeySelector", "MutationType", "StreamingMode", "Subspace", "Transaction", "Versionstamp",
    "add", "add_conflict_range", "all", "append_if_fits", "approximate_size", "atomic",
    "bit_and", "bit_or", "bit_xor", "byte_max", "byte_min", "cancel", "clear", "commit",
    "committed_version", "compare_and_clear", "create_transaction", "default_data_directory",
    "errors", "estimated_size", "get", "get_key", "get_versionstamp", "gt", "gte", "lt", "lte",
    "max", "min", "next_prefix", "on_error", "open", "pack", "pack_with_versionstamp", "query",
    "read_version", "reset", "set", "set_read_version", "set_versionstamped_key",
    "set_versionstamped_value", "split_points", "transaction", "transactional", "unpack", "watch",
]

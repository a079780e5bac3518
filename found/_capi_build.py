"""Builds ``found._capi``: the compiled cffi module (API mode) through which `found` calls
the FDB C API.

The module does not link against any libfdb_c. It holds a table of function pointers
filled at run time by ``found_load(path)`` (dlopen + dlsym), so the same compiled module
drives the embedded engine or a real libfdb_c. Beside the plain C API it adds a few fused
calls for the hot paths (a read that is answered at once costs one crossing into C) and a
completion notifier: futures that become ready on the network thread are queued in C and
the event loop is woken once per batch through an eventfd.
"""

from __future__ import annotations

import os

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))

# (return type, name without the fdb_ prefix, parameter list)
FUNCTIONS: list[tuple[str, str, str]] = [
    ("fdb_error_t", "select_api_version_impl", "int runtime_version, int header_version"),
    ("int", "get_max_api_version", "void"),
    ("const char*", "get_client_version", "void"),
    ("const char*", "get_error", "fdb_error_t code"),
    ("fdb_bool_t", "error_predicate", "int predicate_test, fdb_error_t code"),
    ("fdb_error_t", "network_set_option", "int option, const uint8_t* value, int value_length"),
    ("fdb_error_t", "setup_network", "void"),
    ("fdb_error_t", "run_network", "void"),
    ("fdb_error_t", "stop_network", "void"),
    ("void", "future_cancel", "FDBFuture* f"),
    ("void", "future_destroy", "FDBFuture* f"),
    ("void", "future_release_memory", "FDBFuture* f"),
    ("fdb_error_t", "future_block_until_ready", "FDBFuture* f"),
    ("fdb_bool_t", "future_is_ready", "FDBFuture* f"),
    ("fdb_error_t", "future_set_callback", "FDBFuture* f, FDBCallback callback, void* parameter"),
    ("fdb_error_t", "future_get_error", "FDBFuture* f"),
    ("fdb_error_t", "future_get_int64", "FDBFuture* f, int64_t* out"),
    ("fdb_error_t", "future_get_uint64", "FDBFuture* f, uint64_t* out"),
    ("fdb_error_t", "future_get_double", "FDBFuture* f, double* out"),
    ("fdb_error_t", "future_get_key", "FDBFuture* f, const uint8_t** out_key, int* out_key_length"),
    (
        "fdb_error_t",
        "future_get_value",
        "FDBFuture* f, fdb_bool_t* out_present, const uint8_t** out_value, int* out_value_length",
    ),
    (
        "fdb_error_t",
        "future_get_keyvalue_array",
        "FDBFuture* f, const FDBKeyValue** out_kv, int* out_count, fdb_bool_t* out_more",
    ),
    (
        "fdb_error_t",
        "future_get_key_array",
        "FDBFuture* f, const FDBKey** out_keys, int* out_count",
    ),
    (
        "fdb_error_t",
        "future_get_string_array",
        "FDBFuture* f, const char*** out_strings, int* out_count",
    ),
    ("fdb_error_t", "create_database", "const char* cluster_file_path, FDBDatabase** out_database"),
    ("void", "database_destroy", "FDBDatabase* d"),
    (
        "fdb_error_t",
        "database_set_option",
        "FDBDatabase* d, int option, const uint8_t* value, int value_length",
    ),
    (
        "fdb_error_t",
        "database_create_transaction",
        "FDBDatabase* d, FDBTransaction** out_transaction",
    ),
    (
        "fdb_error_t",
        "database_open_tenant",
        "FDBDatabase* d, const uint8_t* tenant_name, int tenant_name_length,"
        " FDBTenant** out_tenant",
    ),
    (
        "fdb_error_t",
        "tenant_create_transaction",
        "FDBTenant* tenant, FDBTransaction** out_transaction",
    ),
    ("void", "tenant_destroy", "FDBTenant* tenant"),
    ("FDBFuture*", "tenant_get_id", "FDBTenant* tenant"),
    ("void", "transaction_destroy", "FDBTransaction* tr"),
    ("void", "transaction_cancel", "FDBTransaction* tr"),
    ("void", "transaction_reset", "FDBTransaction* tr"),
    (
        "fdb_error_t",
        "transaction_set_option",
        "FDBTransaction* tr, int option, const uint8_t* value, int value_length",
    ),
    ("void", "transaction_set_read_version", "FDBTransaction* tr, int64_t version"),
    ("FDBFuture*", "transaction_get_read_version", "FDBTransaction* tr"),
    (
        "FDBFuture*",
        "transaction_get",
        "FDBTransaction* tr, const uint8_t* key_name, int key_name_length, fdb_bool_t snapshot",
    ),
    (
        "FDBFuture*",
        "transaction_get_key",
        "FDBTransaction* tr, const uint8_t* key_name, int key_name_length, fdb_bool_t or_equal,"
        " int offset, fdb_bool_t snapshot",
    ),
    (
        "FDBFuture*",
        "transaction_get_range",
        "FDBTransaction* tr, const uint8_t* begin_key_name, int begin_key_name_length,"
        " fdb_bool_t begin_or_equal, int begin_offset, const uint8_t* end_key_name,"
        " int end_key_name_length, fdb_bool_t end_or_equal, int end_offset, int limit,"
        " int target_bytes, int mode, int iteration, fdb_bool_t snapshot, fdb_bool_t reverse",
    ),
    (
        "void",
        "transaction_set",
        "FDBTransaction* tr, const uint8_t* key_name, int key_name_length, const uint8_t* value,"
        " int value_length",
    ),
    (
        "void",
        "transaction_clear",
        "FDBTransaction* tr, const uint8_t* key_name, int key_name_length",
    ),
    (
        "void",
        "transaction_clear_range",
        "FDBTransaction* tr, const uint8_t* begin_key_name, int begin_key_name_length,"
        " const uint8_t* end_key_name, int end_key_name_length",
    ),
    (
        "void",
        "transaction_atomic_op",
        "FDBTransaction* tr, const uint8_t* key_name, int key_name_length, const uint8_t* param,"
        " int param_length, int operation_type",
    ),
    (
        "fdb_error_t",
        "transaction_add_conflict_range",
        "FDBTransaction* tr, const uint8_t* begin_key_name, int begin_key_name_length,"
        " const uint8_t* end_key_name, int end_key_name_length, int type",
    ),
    (
        "FDBFuture*",
        "transaction_watch",
        "FDBTransaction* tr, const uint8_t* key_name, int key_name_length",
    ),
    ("FDBFuture*", "transaction_commit", "FDBTransaction* tr"),
    ("FDBFuture*", "transaction_on_error", "FDBTransaction* tr, fdb_error_t error"),
    (
        "fdb_error_t",
        "transaction_get_committed_version",
        "FDBTransaction* tr, int64_t* out_version",
    ),
    ("FDBFuture*", "transaction_get_versionstamp", "FDBTransaction* tr"),
    ("FDBFuture*", "transaction_get_approximate_size", "FDBTransaction* tr"),
    (
        "FDBFuture*",
        "transaction_get_estimated_range_size_bytes",
        "FDBTransaction* tr, const uint8_t* begin_key_name, int begin_key_name_length,"
        " const uint8_t* end_key_name, int end_key_name_length",
    ),
    (
        "FDBFuture*",
        "transaction_get_range_split_points",
        "FDBTransaction* tr, const uint8_t* begin_key_name, int begin_key_name_length,"
        " const uint8_t* end_key_name, int end_key_name_length, int64_t chunk_size",
    ),
]

TYPES = """
typedef int fdb_error_t;
typedef int fdb_bool_t;
typedef struct FDBFuture FDBFuture;
typedef struct FDBDatabase FDBDatabase;
typedef struct FDBTransaction FDBTransaction;
typedef struct FDBTenant FDBTenant;
typedef struct { const uint8_t* key; int key_length; } FDBKey;
typedef struct { const uint8_t* key; int key_length; const uint8_t* value; int value_length; }
    FDBKeyValue;
typedef void (*FDBCallback)(FDBFuture* future, void* callback_parameter);
"""

HELPERS_CDEF = """
int found_load(const char* path);
const char* found_load_error(void);
const char* found_last_open_error(void);

typedef struct found_notifier found_notifier;
found_notifier* found_notifier_new(void);
int found_notifier_fd(found_notifier* n);
int found_notifier_drain(found_notifier* n, uintptr_t* out, int capacity);
void found_notifier_free(found_notifier* n);
fdb_error_t found_future_notify(FDBFuture* f, found_notifier* n);

int found_take_value(FDBFuture* f, char* buffer);
int found_read_version(FDBTransaction* tr, int64_t* out_version, FDBFuture** out_future);
int found_database_get(FDBDatabase* db, const uint8_t* key, int key_length, char* buffer,
                       FDBTransaction** out_tr, FDBFuture** out_future);
void found_set_many(FDBTransaction* tr, const uint8_t* keys, const int* key_lengths, int count,
                    const uint8_t* values, const int* value_lengths, int value_length);
uintptr_t found_hot_calls(void);
"""


def _parameter_names(parameters: str) -> str:
    if parameters.strip() == "void":
        return ""
    names = []
    for parameter in parameters.split(","):
        names.append(parameter.strip().split()[-1].lstrip("*"))
    return ", ".join(names)


def _source() -> str:
    parts = [
        "#include <dlfcn.h>\n#include <errno.h>\n#include <pthread.h>\n#include <stdint.h>\n"
        "#include <stdlib.h>\n#include <string.h>\n#include <sys/eventfd.h>\n#include <unistd.h>\n",
        # FDB's key structs are packed to 4 bytes (12 and 24 bytes on 64-bit).
        "#pragma pack(push, 4)\n" + TYPES + "#pragma pack(pop)\n",
    ]
    for ret, name, params in FUNCTIONS:
        parts.append(f"static {ret} (*p_{name})({params});\n")
        call = f"p_{name}({_parameter_names(params)})"
        body = f"return {call};" if ret != "void" else f"{call};"
        parts.append(f"static {ret} fdb_{name}_w({params}) {{ {body} }}\n")
    loads = "\n".join(
        f'    p_{name} = dlsym(handle, "fdb_{name}");\n'
        f"    if (!p_{name}) {{ snprintf(g_load_error, sizeof g_load_error, "
        f'"symbol fdb_{name} missing in %s", path); return -1; }}'
        for _, name, _ in FUNCTIONS
    )
    parts.append(
        r"""
#include <stdio.h>
static char g_load_error[512];
static const char* (*p_last_open_error)(void);
static void* g_handle;

/* Loads the library at `path` once per process; 0 on success, -1 with found_load_error(). */
static int found_load(const char* path) {
    if (g_handle) return 0;
    void* handle = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (!handle) { snprintf(g_load_error, sizeof g_load_error, "%s", dlerror()); return -1; }
"""
        + loads
        + r"""
    p_last_open_error = (const char* (*)(void))dlsym(handle, "fdb_found_last_open_error");
    g_handle = handle;
    return 0;
}
static const char* found_load_error(void) { return g_load_error; }
static const char* found_last_open_error(void) {
    return p_last_open_error ? p_last_open_error() : "";
}

/* ---- completion notifier: callbacks queue futures, the loop is woken once per batch ---- */
typedef struct found_notifier {
    int fd;
    pthread_mutex_t mutex;
    uintptr_t* items;
    int count, capacity;
    int signaled;
} found_notifier;

static found_notifier* found_notifier_new(void) {
    found_notifier* n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (n->fd < 0) { free(n); return NULL; }
    pthread_mutex_init(&n->mutex, NULL);
    return n;
}
static int found_notifier_fd(found_notifier* n) { return n->fd; }
static void found_notifier_free(found_notifier* n) {
    close(n->fd);
    pthread_mutex_destroy(&n->mutex);
    free(n->items);
    free(n);
}
static void found_on_ready(FDBFuture* f, void* parameter) {
    found_notifier* n = parameter;
    pthread_mutex_lock(&n->mutex);
    if (n->count == n->capacity) {
        int capacity = n->capacity ? 2 * n->capacity : 64;
        uintptr_t* items = realloc(n->items, (size_t)capacity * sizeof *items);
        if (!items) { pthread_mutex_unlock(&n->mutex); abort(); }
        n->items = items;
        n->capacity = capacity;
    }
    n->items[n->count++] = (uintptr_t)f;
    int wake = !n->signaled;
    n->signaled = 1;
    pthread_mutex_unlock(&n->mutex);
    if (wake) {
        uint64_t one = 1;
        ssize_t unused = write(n->fd, &one, sizeof one);
        (void)unused;
    }
}
static fdb_error_t found_future_notify(FDBFuture* f, found_notifier* n) {
    return p_future_set_callback(f, found_on_ready, n);
}
/* Moves up to `capacity` ready futures into `out`; returns how many. */
static int found_notifier_drain(found_notifier* n, uintptr_t* out, int capacity) {
    uint64_t counter;
    ssize_t unused = read(n->fd, &counter, sizeof counter);
    (void)unused;
    pthread_mutex_lock(&n->mutex);
    int taken = n->count < capacity ? n->count : capacity;
    memcpy(out, n->items, (size_t)taken * sizeof *out);
    memmove(n->items, n->items + taken, (size_t)(n->count - taken) * sizeof *out);
    n->count -= taken;
    n->signaled = n->count > 0;
    pthread_mutex_unlock(&n->mutex);
    if (n->signaled) {
        uint64_t one = 1;
        unused = write(n->fd, &one, sizeof one);
    }
    return taken;
}

/* ---- fused hot paths ---- */

/* Copies a ready value future's result into `buffer` and destroys the future. Returns
 * the value length, -1 when absent, or -(1000 + error) on error. */
static int found_take_value(FDBFuture* f, char* buffer) {
    fdb_bool_t present = 0;
    const uint8_t* value = NULL;
    int length = 0;
    fdb_error_t error = p_future_get_value(f, &present, &value, &length);
    int result;
    if (error) result = -(1000 + error);
    else if (!present) result = -1;
    else { memcpy(buffer, value, (size_t)length); result = length; }
    p_future_destroy(f);
    return result;
}

/* One key read in a snapshot transaction of its own, in one call: as found_take_value
 * when answered at once (the transaction is gone). Otherwise -2 with the transaction and
 * the pending future (the caller awaits it, takes the value, destroys both). */
static int found_database_get(FDBDatabase* db, const uint8_t* key, int key_length, char* buffer,
                              FDBTransaction** out_tr, FDBFuture** out_future) {
    FDBTransaction* tr = NULL;
    fdb_error_t error = p_database_create_transaction(db, &tr);
    if (error) return -(1000 + error);
    FDBFuture* f = p_transaction_get(tr, key, key_length, 1);
    if (!p_future_is_ready(f)) { *out_tr = tr; *out_future = f; return -2; }
    int result = found_take_value(f, buffer);
    p_transaction_destroy(tr);
    return result;
}

/* fdb_transaction_set of each of `count` keys, laid end to end in `keys` with their
 * `key_lengths`, to the values laid end to end in `values` with their `value_lengths` —
 * or, when value_lengths is NULL, each to the one value `values` of `value_length`
 * bytes: a layer writing thousands of keys crosses from Python once, not once per key. */
static void found_set_many(FDBTransaction* tr, const uint8_t* keys, const int* key_lengths,
                           int count, const uint8_t* values, const int* value_lengths,
                           int value_length) {
    for (int i = 0; i < count; i++) {
        const int length = value_lengths ? value_lengths[i] : value_length;
        p_transaction_set(tr, keys, key_lengths[i], values, length);
        keys += key_lengths[i];
        if (value_lengths) values += length;
    }
}

/* The loaded entry points found._hot_calls calls (a point get and a set without cffi's
 * per-call costs); its struct hot_calls has this layout. Valid once found_load succeeded. */
struct found_hot_calls_table {
    FDBFuture* (*transaction_get)(FDBTransaction*, const uint8_t*, int, fdb_bool_t);
    fdb_bool_t (*future_is_ready)(FDBFuture*);
    fdb_error_t (*future_get_value)(FDBFuture*, fdb_bool_t*, const uint8_t**, int*);
    void (*future_destroy)(FDBFuture*);
    void (*transaction_set)(FDBTransaction*, const uint8_t*, int, const uint8_t*, int);
};
static struct found_hot_calls_table g_hot_calls;

static uintptr_t found_hot_calls(void) {
    g_hot_calls.transaction_get = p_transaction_get;
    g_hot_calls.future_is_ready = p_future_is_ready;
    g_hot_calls.future_get_value = p_future_get_value;
    g_hot_calls.future_destroy = p_future_destroy;
    g_hot_calls.transaction_set = p_transaction_set;
    return (uintptr_t)&g_hot_calls;
}

/* 0 with the version when answered at once, an FDB error, or -2 with a pending future. */
static int found_read_version(FDBTransaction* tr, int64_t* out_version, FDBFuture** out_future) {
    FDBFuture* f = p_transaction_get_read_version(tr);
    if (!p_future_is_ready(f)) { *out_future = f; return -2; }
    fdb_error_t error = p_future_get_int64(f, out_version);
    p_future_destroy(f);
    return error;
}


"""
    )
    return "".join(parts)


def _cdef() -> str:
    # "...;" lets cffi take the packed layout from the C compiler.
    types = TYPES.replace("int key_length; }", "int key_length; ...; }").replace(
        "int value_length; }", "int value_length; ...; }"
    )
    lines = [types, HELPERS_CDEF]
    for ret, name, params in FUNCTIONS:
        lines.append(f"{ret} fdb_{name}_w({params});")
    return "\n".join(lines)


ffibuilder = FFI()
ffibuilder.cdef(_cdef())
ffibuilder.set_source("found._capi", _source(), libraries=["dl", "pthread"])

if __name__ == "__main__":
    ffibuilder.compile(verbose=False)

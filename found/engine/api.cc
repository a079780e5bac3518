/* api.cc — the exported libfdb_c ABI. Thin: argument checks and conversions, then the
 * Transaction / Engine / Future / Network objects do the work. Every symbol a binding may
 * resolve exists; what the engine does not implement fails cleanly with an FDB error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <atomic>
#include <mutex>
#include <string>

#include "engine.h"
#include "errors.h"
#include "fdb_c_abi.h"
#include "future.h"
#include "location.h"
#include "network.h"
#include "transaction.h"

using namespace found;

struct FDBTenant {};
struct FDBCluster {};
struct FDBResult {};

namespace {

std::atomic<int> g_api_version{0};
std::atomic<int> g_header_version{0};
thread_local std::string g_last_open_error;

const char kClientVersion[] = "7.3.0-found,found-embedded,fdb00b073000000";
const uint64_t kProtocolVersion = 0x0FDB00B073000000ULL;

struct Tenant : FDBTenant {
    Database* database;
};

struct Cluster : FDBCluster {
    std::string path;
};

bool api_selected() { return g_api_version.load(std::memory_order_relaxed) != 0; }

std::string bytes(const uint8_t* data, int length) {
    if (!data || length <= 0) return std::string();
    return std::string(reinterpret_cast<const char*>(data), (size_t)length);
}

FDBFuture* failed(FutureKind kind, int error) { return Future::failed(kind, error); }

int64_t int_param(const uint8_t* value, int length, bool* ok) {
    *ok = value != nullptr && length == 8;
    int64_t v = 0;
    if (*ok) memcpy(&v, value, 8);
    return v;
}

/* Parameter shapes of network options: N none, I int64, S string/bytes, A anything. */
char network_option_shape(int code) {
    switch (code) {
        case 31: case 32: case 50: case 51: case 65: case 82: case 83:
            return 'I';
        case 37: case 38: case 48: case 49: case 55: case 60: case 61: case 64: case 67:
        case 68: case 69: case 70: case 71: case 72: case 80: case 81:
            return 'N';
        case 10: case 20: case 30: case 33: case 34: case 35: case 36: case 39: case 40:
        case 41: case 42: case 43: case 45: case 46: case 47: case 52: case 53: case 54:
        case 62: case 63: case 66: case 84: case 90: case 91:
            return 'S';
        case 1000: case 1001: case 1002:
            return 'A';
        default:
            return 0;
    }
}

int64_t g_buggify_activated = 25, g_buggify_fired = 25;
bool g_buggify_enabled = false;

void update_buggify() {
    knobs().fault_probability =
        g_buggify_enabled ? (double)g_buggify_activated * (double)g_buggify_fired / 10000.0 : 0.0;
}

/* knob option: "name=value"; found_* names are the engine's own knobs. */
int set_knob(const std::string& text) {
    size_t eq = text.find('=');
    if (eq == std::string::npos) return kInvalidOptionValue;
    std::string name = text.substr(0, eq), value = text.substr(eq + 1);
    if (name.compare(0, 6, "found_") != 0) return 0; /* FDB knobs: accepted, no effect here */
    char* end = nullptr;
    if (name == "found_fault_probability") {
        double p = strtod(value.c_str(), &end);
        if (*end || p < 0 || p > 1) return kInvalidOptionValue;
        knobs().fault_probability = p;
        return 0;
    }
    long long v = strtoll(value.c_str(), &end, 10);
    if (value.empty() || *end) return kInvalidOptionValue;
    if (name == "found_mvcc_window_versions" && v > 0) knobs().mvcc_window_versions = v;
    else if (name == "found_future_version_wait_ms" && v >= 0) knobs().future_version_wait_ms = v;
    else if (name == "found_sync") knobs().sync = v != 0;
    else if (name == "found_checkpoint_bytes" && v >= 0) knobs().checkpoint_bytes = v;
    else if (name == "found_relaxed_sync_ms" && v >= 1) knobs().relaxed_sync_ms = v;
    else if (name == "found_fault_seed") knobs().fault_seed = (uint64_t)v;
    else if (name == "found_group_commit_us" && v >= 0) { /* batching is adaptive */ }
    else return kInvalidOptionValue;
    return 0;
}

}  // namespace

extern "C" {

/* ---------------------------------------------------------------- process, errors */

FOUND_EXPORT fdb_error_t fdb_select_api_version_impl(int runtime_version, int header_version) {
    if (api_selected()) return kApiVersionAlreadySet;
    if (runtime_version > header_version) return kApiVersionInvalid;
    if (header_version > 800 || runtime_version < 13) return kApiVersionNotSupported;
    int expected = 0;
    if (!g_api_version.compare_exchange_strong(expected, runtime_version)) return kApiVersionAlreadySet;
    g_header_version = header_version;
    return 0;
}

FOUND_EXPORT int fdb_get_max_api_version(void) { return 800; }
FOUND_EXPORT const char* fdb_get_client_version(void) { return kClientVersion; }
FOUND_EXPORT const char* fdb_get_error(fdb_error_t code) { return error_text(code); }
FOUND_EXPORT fdb_bool_t fdb_error_predicate(int predicate, fdb_error_t code) {
    return error_predicate(predicate, code) ? 1 : 0;
}

/* Not part of libfdb_c: why the last fdb_create_database on this thread failed. Bindings
 * look it up optionally (dlsym) to word their error. */
FOUND_EXPORT const char* fdb_found_last_open_error(void) { return g_last_open_error.c_str(); }

/* ---------------------------------------------------------------- network */

FOUND_EXPORT fdb_error_t fdb_network_set_option(int option, const uint8_t* value, int length) {
    if (!api_selected()) return kApiVersionUnset;
    char shape = network_option_shape(option);
    if (!shape) return kInvalidOption;
    if (shape == 'I' && length != 8) return kInvalidOptionValue;
    if (shape == 'N' && length != 0) return kInvalidOptionValue;
    bool ok;
    switch (option) {
        case 40: return set_knob(bytes(value, length));
        case 80: g_buggify_enabled = true; update_buggify(); break;
        case 81: g_buggify_enabled = false; update_buggify(); break;
        case 82: case 83: {
            int64_t v = int_param(value, length, &ok);
            if (v < 0 || v > 100) return kInvalidOptionValue;
            (option == 82 ? g_buggify_activated : g_buggify_fired) = v;
            update_buggify();
            break;
        }
        default: break;
    }
    return 0;
}

FOUND_EXPORT fdb_error_t fdb_setup_network(void) {
    if (!api_selected()) return kApiVersionUnset;
    return Network::instance().setup();
}

FOUND_EXPORT fdb_error_t fdb_run_network(void) {
    if (!api_selected()) return kApiVersionUnset;
    return Network::instance().run();
}

FOUND_EXPORT fdb_error_t fdb_stop_network(void) {
    if (!api_selected()) return kApiVersionUnset;
    return Network::instance().stop();
}

FOUND_EXPORT fdb_error_t fdb_add_network_thread_completion_hook(void (*hook)(void*), void* parameter) {
    if (!api_selected()) return kApiVersionUnset;
    Network::instance().add_completion_hook(hook, parameter);
    return 0;
}

/* ---------------------------------------------------------------- futures */

FOUND_EXPORT void fdb_future_cancel(FDBFuture* f) { Future::from(f)->cancel(); }
FOUND_EXPORT void fdb_future_destroy(FDBFuture* f) { if (f) Future::from(f)->destroy(); }
FOUND_EXPORT void fdb_future_release_memory(FDBFuture* f) { Future::from(f)->release_memory(); }
FOUND_EXPORT fdb_error_t fdb_future_block_until_ready(FDBFuture* f) { return Future::from(f)->block_until_ready(); }
FOUND_EXPORT fdb_bool_t fdb_future_is_ready(FDBFuture* f) { return Future::from(f)->is_ready() ? 1 : 0; }
FOUND_EXPORT fdb_error_t fdb_future_set_callback(FDBFuture* f, FDBCallback callback, void* parameter) {
    return Future::from(f)->set_callback(callback, parameter);
}
FOUND_EXPORT fdb_error_t fdb_future_get_error(FDBFuture* f) { return Future::from(f)->get_error(); }
FOUND_EXPORT fdb_error_t fdb_future_get_int64(FDBFuture* f, int64_t* out) { return Future::from(f)->get_int64(out); }
FOUND_EXPORT fdb_error_t fdb_future_get_uint64(FDBFuture* f, uint64_t* out) { return Future::from(f)->get_uint64(out); }
FOUND_EXPORT fdb_error_t fdb_future_get_double(FDBFuture* f, double* out) { return Future::from(f)->get_double(out); }
FOUND_EXPORT fdb_error_t fdb_future_get_bool(FDBFuture* f, fdb_bool_t* out) { return Future::from(f)->get_bool(out); }
FOUND_EXPORT fdb_error_t fdb_future_get_key(FDBFuture* f, const uint8_t** key, int* length) {
    return Future::from(f)->get_key(key, length);
}
FOUND_EXPORT fdb_error_t fdb_future_get_value(FDBFuture* f, fdb_bool_t* present, const uint8_t** value, int* length) {
    return Future::from(f)->get_value(present, value, length);
}
FOUND_EXPORT fdb_error_t fdb_future_get_keyvalue_array(FDBFuture* f, const FDBKeyValue** kvs, int* count, fdb_bool_t* more) {
    return Future::from(f)->get_keyvalue_array(kvs, count, more);
}
FOUND_EXPORT fdb_error_t fdb_future_get_key_array(FDBFuture* f, const FDBKey** keys, int* count) {
    return Future::from(f)->get_key_array(keys, count);
}
FOUND_EXPORT fdb_error_t fdb_future_get_string_array(FDBFuture* f, const char*** strings, int* count) {
    return Future::from(f)->get_string_array(strings, count);
}
FOUND_EXPORT fdb_error_t fdb_future_get_keyrange_array(FDBFuture* f, const FDBKeyRange** ranges, int* count) {
    return Future::from(f)->get_keyrange_array(ranges, count);
}
FOUND_EXPORT fdb_error_t fdb_future_get_mappedkeyvalue_array(FDBFuture* f, const FDBMappedKeyValue** kvs, int* count,
                                                             fdb_bool_t* more) {
    return Future::from(f)->get_mappedkeyvalue_array(kvs, count, more);
}

/* ---------------------------------------------------------------- database */

FOUND_EXPORT fdb_error_t fdb_create_database(const char* cluster_file_path, FDBDatabase** out) {
    if (!api_selected()) return kApiVersionUnset;
    if (!Network::instance().is_setup()) return kNetworkNotSetup;
    std::string location, message;
    int rc = resolve_location(cluster_file_path, &location, &message);
    Engine* engine = nullptr;
    if (rc == 0) rc = Engine::open(location, &engine, &message);
    if (rc) {
        g_last_open_error = message;
        return rc;
    }
    g_last_open_error.clear();
    *out = new Database(engine, cluster_file_path ? cluster_file_path : "");
    return 0;
}

FOUND_EXPORT fdb_error_t fdb_create_database_from_connection_string(const char* connection, FDBDatabase** out) {
    if (!connection || strncmp(connection, "found:", 6) != 0) return kConnectionStringInvalid;
    return fdb_create_database(connection, out);
}

FOUND_EXPORT void fdb_database_destroy(FDBDatabase* d) { delete Database::from(d); }

FOUND_EXPORT fdb_error_t fdb_database_set_option(FDBDatabase* d, int option, const uint8_t* value, int length) {
    Database* db = Database::from(d);
    std::lock_guard<std::mutex> lock(db->mutex);
    TransactionDefaults& defaults = db->defaults;
    bool ok = true;
    int64_t v = 0;
    switch (option) {
        case 10: case 405: case 900:
            int_param(value, length, &ok);
            break;
        case 20:
            v = int_param(value, length, &ok);
            if (ok && (v < 0 || v > 1000000)) ok = false;
            if (ok) db->max_watches = v;
            break;
        case 21: case 22: case 800:
            break;
        case 26: case 27:
            ok = length == 0;
            if (ok && option == 26 && defaults.snapshot_ryw_disables > 0) defaults.snapshot_ryw_disables--;
            if (ok && option == 27) defaults.snapshot_ryw_disables++;
            break;
        case 500: case 501: case 502: case 503:
            v = int_param(value, length, &ok);
            if (!ok) break;
            if (option == 500 && v >= 0 && v <= INT32_MAX) defaults.timeout_ms = v;
            else if (option == 501 && v >= -1 && v <= INT32_MAX) defaults.retry_limit = v;
            else if (option == 502 && v >= 0 && v <= INT32_MAX) defaults.max_retry_delay_ms = v;
            else if (option == 503 && v >= 32 && v <= 10000000) defaults.size_limit = v;
            else ok = false;
            break;
        case 504: case 505: case 506: case 702:
            ok = length == 0;
            break;
        case 700: ok = length == 0; if (ok) defaults.bypass_unreadable = true; break;
        case 701: ok = length == 0; if (ok) defaults.used_during_commit_protection_disabled = true; break;
        default:
            return kInvalidOption;
    }
    return ok ? 0 : kInvalidOptionValue;
}

FOUND_EXPORT fdb_error_t fdb_database_create_transaction(FDBDatabase* d, FDBTransaction** out) {
    *out = new Transaction(Database::from(d));
    return 0;
}

FOUND_EXPORT fdb_error_t fdb_database_open_tenant(FDBDatabase* d, const uint8_t*, int, FDBTenant** out) {
    Tenant* tenant = new Tenant();
    tenant->database = Database::from(d);
    *out = tenant;
    return 0;
}

FOUND_EXPORT FDBFuture* fdb_database_get_client_status(FDBDatabase* d) {
    Database* db = Database::from(d);
    Future* f = new Future(FutureKind::kKey);
    f->bytes = std::string("{\"Healthy\":true,\"InitializationState\":\"created\",\"ConnectionRecord\":\"") +
               db->engine->location() + "\",\"ProtocolVersion\":\"fdb00b073000000\",\"AvailableClients\":[]}";
    f->mark_ready();
    return f;
}

FOUND_EXPORT double fdb_database_get_main_thread_busyness(FDBDatabase*) { return Network::instance().busyness(); }

FOUND_EXPORT FDBFuture* fdb_database_get_server_protocol(FDBDatabase*, uint64_t expected) {
    Future* f = new Future(FutureKind::kUint64);
    if (expected == kProtocolVersion) return f; /* FDB waits for a change that never comes */
    f->uint64_value = kProtocolVersion;
    f->mark_ready();
    return f;
}

FOUND_EXPORT FDBFuture* fdb_database_reboot_worker(FDBDatabase*, const uint8_t*, int, fdb_bool_t, int) {
    Future* f = new Future(FutureKind::kInt64);
    f->int64_value = 0;
    f->mark_ready();
    return f;
}

FOUND_EXPORT FDBFuture* fdb_database_force_recovery_with_data_loss(FDBDatabase*, const uint8_t*, int) {
    Future* f = new Future(FutureKind::kVoid);
    f->mark_ready();
    return f;
}

FOUND_EXPORT FDBFuture* fdb_database_create_snapshot(FDBDatabase*, const uint8_t* uid, int uid_length,
                                                      const uint8_t*, int) {
    bool hex = uid_length == 32;
    for (int i = 0; hex && i < uid_length; i++) hex = isxdigit(uid[i]) != 0;
    return failed(FutureKind::kVoid, hex ? 2505 : 2509);
}

/* ---------------------------------------------------------------- tenants (unsupported) */

FOUND_EXPORT fdb_error_t fdb_tenant_create_transaction(FDBTenant* t, FDBTransaction** out) {
    Transaction* tx = new Transaction(static_cast<Tenant*>(t)->database);
    tx->disable_for_tenant();
    *out = tx;
    return 0;
}
FOUND_EXPORT FDBFuture* fdb_tenant_get_id(FDBTenant*) { return failed(FutureKind::kInt64, kTenantsDisabled); }
FOUND_EXPORT void fdb_tenant_destroy(FDBTenant* t) { delete static_cast<Tenant*>(t); }

/* ---------------------------------------------------------------- transactions */

FOUND_EXPORT void fdb_transaction_destroy(FDBTransaction* t) { if (t) Transaction::from(t)->destroy(); }
FOUND_EXPORT void fdb_transaction_cancel(FDBTransaction* t) { Transaction::from(t)->cancel(); }
FOUND_EXPORT void fdb_transaction_reset(FDBTransaction* t) { Transaction::from(t)->reset(); }

FOUND_EXPORT fdb_error_t fdb_transaction_set_option(FDBTransaction* t, int option, const uint8_t* value, int length) {
    return Transaction::from(t)->set_option(option, value, length);
}
FOUND_EXPORT void fdb_transaction_set_read_version(FDBTransaction* t, int64_t version) {
    Transaction::from(t)->set_read_version(version);
}
FOUND_EXPORT FDBFuture* fdb_transaction_get_read_version(FDBTransaction* t) {
    return Transaction::from(t)->get_read_version();
}
FOUND_EXPORT FDBFuture* fdb_transaction_get(FDBTransaction* t, const uint8_t* key, int key_length, fdb_bool_t snapshot) {
    return Transaction::from(t)->get(bytes(key, key_length), snapshot != 0);
}
FOUND_EXPORT FDBFuture* fdb_transaction_get_key(FDBTransaction* t, const uint8_t* key, int key_length,
                                                fdb_bool_t or_equal, int offset, fdb_bool_t snapshot) {
    return Transaction::from(t)->get_key(bytes(key, key_length), or_equal != 0, offset, snapshot != 0);
}
FOUND_EXPORT FDBFuture* fdb_transaction_get_range(FDBTransaction* t, const uint8_t* begin_key, int begin_key_length,
                                                  fdb_bool_t begin_or_equal, int begin_offset, const uint8_t* end_key,
                                                  int end_key_length, fdb_bool_t end_or_equal, int end_offset,
                                                  int limit, int target_bytes, int mode, int iteration,
                                                  fdb_bool_t snapshot, fdb_bool_t reverse) {
    int api = g_api_version.load(std::memory_order_relaxed);
    if (api <= 13 && limit < 0) {
        limit = -limit;
        reverse = 1;
    }
    return Transaction::from(t)->get_range(bytes(begin_key, begin_key_length), begin_or_equal != 0, begin_offset,
                                           bytes(end_key, end_key_length), end_or_equal != 0, end_offset, limit,
                                           target_bytes, mode, iteration, snapshot != 0, reverse != 0);
}
FOUND_EXPORT FDBFuture* fdb_transaction_get_mapped_range(FDBTransaction*, const uint8_t*, int, fdb_bool_t, int,
                                                         const uint8_t*, int, fdb_bool_t, int, const uint8_t*, int,
                                                         int, int, int, int, fdb_bool_t, fdb_bool_t) {
    return failed(FutureKind::kMappedKeyValueArray, kUnsupportedOperation);
}
FOUND_EXPORT void fdb_transaction_set(FDBTransaction* t, const uint8_t* key, int key_length, const uint8_t* value,
                                      int value_length) {
    Transaction::from(t)->set(bytes(key, key_length), bytes(value, value_length));
}
FOUND_EXPORT void fdb_transaction_clear(FDBTransaction* t, const uint8_t* key, int key_length) {
    Transaction::from(t)->clear(bytes(key, key_length));
}
FOUND_EXPORT void fdb_transaction_clear_range(FDBTransaction* t, const uint8_t* begin, int begin_length,
                                              const uint8_t* end, int end_length) {
    Transaction::from(t)->clear_range(bytes(begin, begin_length), bytes(end, end_length));
}
FOUND_EXPORT void fdb_transaction_atomic_op(FDBTransaction* t, const uint8_t* key, int key_length,
                                            const uint8_t* param, int param_length, int op) {
    Transaction::from(t)->atomic_op(bytes(key, key_length), bytes(param, param_length), op);
}
FOUND_EXPORT fdb_error_t fdb_transaction_add_conflict_range(FDBTransaction* t, const uint8_t* begin, int begin_length,
                                                            const uint8_t* end, int end_length, int type) {
    return Transaction::from(t)->add_conflict_range(bytes(begin, begin_length), bytes(end, end_length), type);
}
FOUND_EXPORT FDBFuture* fdb_transaction_watch(FDBTransaction* t, const uint8_t* key, int key_length) {
    return Transaction::from(t)->watch(bytes(key, key_length));
}
FOUND_EXPORT FDBFuture* fdb_transaction_commit(FDBTransaction* t) { return Transaction::from(t)->commit(); }
FOUND_EXPORT FDBFuture* fdb_transaction_on_error(FDBTransaction* t, fdb_error_t error) {
    return Transaction::from(t)->on_error(error);
}
FOUND_EXPORT fdb_error_t fdb_transaction_get_committed_version(FDBTransaction* t, int64_t* out) {
    return Transaction::from(t)->get_committed_version(out);
}
FOUND_EXPORT FDBFuture* fdb_transaction_get_versionstamp(FDBTransaction* t) {
    return Transaction::from(t)->get_versionstamp();
}
FOUND_EXPORT FDBFuture* fdb_transaction_get_approximate_size(FDBTransaction* t) {
    return Transaction::from(t)->get_approximate_size();
}
FOUND_EXPORT FDBFuture* fdb_transaction_get_estimated_range_size_bytes(FDBTransaction* t, const uint8_t* begin,
                                                                       int begin_length, const uint8_t* end,
                                                                       int end_length) {
    return Transaction::from(t)->get_estimated_range_size_bytes(bytes(begin, begin_length), bytes(end, end_length));
}
FOUND_EXPORT FDBFuture* fdb_transaction_get_range_split_points(FDBTransaction* t, const uint8_t* begin,
                                                               int begin_length, const uint8_t* end, int end_length,
                                                               int64_t chunk_size) {
    return Transaction::from(t)->get_range_split_points(bytes(begin, begin_length), bytes(end, end_length),
                                                        chunk_size, -1);
}
FOUND_EXPORT FDBFuture* fdb_transaction_get_range_split_points_with_limit(FDBTransaction* t, const uint8_t* begin,
                                                                          int begin_length, const uint8_t* end,
                                                                          int end_length, int64_t chunk_size,
                                                                          int limit) {
    return Transaction::from(t)->get_range_split_points(bytes(begin, begin_length), bytes(end, end_length),
                                                        chunk_size, limit);
}
FOUND_EXPORT FDBFuture* fdb_transaction_get_addresses_for_key(FDBTransaction*, const uint8_t*, int) {
    Future* f = new Future(FutureKind::kStringArray);
    f->strings.push_back("127.0.0.1:4500");
    f->mark_ready();
    return f;
}
FOUND_EXPORT FDBFuture* fdb_transaction_get_total_cost(FDBTransaction* t) { return Transaction::from(t)->get_total_cost(); }
FOUND_EXPORT FDBFuture* fdb_transaction_get_tag_throttled_duration(FDBTransaction*) {
    Future* f = new Future(FutureKind::kDouble);
    f->double_value = 0.0;
    f->mark_ready();
    return f;
}

/* ---------------------------------------------------------------- blob granules (cluster only) */

#define FOUND_UNSUPPORTED_FUTURE(name, ...) \
    FOUND_EXPORT FDBFuture* name(__VA_ARGS__) { return failed(FutureKind::kVoid, kUnsupportedOperation); }

FOUND_UNSUPPORTED_FUTURE(fdb_database_blobbify_range, FDBDatabase*, const uint8_t*, int, const uint8_t*, int)
FOUND_UNSUPPORTED_FUTURE(fdb_database_blobbify_range_blocking, FDBDatabase*, const uint8_t*, int, const uint8_t*, int)
FOUND_UNSUPPORTED_FUTURE(fdb_database_unblobbify_range, FDBDatabase*, const uint8_t*, int, const uint8_t*, int)
FOUND_UNSUPPORTED_FUTURE(fdb_database_list_blobbified_ranges, FDBDatabase*, const uint8_t*, int, const uint8_t*, int, int)
FOUND_UNSUPPORTED_FUTURE(fdb_database_verify_blob_range, FDBDatabase*, const uint8_t*, int, const uint8_t*, int, int64_t)
FOUND_UNSUPPORTED_FUTURE(fdb_database_flush_blob_range, FDBDatabase*, const uint8_t*, int, const uint8_t*, int, fdb_bool_t, int64_t)
FOUND_UNSUPPORTED_FUTURE(fdb_database_purge_blob_granules, FDBDatabase*, const uint8_t*, int, const uint8_t*, int, int64_t, fdb_bool_t)
FOUND_UNSUPPORTED_FUTURE(fdb_database_wait_purge_granules_complete, FDBDatabase*, const uint8_t*, int)
FOUND_UNSUPPORTED_FUTURE(fdb_tenant_blobbify_range, FDBTenant*, const uint8_t*, int, const uint8_t*, int)
FOUND_UNSUPPORTED_FUTURE(fdb_tenant_blobbify_range_blocking, FDBTenant*, const uint8_t*, int, const uint8_t*, int)
FOUND_UNSUPPORTED_FUTURE(fdb_tenant_unblobbify_range, FDBTenant*, const uint8_t*, int, const uint8_t*, int)
FOUND_UNSUPPORTED_FUTURE(fdb_tenant_list_blobbified_ranges, FDBTenant*, const uint8_t*, int, const uint8_t*, int, int)
FOUND_UNSUPPORTED_FUTURE(fdb_tenant_verify_blob_range, FDBTenant*, const uint8_t*, int, const uint8_t*, int, int64_t)
FOUND_UNSUPPORTED_FUTURE(fdb_tenant_flush_blob_range, FDBTenant*, const uint8_t*, int, const uint8_t*, int, fdb_bool_t, int64_t)
FOUND_UNSUPPORTED_FUTURE(fdb_tenant_purge_blob_granules, FDBTenant*, const uint8_t*, int, const uint8_t*, int, int64_t, fdb_bool_t)
FOUND_UNSUPPORTED_FUTURE(fdb_tenant_wait_purge_granules_complete, FDBTenant*, const uint8_t*, int)
FOUND_UNSUPPORTED_FUTURE(fdb_transaction_get_blob_granule_ranges, FDBTransaction*, const uint8_t*, int, const uint8_t*, int, int)
FOUND_UNSUPPORTED_FUTURE(fdb_transaction_summarize_blob_granules, FDBTransaction*, const uint8_t*, int, const uint8_t*, int, int64_t, int)
FOUND_UNSUPPORTED_FUTURE(fdb_transaction_read_blob_granules_description, FDBTransaction*, const uint8_t*, int, const uint8_t*, int, int64_t, int64_t, int64_t*)

FOUND_EXPORT FDBResult* fdb_transaction_read_blob_granules(FDBTransaction*, const uint8_t*, int, const uint8_t*, int,
                                                           int64_t, int64_t, void*) {
    return new FDBResult();
}
FOUND_EXPORT fdb_error_t fdb_future_get_granule_summary_array(FDBFuture*, const void**, int* count) {
    if (count) *count = 0;
    return kUnsupportedOperation;
}
FOUND_EXPORT fdb_error_t fdb_future_readbg_get_descriptions(FDBFuture*, void**, int* count) {
    if (count) *count = 0;
    return kUnsupportedOperation;
}
FOUND_EXPORT FDBResult* fdb_readbg_parse_snapshot_file(const uint8_t*, int, void*, void*) { return new FDBResult(); }
FOUND_EXPORT FDBResult* fdb_readbg_parse_delta_file(const uint8_t*, int, void*, void*) { return new FDBResult(); }
FOUND_EXPORT void fdb_result_destroy(FDBResult* r) { delete r; }
FOUND_EXPORT fdb_error_t fdb_result_get_keyvalue_array(FDBResult*, const FDBKeyValue** kvs, int* count, fdb_bool_t* more) {
    if (kvs) *kvs = nullptr;
    if (count) *count = 0;
    if (more) *more = 0;
    return kUnsupportedOperation;
}
FOUND_EXPORT fdb_error_t fdb_result_get_bg_mutations_array(FDBResult*, const void** mutations, int* count) {
    if (mutations) *mutations = nullptr;
    if (count) *count = 0;
    return kUnsupportedOperation;
}
FOUND_EXPORT void fdb_use_future_protocol_version(void) {}

/* ---------------------------------------------------------------- legacy (API < 610 headers) */

FOUND_EXPORT FDBFuture* fdb_create_cluster(const char*) { return failed(FutureKind::kVoid, kApiFunctionMissing); }
FOUND_EXPORT FDBFuture* fdb_cluster_create_database(FDBCluster*, const uint8_t*, int) {
    return failed(FutureKind::kVoid, kApiFunctionMissing);
}
FOUND_EXPORT fdb_error_t fdb_cluster_set_option(FDBCluster*, int, const uint8_t*, int) { return kApiFunctionMissing; }
FOUND_EXPORT void fdb_cluster_destroy(FDBCluster* c) { delete static_cast<Cluster*>(c); }
FOUND_EXPORT fdb_error_t fdb_future_get_cluster(FDBFuture*, FDBCluster**) { return kApiFunctionMissing; }
FOUND_EXPORT fdb_error_t fdb_future_get_database(FDBFuture*, FDBDatabase**) { return kApiFunctionMissing; }
FOUND_EXPORT fdb_error_t fdb_future_get_version(FDBFuture* f, int64_t* out) {
    if (g_header_version.load() >= 620) return kApiFunctionMissing;
    return Future::from(f)->get_int64(out);
}
FOUND_EXPORT fdb_bool_t fdb_future_is_error(FDBFuture* f) {
    Future* future = Future::from(f);
    return future->is_ready() && future->get_error() != 0;
}
FOUND_EXPORT FDBFuture* fdb_transaction_get_range_selector(FDBTransaction*, const uint8_t*, int, fdb_bool_t, int,
                                                           const uint8_t*, int, fdb_bool_t, int, int, int, int, int,
                                                           fdb_bool_t, fdb_bool_t) {
    return failed(FutureKind::kKeyValueArray, kApiFunctionMissing);
}

}  // extern "C"

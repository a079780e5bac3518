/* engine_test.cc — the embedded engine's native test suite.
 *
 * A standalone program that drives the engine only through the exported libfdb_c ABI,
 * declared here by hand the way a binding declares it (fdb-c-api.md §1.2), at API
 * version 730. Each case is a small story against its own store — `found:memory`, or a
 * mkdtemp directory when the story is about files — and prints `ok <name>` or
 * `FAIL <name>: <why>`; the last line is `N passed, M failed`.
 *
 * The design choice: a case fails by throwing, so one broken case never stops the rest,
 * and a watchdog turns a hang into a FAIL line instead of a stuck run. Whatever must be
 * another process (the directory lock, a crash in the middle of commits, calls made
 * before API selection) is this same binary re-executed in a `--child-…` mode.
 *
 * Usage: engine_test [substring …]   runs the cases whose names contain a substring
 *        engine_test --list           prints the case names
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>
#include <random>

#include "found/engine/fdb_c_abi.h"
#include "found/engine/conflicts.h"
#include "found/engine/entry_tree.h"
#include "found/engine/key_index.h"
#include "found/engine/store.h"
#include "found/engine/wal.h"

extern char** environ;

using namespace std::string_literals;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

/* ====================================================================================
 * The C ABI under test (signatures as in fdb-c-api.md §1.2)
 * ================================================================================== */

extern "C" {
fdb_error_t fdb_select_api_version_impl(int runtime_version, int header_version);
int fdb_get_max_api_version(void);
const char* fdb_get_error(fdb_error_t code);
fdb_bool_t fdb_error_predicate(int predicate_test, fdb_error_t code);
fdb_error_t fdb_network_set_option(int option, const uint8_t* value, int value_length);
fdb_error_t fdb_setup_network(void);
fdb_error_t fdb_run_network(void);
fdb_error_t fdb_stop_network(void);
fdb_error_t fdb_add_network_thread_completion_hook(void (*hook)(void*), void* hook_parameter);

void fdb_future_cancel(FDBFuture* future);
void fdb_future_release_memory(FDBFuture* future);
void fdb_future_destroy(FDBFuture* future);
fdb_error_t fdb_future_block_until_ready(FDBFuture* future);
fdb_bool_t fdb_future_is_ready(FDBFuture* future);
fdb_error_t fdb_future_set_callback(FDBFuture* future, FDBCallback callback, void* callback_parameter);
fdb_error_t fdb_future_get_error(FDBFuture* future);
fdb_error_t fdb_future_get_int64(FDBFuture* future, int64_t* out);
fdb_error_t fdb_future_get_key(FDBFuture* future, const uint8_t** out_key, int* out_key_length);
fdb_error_t fdb_future_get_value(FDBFuture* future, fdb_bool_t* out_present, const uint8_t** out_value,
                                 int* out_value_length);
fdb_error_t fdb_future_get_keyvalue_array(FDBFuture* future, const FDBKeyValue** out_kv, int* out_count,
                                          fdb_bool_t* out_more);

fdb_error_t fdb_create_database(const char* cluster_file_path, FDBDatabase** out_database);
void fdb_database_destroy(FDBDatabase* database);
fdb_error_t fdb_database_set_option(FDBDatabase* database, int option, const uint8_t* value, int value_length);
fdb_error_t fdb_database_create_transaction(FDBDatabase* database, FDBTransaction** out_transaction);

void fdb_transaction_destroy(FDBTransaction* transaction);
void fdb_transaction_cancel(FDBTransaction* transaction);
void fdb_transaction_reset(FDBTransaction* transaction);
fdb_error_t fdb_transaction_set_option(FDBTransaction* transaction, int option, const uint8_t* value,
                                       int value_length);
void fdb_transaction_set_read_version(FDBTransaction* transaction, int64_t version);
FDBFuture* fdb_transaction_get_read_version(FDBTransaction* transaction);
FDBFuture* fdb_transaction_get(FDBTransaction* transaction, const uint8_t* key_name, int key_name_length,
                               fdb_bool_t snapshot);
FDBFuture* fdb_transaction_get_key(FDBTransaction* transaction, const uint8_t* key_name, int key_name_length,
                                   fdb_bool_t or_equal, int offset, fdb_bool_t snapshot);
FDBFuture* fdb_transaction_get_range(FDBTransaction* transaction, const uint8_t* begin_key_name,
                                     int begin_key_name_length, fdb_bool_t begin_or_equal, int begin_offset,
                                     const uint8_t* end_key_name, int end_key_name_length,
                                     fdb_bool_t end_or_equal, int end_offset, int limit, int target_bytes,
                                     int mode, int iteration, fdb_bool_t snapshot, fdb_bool_t reverse);
void fdb_transaction_set(FDBTransaction* transaction, const uint8_t* key_name, int key_name_length,
                         const uint8_t* value, int value_length);
void fdb_transaction_clear(FDBTransaction* transaction, const uint8_t* key_name, int key_name_length);
void fdb_transaction_clear_range(FDBTransaction* transaction, const uint8_t* begin_key_name,
                                 int begin_key_name_length, const uint8_t* end_key_name, int end_key_name_length);
void fdb_transaction_atomic_op(FDBTransaction* transaction, const uint8_t* key_name, int key_name_length,
                               const uint8_t* param, int param_length, int operation_type);
fdb_error_t fdb_transaction_add_conflict_range(FDBTransaction* transaction, const uint8_t* begin_key_name,
                                               int begin_key_name_length, const uint8_t* end_key_name,
                                               int end_key_name_length, int type);
FDBFuture* fdb_transaction_watch(FDBTransaction* transaction, const uint8_t* key_name, int key_name_length);
FDBFuture* fdb_transaction_commit(FDBTransaction* transaction);
FDBFuture* fdb_transaction_on_error(FDBTransaction* transaction, fdb_error_t error);
fdb_error_t fdb_transaction_get_committed_version(FDBTransaction* transaction, int64_t* out_version);
FDBFuture* fdb_transaction_get_versionstamp(FDBTransaction* transaction);
FDBFuture* fdb_transaction_get_approximate_size(FDBTransaction* transaction);
}

/* ====================================================================================
 * Codes from the spec (§6, §7)
 * ================================================================================== */

namespace code {
constexpr int kTransactionTooOld = 1007;
constexpr int kFutureVersion = 1009;
constexpr int kNotCommitted = 1020;
constexpr int kTransactionCancelled = 1025;
constexpr int kTransactionTimedOut = 1031;
constexpr int kTooManyWatches = 1032;
constexpr int kWatchesDisabled = 1034;
constexpr int kAccessedUnreadable = 1036;
constexpr int kDatabaseLocked = 1038;
constexpr int kOperationCancelled = 1101;
constexpr int kFutureReleased = 1102;
constexpr int kFileCorrupt = 1522;
constexpr int kClientInvalidOperation = 2000;
constexpr int kKeyOutsideLegalRange = 2004;
constexpr int kInvertedRange = 2005;
constexpr int kInvalidOptionValue = 2006;
constexpr int kInvalidOption = 2007;
constexpr int kNetworkNotSetup = 2008;
constexpr int kNetworkAlreadySetup = 2009;
constexpr int kReadVersionAlreadySet = 2010;
constexpr int kVersionInvalid = 2011;
constexpr int kRangeLimitsInvalid = 2012;
constexpr int kFutureNotSet = 2015;
constexpr int kUsedDuringCommit = 2017;
constexpr int kInvalidMutationType = 2018;
constexpr int kTransactionInvalidVersion = 2020;
constexpr int kNoCommitVersion = 2021;
constexpr int kNetworkCannotBeRestarted = 2025;
constexpr int kBlockedFromNetworkThread = 2026;
constexpr int kTransactionTooLarge = 2101;
constexpr int kKeyTooLarge = 2102;
constexpr int kValueTooLarge = 2103;
constexpr int kApiVersionUnset = 2200;
constexpr int kApiVersionAlreadySet = 2201;
constexpr int kApiVersionInvalid = 2202;
constexpr int kApiVersionNotSupported = 2203;
constexpr int kExactModeWithoutLimits = 2210;
}  // namespace code

namespace option {
/* transaction */
constexpr int kReadYourWritesDisable = 51;
constexpr int kAccessSystemKeys = 301;
constexpr int kReadSystemKeys = 302;
constexpr int kTimeout = 500;
constexpr int kRetryLimit = 501;
constexpr int kSizeLimit = 503;
constexpr int kSnapshotRywDisable = 601;
/* database */
constexpr int kMaxWatches = 20;
constexpr int kTransactionTimeout = 500;
constexpr int kTransactionSizeLimit = 503;
}  // namespace option

namespace mutation {
constexpr int kAdd = 2, kBitAnd = 6, kBitOr = 7, kBitXor = 8, kAppendIfFits = 9, kMax = 12, kMin = 13;
constexpr int kSetVersionstampedKey = 14, kSetVersionstampedValue = 15, kByteMin = 16, kByteMax = 17;
constexpr int kMinV2 = 18, kAndV2 = 19, kCompareAndClear = 20;
}  // namespace mutation

namespace streaming {
constexpr int kWantAll = -2, kIterator = -1, kExact = 0, kSmall = 1, kMedium = 2, kLarge = 3, kSerial = 4;
}

constexpr int kConflictRead = 0, kConflictWrite = 1;
constexpr int kPredicateRetryable = 50000, kPredicateMaybeCommitted = 50001,
              kPredicateRetryableNotCommitted = 50002;

/* ====================================================================================
 * Failing a case
 * ================================================================================== */

/* Thrown by a case that failed; `why` becomes the FAIL line. */
struct CaseFailure {
    std::string why;
};

/* An FDB error met inside a transaction body; retry loops hand it to on_error. */
struct FdbError {
    int code;
    std::string during;
};

[[noreturn]] void fail(const std::string& why) { throw CaseFailure{why}; }

void expect(bool condition, const std::string& what) {
    if (!condition) fail(what);
}

std::string describe_error(int error) { return std::to_string(error) + " (" + fdb_get_error(error) + ")"; }

void expect_error(int observed, int expected, const std::string& what) {
    if (observed != expected)
        fail(what + ": expected " + describe_error(expected) + ", got " + describe_error(observed));
}

void expect_ok(int observed, const std::string& what) { expect_error(observed, 0, what); }

/* Bytes as a readable literal: printable ASCII kept, everything else as \xNN. */
std::string printable(const std::string& bytes) {
    std::string out = "\"";
    for (unsigned char c : bytes) {
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            out.push_back((char)c);
        } else {
            char escaped[8];
            snprintf(escaped, sizeof(escaped), "\\x%02x", c);
            out += escaped;
        }
    }
    if (out.size() > 120) out = out.substr(0, 100) + "…(" + std::to_string(bytes.size()) + " bytes)";
    return out + "\"";
}

std::string printable(const std::optional<std::string>& bytes) {
    return bytes ? printable(*bytes) : std::string("absent");
}

void expect_value(const std::optional<std::string>& observed, const std::optional<std::string>& expected,
                  const std::string& what) {
    if (observed != expected) fail(what + ": expected " + printable(expected) + ", got " + printable(observed));
}

std::string little_endian32(uint32_t v) {
    std::string out(4, '\0');
    for (int i = 0; i < 4; i++) out[i] = (char)(v >> (8 * i));
    return out;
}

const uint8_t* data_of(const std::string& bytes) { return reinterpret_cast<const uint8_t*>(bytes.data()); }

/* ====================================================================================
 * RAII handles over the C ABI
 * ================================================================================== */

/* Owns one FDBFuture; destroys it exactly once. */
class Future {
public:
    explicit Future(FDBFuture* future = nullptr) : future_(future) {
        if (!future) fail("a future-returning call returned NULL (the spec forbids it)");
    }
    Future(Future&& other) noexcept : future_(std::exchange(other.future_, nullptr)) {}
    Future& operator=(Future&& other) noexcept {
        if (this != &other) {
            reset();
            future_ = std::exchange(other.future_, nullptr);
        }
        return *this;
    }
    Future(const Future&) = delete;
    Future& operator=(const Future&) = delete;
    ~Future() { reset(); }

    void reset() {
        if (future_) fdb_future_destroy(future_);
        future_ = nullptr;
    }
    FDBFuture* get() const { return future_; }
    /* Hands ownership to the caller (who must destroy it). */
    FDBFuture* release() { return std::exchange(future_, nullptr); }
    bool ready() const { return fdb_future_is_ready(future_) != 0; }

    /* Blocks until ready and returns the future's error (0 when it holds a value). */
    int wait() const {
        const int rc = fdb_future_block_until_ready(future_);
        if (rc) fail("fdb_future_block_until_ready returned " + describe_error(rc));
        return fdb_future_get_error(future_);
    }

    /* Polls until ready or `limit` passes; false when still pending. */
    bool ready_within(milliseconds limit) const {
        const auto deadline = Clock::now() + limit;
        while (!ready()) {
            if (Clock::now() >= deadline) return false;
            std::this_thread::sleep_for(milliseconds(1));
        }
        return true;
    }

private:
    FDBFuture* future_;
};

/* The value a value-future holds (nullopt when absent); throws FdbError on error. */
std::optional<std::string> value_of(const Future& future, const std::string& during) {
    if (int error = future.wait()) throw FdbError{error, during};
    fdb_bool_t present = 0;
    const uint8_t* value = nullptr;
    int length = 0;
    if (int error = fdb_future_get_value(future.get(), &present, &value, &length)) throw FdbError{error, during};
    if (!present) return std::nullopt;
    return std::string(reinterpret_cast<const char*>(value), (size_t)length);
}

/* The key a key-future holds; throws FdbError on error. */
std::string key_of(const Future& future, const std::string& during) {
    if (int error = future.wait()) throw FdbError{error, during};
    const uint8_t* key = nullptr;
    int length = 0;
    if (int error = fdb_future_get_key(future.get(), &key, &length)) throw FdbError{error, during};
    return std::string(reinterpret_cast<const char*>(key), (size_t)length);
}

int64_t int64_of(const Future& future, const std::string& during) {
    if (int error = future.wait()) throw FdbError{error, during};
    int64_t value = 0;
    if (int error = fdb_future_get_int64(future.get(), &value)) throw FdbError{error, during};
    return value;
}

using Rows = std::vector<std::pair<std::string, std::string>>;

struct RangeResult {
    Rows rows;
    bool more = false;
};

RangeResult rows_of(const Future& future, const std::string& during) {
    if (int error = future.wait()) throw FdbError{error, during};
    const FDBKeyValue* kvs = nullptr;
    int count = 0;
    fdb_bool_t more = 0;
    if (int error = fdb_future_get_keyvalue_array(future.get(), &kvs, &count, &more)) throw FdbError{error, during};
    RangeResult result;
    result.more = more != 0;
    for (int i = 0; i < count; i++)
        result.rows.emplace_back(std::string(reinterpret_cast<const char*>(kvs[i].key), (size_t)kvs[i].key_length),
                                 std::string(reinterpret_cast<const char*>(kvs[i].value), (size_t)kvs[i].value_length));
    return result;
}

std::string printable(const Rows& rows) {
    std::string out = "[";
    for (size_t i = 0; i < rows.size() && i < 8; i++) out += (i ? ", " : "") + printable(rows[i].first);
    if (rows.size() > 8) out += ", … " + std::to_string(rows.size()) + " rows";
    return out + "]";
}

/* Key selectors (§4.4). */
struct Selector {
    std::string key;
    bool or_equal;
    int offset;
};
Selector last_less_than(const std::string& key) { return {key, false, 0}; }
Selector last_less_or_equal(const std::string& key) { return {key, true, 0}; }
Selector first_greater_than(const std::string& key) { return {key, true, 1}; }
Selector first_greater_or_equal(const std::string& key) { return {key, false, 1}; }

struct RangeRequest {
    Selector begin;
    Selector end;
    int limit = 0;
    int target_bytes = 0;
    int mode = streaming::kWantAll;
    int iteration = 1;
    bool snapshot = false;
    bool reverse = false;
};

/* Owns one FDBTransaction. Methods named after the C calls return futures; `read…`
 * conveniences wait and throw FdbError, for bodies run inside retry loops. */
class Transaction {
public:
    explicit Transaction(FDBDatabase* database) {
        if (int rc = fdb_database_create_transaction(database, &transaction_))
            fail("fdb_database_create_transaction → " + describe_error(rc));
    }
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    ~Transaction() { fdb_transaction_destroy(transaction_); }
    FDBTransaction* get() const { return transaction_; }

    Future get(const std::string& key, bool snapshot = false) {
        return Future(fdb_transaction_get(transaction_, data_of(key), (int)key.size(), snapshot));
    }
    Future get_key(const Selector& selector, bool snapshot = false) {
        return Future(fdb_transaction_get_key(transaction_, data_of(selector.key), (int)selector.key.size(),
                                              selector.or_equal, selector.offset, snapshot));
    }
    Future get_range(const RangeRequest& r) {
        return Future(fdb_transaction_get_range(
            transaction_, data_of(r.begin.key), (int)r.begin.key.size(), r.begin.or_equal, r.begin.offset,
            data_of(r.end.key), (int)r.end.key.size(), r.end.or_equal, r.end.offset, r.limit, r.target_bytes,
            r.mode, r.iteration, r.snapshot, r.reverse));
    }
    Future get_read_version() { return Future(fdb_transaction_get_read_version(transaction_)); }
    Future get_versionstamp() { return Future(fdb_transaction_get_versionstamp(transaction_)); }
    Future get_approximate_size() { return Future(fdb_transaction_get_approximate_size(transaction_)); }
    Future watch(const std::string& key) {
        return Future(fdb_transaction_watch(transaction_, data_of(key), (int)key.size()));
    }
    Future commit() { return Future(fdb_transaction_commit(transaction_)); }
    Future on_error(int error) { return Future(fdb_transaction_on_error(transaction_, error)); }

    void set(const std::string& key, const std::string& value) {
        fdb_transaction_set(transaction_, data_of(key), (int)key.size(), data_of(value), (int)value.size());
    }
    void clear(const std::string& key) { fdb_transaction_clear(transaction_, data_of(key), (int)key.size()); }
    void clear_range(const std::string& begin, const std::string& end) {
        fdb_transaction_clear_range(transaction_, data_of(begin), (int)begin.size(), data_of(end), (int)end.size());
    }
    void atomic_op(const std::string& key, const std::string& param, int operation) {
        fdb_transaction_atomic_op(transaction_, data_of(key), (int)key.size(), data_of(param), (int)param.size(),
                                  operation);
    }
    int add_conflict_range(const std::string& begin, const std::string& end, int type) {
        return fdb_transaction_add_conflict_range(transaction_, data_of(begin), (int)begin.size(), data_of(end),
                                                  (int)end.size(), type);
    }
    int set_option(int code) { return fdb_transaction_set_option(transaction_, code, nullptr, 0); }
    int set_option(int code, int64_t value) {
        uint8_t bytes[8];
        memcpy(bytes, &value, 8); /* little-endian host, as the spec's int options are */
        return fdb_transaction_set_option(transaction_, code, bytes, 8);
    }
    void set_read_version(int64_t version) { fdb_transaction_set_read_version(transaction_, version); }
    void reset() { fdb_transaction_reset(transaction_); }
    void cancel() { fdb_transaction_cancel(transaction_); }
    int64_t committed_version() {
        int64_t version = 0;
        if (int rc = fdb_transaction_get_committed_version(transaction_, &version))
            fail("get_committed_version → " + describe_error(rc));
        return version;
    }

    std::optional<std::string> read(const std::string& key, bool snapshot = false) {
        return value_of(get(key, snapshot), "get(" + printable(key) + ")");
    }
    std::string resolve(const Selector& selector, bool snapshot = false) {
        return key_of(get_key(selector, snapshot), "get_key(" + printable(selector.key) + ")");
    }
    RangeResult read_range(const RangeRequest& request) { return rows_of(get_range(request), "get_range"); }
    int commit_and_wait() { return commit().wait(); }

private:
    FDBTransaction* transaction_ = nullptr;
};

/* Owns one FDBDatabase. */
class Database {
public:
    /* Opens `where` or fails the case. */
    static Database open(const std::string& where) {
        FDBDatabase* database = nullptr;
        if (int rc = fdb_create_database(where.c_str(), &database))
            fail("fdb_create_database(" + where + ") → " + describe_error(rc));
        return Database(database);
    }
    /* Opens `where`; returns the error instead of failing. */
    static int try_open(const std::string& where, std::optional<Database>* out) {
        FDBDatabase* database = nullptr;
        int rc = fdb_create_database(where.c_str(), &database);
        if (rc == 0) out->emplace(Database(database));
        return rc;
    }
    Database(Database&& other) noexcept : database_(std::exchange(other.database_, nullptr)) {}
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;
    ~Database() { close(); }

    void close() {
        if (database_) fdb_database_destroy(database_);
        database_ = nullptr;
    }
    FDBDatabase* get() const { return database_; }
    int set_option(int code, int64_t value) {
        uint8_t bytes[8];
        memcpy(bytes, &value, 8);
        return fdb_database_set_option(database_, code, bytes, 8);
    }

private:
    explicit Database(FDBDatabase* database) : database_(database) {}
    FDBDatabase* database_;
};

/* Runs `body` then commits, retrying through on_error as a binding does; fails the case
 * when on_error gives up. */
void run_transaction(FDBDatabase* database, const std::function<void(Transaction&)>& body) {
    Transaction tr(database);
    for (int attempt = 0; attempt < 1000; attempt++) {
        int error;
        try {
            body(tr);
            error = tr.commit_and_wait();
        } catch (const FdbError& e) {
            error = e.code;
        }
        if (error == 0) return;
        const int retry = tr.on_error(error).wait();
        if (retry) fail("on_error(" + describe_error(error) + ") gave up with " + describe_error(retry));
    }
    fail("a transaction was still retrying after 1000 attempts");
}

void write_pairs(FDBDatabase* database, const std::map<std::string, std::string>& pairs) {
    run_transaction(database, [&](Transaction& tr) {
        for (const auto& [key, value] : pairs) tr.set(key, value);
    });
}

/* The committed value of `key`, read by a fresh transaction. */
std::optional<std::string> read_committed(FDBDatabase* database, const std::string& key,
                                          int extra_option = 0) {
    Transaction tr(database);
    if (extra_option) tr.set_option(extra_option);
    try {
        return tr.read(key);
    } catch (const FdbError& e) {
        fail("reading " + printable(key) + " → " + describe_error(e.code));
    }
}

/* Every committed row in [begin, end), in order. */
Rows read_committed_range(FDBDatabase* database, const std::string& begin, const std::string& end) {
    Transaction tr(database);
    RangeRequest request{first_greater_or_equal(begin), first_greater_or_equal(end)};
    Rows rows;
    for (;;) {
        RangeResult batch;
        try {
            batch = tr.read_range(request);
        } catch (const FdbError& e) {
            fail("reading the range " + printable(begin) + ".." + printable(end) + " → " + describe_error(e.code));
        }
        rows.insert(rows.end(), batch.rows.begin(), batch.rows.end());
        if (!batch.more) return rows;
        if (batch.rows.empty()) fail("get_range returned no rows with more = 1");
        request.begin = first_greater_than(rows.back().first);
        request.iteration++;
    }
}

/* ====================================================================================
 * Files and processes
 * ================================================================================== */

/* A mkdtemp directory, removed with everything in it when the case ends. */
class TemporaryDirectory {
public:
    TemporaryDirectory() {
        const char* base = getenv("TMPDIR");
        std::string pattern = std::string(base && *base ? base : "/tmp") + "/found-engine-test-XXXXXX";
        std::vector<char> buffer(pattern.begin(), pattern.end());
        buffer.push_back('\0');
        if (!mkdtemp(buffer.data())) fail("mkdtemp(" + pattern + "): " + strerror(errno));
        path_ = buffer.data();
    }
    ~TemporaryDirectory() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    const std::string& path() const { return path_; }
    std::string uri() const { return "found:" + path_; }
    std::string log() const { return path_ + "/wal.log"; }

private:
    std::string path_;
};

/* True when no engine holds `dir` open: its lock file (LOCK, see found/engine/engine.cc)
 * can be taken by a new open file description, as another process would. */
bool directory_released(const TemporaryDirectory& dir) {
    int fd = open((dir.path() + "/LOCK").c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return true;
    const bool free = flock(fd, LOCK_EX | LOCK_NB) == 0;
    close(fd); /* drops the lock if it was taken */
    return free;
}

/* Waits until the engine has let go of `dir`, so that the next open reads the files from
 * disk instead of sharing a store still open in this process. */
void wait_until_released(const TemporaryDirectory& dir) {
    const auto deadline = Clock::now() + milliseconds(5000);
    while (!directory_released(dir)) {
        if (Clock::now() >= deadline) fail("the data directory was still locked 5 s after its last handle closed");
        std::this_thread::sleep_for(milliseconds(1));
    }
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("cannot read " + path);
    std::ostringstream contents;
    contents << in.rdbuf();
    return contents.str();
}

void write_file(const std::string& path, const std::string& contents, bool append = false) {
    std::ofstream out(path, std::ios::binary | (append ? std::ios::app : std::ios::trunc));
    out << contents;
    if (!out) fail("cannot write " + path);
}

/* Where each record of a log starts, per the format documented in found/engine/wal.cc:
 * a 16-byte header, then records of (u32 length, u32 CRC-32C, payload). */
std::vector<size_t> record_offsets(const std::string& log) {
    std::vector<size_t> offsets;
    size_t at = 16;
    while (at + 8 <= log.size()) {
        uint32_t length;
        memcpy(&length, log.data() + at, 4);
        if (length > log.size() - at - 8) break;
        offsets.push_back(at);
        at += 8 + (size_t)length;
    }
    return offsets;
}

std::string g_executable;

/* This binary re-executed in a child mode, its stdout on a pipe. */
class ChildProcess {
public:
    explicit ChildProcess(const std::vector<std::string>& arguments) {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) != 0) fail(std::string("pipe2: ") + strerror(errno));
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
        std::vector<std::string> argv_strings{g_executable};
        argv_strings.insert(argv_strings.end(), arguments.begin(), arguments.end());
        std::vector<char*> argv;
        for (std::string& s : argv_strings) argv.push_back(&s[0]);
        argv.push_back(nullptr);
        const int rc = posix_spawn(&pid_, g_executable.c_str(), &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        close(fds[1]);
        output_fd_ = fds[0];
        if (rc != 0) {
            pid_ = -1;
            fail("posix_spawn(" + g_executable + "): " + strerror(rc));
        }
    }
    ~ChildProcess() {
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
        if (output_fd_ >= 0) close(output_fd_);
    }

    /* The next line of the child's output, or nullopt at end of output or after `limit`. */
    std::optional<std::string> read_line(milliseconds limit) {
        const auto deadline = Clock::now() + limit;
        for (;;) {
            size_t newline = buffer_.find('\n');
            if (newline != std::string::npos) {
                std::string line = buffer_.substr(0, newline);
                buffer_.erase(0, newline + 1);
                return line;
            }
            const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
            if (left <= 0) return std::nullopt;
            struct pollfd p = {output_fd_, POLLIN, 0};
            if (poll(&p, 1, (int)left) <= 0) continue;
            char chunk[4096];
            ssize_t n = read(output_fd_, chunk, sizeof(chunk));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return std::nullopt;
            buffer_.append(chunk, (size_t)n);
        }
    }

    void kill_now() {
        if (pid_ > 0) kill(pid_, SIGKILL);
    }

    /* Waits for the child to exit; returns a description unless it exited with 0. */
    std::string wait_for_exit(milliseconds limit) {
        const auto deadline = Clock::now() + limit;
        int status = 0;
        for (;;) {
            pid_t done = waitpid(pid_, &status, WNOHANG);
            if (done == pid_) break;
            if (Clock::now() >= deadline) {
                kill(pid_, SIGKILL);
                waitpid(pid_, &status, 0);
                pid_ = -1;
                return "did not exit within " + std::to_string(limit.count()) + " ms (killed)";
            }
            std::this_thread::sleep_for(milliseconds(5));
        }
        pid_ = -1;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return std::string();
        if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
        return "was killed by signal " + std::to_string(WTERMSIG(status));
    }

private:
    pid_t pid_ = -1;
    int output_fd_ = -1;
    std::string buffer_;
};

/* Runs a child to completion and returns its output lines; fails the case unless it
 * exits cleanly (a sanitizer report in the child makes it exit nonzero). */
std::vector<std::string> run_child(const std::vector<std::string>& arguments) {
    ChildProcess child(arguments);
    std::vector<std::string> lines;
    while (std::optional<std::string> line = child.read_line(milliseconds(20000))) lines.push_back(*line);
    std::string problem = child.wait_for_exit(milliseconds(20000));
    if (!problem.empty()) fail("child " + arguments[0] + " " + problem);
    return lines;
}

/* ====================================================================================
 * Callback probes
 * ================================================================================== */

/* What a future callback saw: how often it ran, on which thread, and what it measured. */
struct CallbackProbe {
    std::atomic<int> runs{0};
    std::mutex mutex;
    std::thread::id thread;
    int error = -1;
    FDBFuture* block_target = nullptr; /* for block_in_callback */
    int block_result = -1;

    bool ran_within(milliseconds limit) {
        const auto deadline = Clock::now() + limit;
        while (runs.load() == 0) {
            if (Clock::now() >= deadline) return false;
            std::this_thread::sleep_for(milliseconds(1));
        }
        return true;
    }
    std::thread::id ran_on() {
        std::lock_guard<std::mutex> lock(mutex);
        return thread;
    }
};

void record_callback(FDBFuture* future, void* parameter) {
    auto* probe = static_cast<CallbackProbe*>(parameter);
    {
        std::lock_guard<std::mutex> lock(probe->mutex);
        probe->thread = std::this_thread::get_id();
        probe->error = fdb_future_get_error(future);
    }
    probe->runs++;
}

/* Destroys its own future from inside the callback (allowed by §3.2). */
void destroy_in_callback(FDBFuture* future, void* parameter) {
    auto* probe = static_cast<CallbackProbe*>(parameter);
    {
        std::lock_guard<std::mutex> lock(probe->mutex);
        probe->thread = std::this_thread::get_id();
        probe->error = fdb_future_get_error(future);
    }
    fdb_future_destroy(future);
    probe->runs++;
}

/* Blocks on another, pending future from the network thread: must return 2026 at once. */
void block_in_callback(FDBFuture*, void* parameter) {
    auto* probe = static_cast<CallbackProbe*>(parameter);
    const int rc = fdb_future_block_until_ready(probe->block_target);
    {
        std::lock_guard<std::mutex> lock(probe->mutex);
        probe->thread = std::this_thread::get_id();
        probe->block_result = rc;
    }
    probe->runs++;
}

/* ====================================================================================
 * The network thread
 * ================================================================================== */

std::thread g_network_thread;
std::atomic<bool> g_network_returned{false};
std::atomic<int> g_network_result{-1};
std::atomic<int> g_completion_hook_runs{0};
std::thread::id g_completion_hook_thread;

void completion_hook(void*) {
    g_completion_hook_thread = std::this_thread::get_id();
    g_completion_hook_runs++;
}

/* Selects API 730, sets up the network and runs it on its own thread. */
void start_network() {
    if (int rc = fdb_select_api_version_impl(730, 730)) {
        fprintf(stderr, "fdb_select_api_version_impl(730, 730) → %s\n", describe_error(rc).c_str());
        exit(2);
    }
    if (int rc = fdb_setup_network()) {
        fprintf(stderr, "fdb_setup_network → %s\n", describe_error(rc).c_str());
        exit(2);
    }
    g_network_thread = std::thread([] {
        g_network_result = fdb_run_network();
        g_network_returned = true;
    });
}

/* ====================================================================================
 * Cases: futures
 * ================================================================================== */

void test_future_getters_and_release_memory() {
    Database db = Database::open("found:memory");
    write_pairs(db.get(), {{"foo", "bar"}});
    Transaction tr(db.get());

    Future value = tr.get("foo");
    expect_ok(value.wait(), "get(foo)");
    fdb_bool_t present = 0;
    const uint8_t* bytes = nullptr;
    int length = 0;
    auto get_value = [&] { return fdb_future_get_value(value.get(), &present, &bytes, &length); };
    auto held = [&] { return std::string(reinterpret_cast<const char*>(bytes), (size_t)length); };
    expect_ok(get_value(), "first get_value");
    expect(present && held() == "bar", "get_value(foo) gave " + held());
    expect_ok(get_value(), "second get_value");
    fdb_future_release_memory(value.get());
    expect_ok(get_value(), "get_value after one release against two gets");
    expect(held() == "bar", "the value changed after a partial release: " + printable(held()));
    fdb_future_release_memory(value.get());
    fdb_future_release_memory(value.get());
    expect_error(get_value(), code::kFutureReleased, "get_value once releases match gets");

    Future version = tr.get_read_version();
    expect_ok(version.wait(), "get_read_version");
    expect_error(fdb_future_get_value(version.get(), &present, &bytes, &length), code::kClientInvalidOperation,
                 "get_value on an int64 future");
    int64_t read_version = 0, again = 0;
    expect_ok(fdb_future_get_int64(version.get(), &read_version), "get_int64 on the read version");
    expect(read_version > 0, "read version " + std::to_string(read_version) + " is not > 0");
    fdb_future_cancel(version.get());
    expect_ok(fdb_future_get_int64(version.get(), &again), "get_int64 after cancelling a ready future");
    expect(again == read_version, "cancelling a ready future changed its value");

    Future outside = tr.get("\xff/outside"s);
    expect_error(outside.wait(), code::kKeyOutsideLegalRange, "get(\\xff/outside) without system options");
    expect_error(fdb_future_get_value(outside.get(), &present, &bytes, &length), code::kKeyOutsideLegalRange,
                 "get_value on a failed future");

    Database unavailable = Database::open("found:unavailable");
    Transaction waiting(unavailable.get());
    Future pending = waiting.get_read_version();
    expect(!pending.ready(), "a read version from found:unavailable is ready");
    expect_error(fdb_future_get_error(pending.get()), code::kFutureNotSet, "get_error on a pending future");
    int64_t unused;
    expect_error(fdb_future_get_int64(pending.get(), &unused), code::kFutureNotSet, "get_int64 on a pending future");
    CallbackProbe probe;
    expect_ok(fdb_future_set_callback(pending.get(), record_callback, &probe), "set_callback on a pending future");
    expect(probe.runs == 0, "a callback ran before its future was ready");
    fdb_future_cancel(pending.get());
    expect(pending.ready(), "a cancelled future is not ready");
    expect_error(fdb_future_get_error(pending.get()), code::kOperationCancelled, "get_error after cancel");
    expect(probe.ran_within(milliseconds(2000)), "the callback did not run when the future was cancelled");
    expect(probe.runs == 1, "the callback ran " + std::to_string(probe.runs) + " times");
}

void test_future_callbacks() {
    Database db = Database::open("found:memory");
    write_pairs(db.get(), {{"w", "1"}});

    Transaction reader(db.get());
    Future ready = reader.get("w");
    expect_ok(ready.wait(), "get(w)");
    CallbackProbe inline_probe;
    expect_ok(fdb_future_set_callback(ready.get(), record_callback, &inline_probe), "set_callback on a ready future");
    expect(inline_probe.runs == 1, "a callback on a ready future did not run before set_callback returned");
    expect(inline_probe.ran_on() == std::this_thread::get_id(),
           "a callback on a ready future ran on another thread");

    Transaction watcher(db.get());
    Future watch = watcher.watch("w");
    Future self_destroying = watcher.watch("w");
    Future blocking = watcher.watch("w");
    Future never = watcher.watch("never-written");
    expect_ok(watcher.commit_and_wait(), "committing the watches");

    CallbackProbe first, second, destroyer, blocker;
    blocker.block_target = never.get();
    expect_ok(fdb_future_set_callback(watch.get(), record_callback, &first), "first set_callback");
    expect_ok(fdb_future_set_callback(watch.get(), record_callback, &second), "second set_callback");
    expect_ok(fdb_future_set_callback(self_destroying.release(), destroy_in_callback, &destroyer),
              "set_callback that destroys its future");
    expect_ok(fdb_future_set_callback(blocking.get(), block_in_callback, &blocker),
              "set_callback that blocks on a pending future");
    expect(first.runs + second.runs + destroyer.runs + blocker.runs == 0, "a callback ran before the watch fired");

    write_pairs(db.get(), {{"w", "2"}});
    for (CallbackProbe* probe : {&first, &second, &destroyer, &blocker})
        expect(probe->ran_within(milliseconds(5000)), "a watch callback did not run within 5 s of the change");
    const std::thread::id network = g_network_thread.get_id();
    expect(first.ran_on() == network && second.ran_on() == network && destroyer.ran_on() == network,
           "a callback of an asynchronously completed future did not run on the network thread");
    expect_ok(first.error, "error seen by the watch callback");
    expect_ok(destroyer.error, "error seen by the self-destroying callback");
    expect_error(blocker.block_result, code::kBlockedFromNetworkThread,
                 "block_until_ready on a pending future from the network thread");
    std::this_thread::sleep_for(milliseconds(50));
    expect(first.runs == 1 && second.runs == 1 && destroyer.runs == 1 && blocker.runs == 1,
           "a callback ran more than once");
    expect(!never.ready(), "the watch on an unchanged key fired");
}

/* ====================================================================================
 * Cases: reads and writes
 * ================================================================================== */

void test_set_get_clear_and_clear_range() {
    Database db = Database::open("found:memory");
    const std::string binary_key = "k\x00\x01"s, binary_value = "\x00v\x00"s;
    write_pairs(db.get(), {{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}, {"e", "5"},
                           {"", "the empty key"}, {"empty", ""}, {binary_key, binary_value}});
    expect_value(read_committed(db.get(), "a"), "1"s, "get(a)");
    expect_value(read_committed(db.get(), ""), "the empty key"s, "get(\"\")");
    expect_value(read_committed(db.get(), "empty"), ""s, "a present empty value");
    expect_value(read_committed(db.get(), binary_key), binary_value, "a key and value containing NUL");
    expect_value(read_committed(db.get(), "missing"), std::nullopt, "get(missing)");

    run_transaction(db.get(), [](Transaction& tr) {
        tr.clear("b");
        tr.clear_range("c", "e");
        tr.clear("never-existed");
        tr.clear_range("x", "x"); /* empty range: a no-op */
    });
    expect_value(read_committed(db.get(), "a"), "1"s, "a after clears");
    expect_value(read_committed(db.get(), "b"), std::nullopt, "b after clear(b)");
    expect_value(read_committed(db.get(), "c"), std::nullopt, "c after clear_range(c, e)");
    expect_value(read_committed(db.get(), "d"), std::nullopt, "d after clear_range(c, e)");
    expect_value(read_committed(db.get(), "e"), "5"s, "e after clear_range(c, e): the end is exclusive");

    run_transaction(db.get(), [](Transaction& tr) { tr.set("a", "overwritten"); });
    expect_value(read_committed(db.get(), "a"), "overwritten"s, "a after a second set");
}

void test_read_your_writes() {
    Database db = Database::open("found:memory");
    write_pairs(db.get(), {{"stored", "old"}, {"r1", "1"}, {"r2", "2"}, {"r3", "3"}});

    Transaction tr(db.get());
    tr.set("k", "mine");
    expect_value(tr.read("k"), "mine"s, "own set, serializable read");
    expect_value(tr.read("k", true), "mine"s, "own set, snapshot read (snapshot RYW on by default)");
    tr.set("stored", "new");
    expect_value(tr.read("stored"), "new"s, "own overwrite of a stored key");
    tr.clear("stored");
    expect_value(tr.read("stored"), std::nullopt, "own clear of a stored key");
    tr.clear_range("r1", "r9");
    tr.set("r2", "back");
    RangeResult rows = tr.read_range({first_greater_or_equal("r"), first_greater_or_equal("s")});
    expect(rows.rows == Rows{{"r2", "back"}},
           "range after clear_range(r1, r9) + set(r2): " + printable(rows.rows));
    tr.reset();
    expect_value(tr.read("k"), std::nullopt, "own write after reset");

    Transaction blind(db.get());
    expect_ok(blind.set_option(option::kReadYourWritesDisable), "read_your_writes_disable");
    blind.set("k", "unseen");
    blind.set("stored", "unseen");
    expect_value(blind.read("k"), std::nullopt, "own write with read_your_writes_disable");
    expect_value(blind.read("stored"), "old"s, "overwritten key with read_your_writes_disable");

    Transaction snapshot_blind(db.get());
    expect_ok(snapshot_blind.set_option(option::kSnapshotRywDisable), "snapshot_ryw_disable");
    snapshot_blind.set("stored", "mine");
    expect_value(snapshot_blind.read("stored", true), "old"s, "snapshot read with snapshot_ryw_disable");
    expect_value(snapshot_blind.read("stored", false), "mine"s, "serializable read with snapshot_ryw_disable");
}

void test_snapshot_reads_do_not_conflict() {
    Database db = Database::open("found:memory");
    write_pairs(db.get(), {{"k", "0"}});

    Transaction snapshot_reader(db.get());
    expect_value(snapshot_reader.read("k", true), "0"s, "snapshot get(k)");
    snapshot_reader.set("other", "x");
    write_pairs(db.get(), {{"k", "1"}});
    expect_ok(snapshot_reader.commit_and_wait(), "commit after a snapshot read of a key changed since");

    Transaction serializable_reader(db.get());
    expect_value(serializable_reader.read("k"), "1"s, "serializable get(k)");
    serializable_reader.set("other", "y");
    write_pairs(db.get(), {{"k", "2"}});
    expect_error(serializable_reader.commit_and_wait(), code::kNotCommitted,
                 "commit after a serializable read of a key changed since");
}

void test_conflicting_pair_one_commits_then_retry() {
    Database db = Database::open("found:memory");
    write_pairs(db.get(), {{"counter", "0"}});

    Transaction first(db.get()), second(db.get());
    const int seen_first = std::stoi(*first.read("counter"));
    const int seen_second = std::stoi(*second.read("counter"));
    first.set("counter", std::to_string(seen_first + 1));
    second.set("counter", std::to_string(seen_second + 1));
    Future commit_first = first.commit();
    Future commit_second = second.commit();
    const int result_first = commit_first.wait(), result_second = commit_second.wait();
    const bool exactly_one = (result_first == 0) != (result_second == 0);
    expect(exactly_one, "two transactions that read and wrote the same key committed with " +
                            describe_error(result_first) + " and " + describe_error(result_second));
    const int loser_error = result_first ? result_first : result_second;
    expect_error(loser_error, code::kNotCommitted, "the losing commit");

    Transaction& loser = result_first ? first : second;
    expect_ok(loser.on_error(loser_error).wait(), "on_error(1020)");
    const int seen = std::stoi(*loser.read("counter"));
    expect(seen == 1, "after the retry the loser read counter = " + std::to_string(seen) + ", expected 1");
    loser.set("counter", std::to_string(seen + 1));
    expect_ok(loser.commit_and_wait(), "the retried commit");
    expect_value(read_committed(db.get(), "counter"), "2"s, "counter after both increments");
}

void test_add_conflict_range() {
    Database db = Database::open("found:memory");
    Transaction reader(db.get());
    expect(int64_of(reader.get_read_version(), "get_read_version") > 0, "read version");
    expect_ok(reader.add_conflict_range("a", "b", kConflictRead), "add_conflict_range(a, b, READ)");
    reader.set("elsewhere", "x");

    Transaction writer(db.get());
    expect_ok(writer.add_conflict_range("a", "b", kConflictWrite), "add_conflict_range(a, b, WRITE)");
    expect_ok(writer.commit_and_wait(), "a commit holding only a write conflict range");
    expect_error(reader.commit_and_wait(), code::kNotCommitted,
                 "a read conflict range overlapping a later write conflict range");

    Transaction bad(db.get());
    expect_error(bad.add_conflict_range("b", "a", kConflictRead), code::kInvertedRange,
                 "add_conflict_range(b, a)");
    expect_error(bad.add_conflict_range("a", "b", 2), code::kClientInvalidOperation,
                 "add_conflict_range with type 2");
}

void test_key_selectors() {
    Database db = Database::open("found:memory");
    write_pairs(db.get(), {{"a", "1"}, {"bar", "2"}, {"baz", "3"}});
    Transaction tr(db.get());
    struct Example {
        Selector selector;
        std::string expected;
        const char* name;
    };
    const std::vector<Example> examples = {
        {first_greater_than("a"), "bar", "first_greater_than(a)"},
        {first_greater_or_equal("b"), "bar", "first_greater_or_equal(b)"},
        {first_greater_or_equal("bar"), "bar", "first_greater_or_equal(bar)"},
        {last_less_than("baz"), "bar", "last_less_than(baz)"},
        {last_less_or_equal("baz"), "baz", "last_less_or_equal(baz)"},
        {{"bar", true, 2}, "\xff", "first_greater_than(bar) + 1, past the last key"},
        {first_greater_than("baz"), "\xff", "first_greater_than(baz), past the last key"},
        {{"a", false, 10}, "\xff", "first_greater_or_equal(a) + 9, far past the end"},
        {last_less_than("a"), "", "last_less_than(a), before the first key"},
        {{"baz", true, -10}, "", "last_less_or_equal(baz) - 10, far before the start"},
        {{"", false, -1}, "", "(\"\", false, -1)"},
        {first_greater_or_equal("\xff"), "\xff", "first_greater_or_equal(\\xff)"},
    };
    for (const Example& example : examples) {
        const std::string got = tr.resolve(example.selector);
        expect(got == example.expected,
               std::string(example.name) + " resolved to " + printable(got) + ", expected " + printable(example.expected));
    }
    try {
        tr.resolve(first_greater_or_equal("\xff\x01"));
        fail("get_key with a selector key above \\xff succeeded");
    } catch (const FdbError& e) {
        expect_error(e.code, code::kKeyOutsideLegalRange, "get_key(first_greater_or_equal(\\xff\\x01))");
    }

    Transaction system(db.get());
    expect_ok(system.set_option(option::kReadSystemKeys), "read_system_keys");
    const std::string after_user_keys = system.resolve(first_greater_than("baz"));
    expect(after_user_keys == "\xff/coordinators",
           "with read_system_keys, first_greater_than(baz) gave " + printable(after_user_keys));
    const std::string past_system = system.resolve(first_greater_than("\xff/coordinators"));
    expect(past_system == "\xff\xff", "with read_system_keys, past the last key gave " + printable(past_system));

    Transaction own(db.get());
    own.set("b", "new");
    own.clear("bar");
    expect(own.resolve(first_greater_than("a")) == "b", "first_greater_than(a) over own set(b) + clear(bar)");
    expect(own.resolve(first_greater_than("b")) == "baz", "first_greater_than(b) over own clear(bar)");
    expect(own.resolve(last_less_than("baz")) == "b", "last_less_than(baz) over own set(b) + clear(bar)");
}

std::string names_of(const Rows& rows) {
    std::string out;
    for (const auto& row : rows) out += (out.empty() ? "" : ",") + row.first;
    return out;
}

/* A range read stopped by its limit conflicts only with writes to what it returned (§4.7);
 * a snapshot range read conflicts with nothing. Each story runs on a fresh store. */
void test_range_read_conflicts_cover_what_was_read() {
    struct Story {
        const char* name;
        bool snapshot;
        std::string written_by_other;
        int expected;
    };
    for (const Story& story : {Story{"a write past the rows a limited read returned", false, "y", 0},
                               Story{"a write to a row a limited read returned", false, "b", code::kNotCommitted},
                               Story{"a write between returned rows", false, "a1", code::kNotCommitted},
                               Story{"a write to a row a snapshot range read returned", true, "b", 0}}) {
        Database db = Database::open("found:memory");
        write_pairs(db.get(), {{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}});
        Transaction reader(db.get());
        RangeRequest request{first_greater_or_equal("a"), first_greater_or_equal("z"), 2};
        request.snapshot = story.snapshot;
        RangeResult result = reader.read_range(request);
        expect(names_of(result.rows) == "a,b" && result.more,
               std::string(story.name) + ": the read itself returned [" + names_of(result.rows) + "]");
        reader.set("elsewhere", "x");
        write_pairs(db.get(), {{story.written_by_other, "other"}});
        expect_error(reader.commit_and_wait(), story.expected, story.name);
    }
}


void test_get_range_limits_and_reverse() {
    Database db = Database::open("found:memory");
    write_pairs(db.get(), {{"a", "va"}, {"b", "vb"}, {"c", "vc"}, {"d", "vd"}});
    Transaction tr(db.get());
    auto range = [&](RangeRequest r, const std::string& expected_names, bool expected_more, const std::string& what) {
        RangeResult result = tr.read_range(r);
        expect(names_of(result.rows) == expected_names && result.more == expected_more,
               what + ": got [" + names_of(result.rows) + "] more=" + std::to_string(result.more) + ", expected [" +
                   expected_names + "] more=" + std::to_string(expected_more));
        return result;
    };
    RangeResult all = range({first_greater_or_equal("a"), first_greater_than("c")}, "a,b,c", false,
                            "[a, last_less_or_equal(c) + 1) WANT_ALL");
    expect(all.rows[1].second == "vb", "the value of b in the range is " + printable(all.rows[1].second));
    range({first_greater_or_equal("a"), first_greater_or_equal("z"), 2}, "a,b", true, "limit 2");
    range({first_greater_or_equal("a"), first_greater_or_equal("z"), 0, 0, streaming::kWantAll, 1, false, true},
          "d,c,b,a", false, "reverse");
    range({first_greater_or_equal("a"), first_greater_or_equal("z"), 2, 0, streaming::kWantAll, 1, false, true},
          "d,c", true, "reverse limit 2");
    range({first_greater_or_equal("a"), first_greater_or_equal("z"), 0, 1}, "a", true,
          "target_bytes 1 still returns one row");
    range({first_greater_or_equal("c"), first_greater_or_equal("b")}, "", false, "begin after end");
    range({first_greater_or_equal("b"), first_greater_or_equal("b")}, "", false, "begin equal to end");
    range({first_greater_than("a"), last_less_or_equal("d")}, "b,c", false, "(first_greater_than(a), d)");

    auto range_error = [&](RangeRequest r, int expected, const std::string& what) {
        try {
            tr.read_range(r);
            fail(what + " succeeded");
        } catch (const FdbError& e) {
            expect_error(e.code, expected, what);
        }
    };
    range_error({first_greater_or_equal("a"), first_greater_or_equal("z"), -2}, code::kRangeLimitsInvalid, "limit -2");
    range_error({first_greater_or_equal("a"), first_greater_or_equal("z"), 0, -2}, code::kRangeLimitsInvalid,
                "target_bytes -2");
    range_error({first_greater_or_equal("a"), first_greater_or_equal("z"), 0, 0, streaming::kIterator, 0},
                code::kClientInvalidOperation, "ITERATOR with iteration 0");
    range_error({first_greater_or_equal("a"), first_greater_or_equal("z"), 0, 0, 7}, code::kClientInvalidOperation,
                "streaming mode 7");
    range_error({first_greater_or_equal("a"), first_greater_or_equal("\xff\x01")}, code::kKeyOutsideLegalRange,
                "an end selector above \\xff");
}

void test_get_range_exact_mode() {
    Database db = Database::open("found:memory");
    write_pairs(db.get(), {{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}});
    Transaction tr(db.get());
    RangeRequest exact{first_greater_or_equal("a"), first_greater_or_equal("z"), 0, 0, streaming::kExact};
    try {
        tr.read_range(exact);
        fail("EXACT without limits succeeded");
    } catch (const FdbError& e) {
        expect_error(e.code, code::kExactModeWithoutLimits, "EXACT without limits");
    }
    struct Case {
        int limit;
        bool reverse;
        const char* names;
        bool more;
    };
    for (const Case& c : {Case{3, false, "a,b,c", true}, Case{4, false, "a,b,c,d", false},
                          Case{5, false, "a,b,c,d", false}, Case{3, true, "d,c,b", true}}) {
        RangeRequest request = exact;
        request.limit = c.limit;
        request.reverse = c.reverse;
        RangeResult result = tr.read_range(request);
        expect(names_of(result.rows) == c.names && result.more == c.more,
               "EXACT limit " + std::to_string(c.limit) + (c.reverse ? " reverse" : "") + ": got [" +
                   names_of(result.rows) + "] more=" + std::to_string(result.more) + ", expected [" + c.names +
                   "] more=" + std::to_string(c.more));
    }
}

std::string row_key(int i) {
    char buffer[16];
    snprintf(buffer, sizeof(buffer), "r/%04d", i);
    return buffer;
}

std::string row_value(int i) { return std::string((size_t)(1 + (i * 37) % 211), (char)('a' + i % 26)); }

/* Reads [begin, end) the way a binding does (§4.5): after each batch, move the begin
 * (or, reversed, the end) past the last row, raise the iteration, lower the limit. */
Rows read_in_batches(Transaction& tr, const std::string& begin, const std::string& end, int mode,
                     int per_call_limit, int target_bytes, bool reverse, bool snapshot, int total_limit) {
    RangeRequest request{first_greater_or_equal(begin), first_greater_or_equal(end)};
    request.mode = mode;
    request.target_bytes = target_bytes;
    request.reverse = reverse;
    request.snapshot = snapshot;
    Rows rows;
    bool previous_more = false;
    for (int call = 0; call < 100000; call++) {
        const int remaining = total_limit ? total_limit - (int)rows.size() : 0;
        request.limit = per_call_limit;
        if (total_limit) request.limit = per_call_limit ? std::min(per_call_limit, remaining) : remaining;
        RangeResult batch = tr.read_range(request);
        if (per_call_limit && (int)batch.rows.size() > per_call_limit)
            fail("a batch returned " + std::to_string(batch.rows.size()) + " rows for limit " +
                 std::to_string(per_call_limit));
        if (previous_more && batch.rows.empty())
            fail("a batch said more = 1 but the next batch was empty (after " + printable(rows.back().first) + ")");
        rows.insert(rows.end(), batch.rows.begin(), batch.rows.end());
        if (!batch.more || (total_limit && (int)rows.size() >= total_limit)) return rows;
        if (batch.rows.empty()) fail("a batch returned no rows with more = 1");
        previous_more = batch.more;
        if (reverse) request.end = first_greater_or_equal(rows.back().first);
        else request.begin = first_greater_than(rows.back().first);
        request.iteration++;
    }
    fail("range iteration did not finish");
}

void test_range_iteration_is_independent_of_batching() {
    Database db = Database::open("found:memory");
    std::map<std::string, std::string> stored;
    for (int i = 0; i < 300; i++) stored[row_key(i)] = row_value(i);
    write_pairs(db.get(), stored);

    /* Own writes layered over the store: new keys between stored ones, clears, a cleared
     * range with a key set again inside it, and atomic ops on keys whose value only the
     * store knows. `expected` models the merged view. */
    Transaction tr(db.get());
    std::map<std::string, std::string> expected = stored;
    for (int i = 0; i < 300; i++) {
        if (i % 10 == 3) {
            tr.set(row_key(i) + "+", "new" + std::to_string(i));
            expected[row_key(i) + "+"] = "new" + std::to_string(i);
        } else if (i % 10 == 5) {
            tr.clear(row_key(i));
            expected.erase(row_key(i));
        }
    }
    tr.clear_range(row_key(100), row_key(120));
    expected.erase(expected.lower_bound(row_key(100)), expected.lower_bound(row_key(120)));
    tr.set(row_key(110), "revived");
    expected[row_key(110)] = "revived";
    tr.atomic_op(row_key(115), "\x01"s, mutation::kAdd);
    expected[row_key(115)] = "\x01"s;
    for (int i = 7; i < 300; i += 10) {
        if (i >= 100 && i < 120) continue;
        tr.atomic_op(row_key(i), "\x20"s, mutation::kBitXor);
        expected[row_key(i)] = std::string(1, (char)(row_value(i)[0] ^ 0x20));
    }
    const Rows forward(expected.begin(), expected.end());
    const Rows backward(forward.rbegin(), forward.rend());
    const Rows committed_forward(stored.begin(), stored.end());

    struct Batching {
        const char* name;
        int mode;
        int per_call_limit;
        int target_bytes;
    };
    const std::vector<Batching> batchings = {
        {"WANT_ALL", streaming::kWantAll, 0, 0},     {"ITERATOR", streaming::kIterator, 0, 0},
        {"SMALL", streaming::kSmall, 0, 0},          {"MEDIUM", streaming::kMedium, 0, 0},
        {"LARGE limit 13", streaming::kLarge, 13, 0}, {"SERIAL", streaming::kSerial, 0, 0},
        {"EXACT limit 1", streaming::kExact, 1, 0},  {"EXACT limit 7", streaming::kExact, 7, 0},
        {"EXACT limit 64", streaming::kExact, 64, 0}, {"WANT_ALL target_bytes 100", streaming::kWantAll, 0, 100},
    };
    for (const Batching& b : batchings) {
        for (bool reverse : {false, true}) {
            for (bool snapshot : {false, true}) {
                const std::string what = std::string(b.name) + (reverse ? " reverse" : "") + (snapshot ? " snapshot" : "");
                Rows rows = read_in_batches(tr, "r/", "r0", b.mode, b.per_call_limit, b.target_bytes, reverse,
                                            snapshot, 0);
                const Rows& want = reverse ? backward : forward;
                if (rows != want) {
                    size_t first_difference = 0;
                    while (first_difference < rows.size() && first_difference < want.size() &&
                           rows[first_difference] == want[first_difference])
                        first_difference++;
                    fail(what + ": " + std::to_string(rows.size()) + " rows, expected " + std::to_string(want.size()) +
                         "; first difference at row " + std::to_string(first_difference) + ": got " +
                         (first_difference < rows.size() ? printable(rows[first_difference].first) + "=" +
                                                                printable(rows[first_difference].second)
                                                          : std::string("nothing")) +
                         ", expected " +
                         (first_difference < want.size() ? printable(want[first_difference].first) + "=" +
                                                                printable(want[first_difference].second)
                                                          : std::string("nothing")));
                }
            }
        }
        const Rows limited = read_in_batches(tr, "r/", "r0", b.mode == streaming::kExact ? streaming::kIterator : b.mode,
                                             b.mode == streaming::kExact ? 0 : b.per_call_limit, b.target_bytes, false,
                                             false, 150);
        expect(limited == Rows(forward.begin(), forward.begin() + 150),
               std::string(b.name) + " with a total limit of 150: got " + std::to_string(limited.size()) +
                   " rows, not the first 150");
    }

    Transaction plain(db.get());
    Rows committed = read_in_batches(plain, "r/", "r0", streaming::kSmall, 0, 0, false, false, 0);
    expect(committed == committed_forward,
           "the committed rows read in SMALL batches differ from what was written (" + std::to_string(committed.size()) +
               " rows)");
}

/* ====================================================================================
 * Cases: atomic operations and versionstamps
 * ================================================================================== */

void test_atomic_ops_follow_the_spec_examples() {
    struct Example {
        const char* name;
        std::optional<std::string> existing;
        int operation;
        std::string param;
        std::optional<std::string> expected;
    };
    const std::string almost_full(99999, 'x');
    const std::vector<Example> examples = {
        {"ADD on absent", std::nullopt, mutation::kAdd, "\x05"s, "\x05"s},
        {"ADD", "\x05\x00"s, mutation::kAdd, "\x07\x00"s, "\x0c\x00"s},
        {"ADD with carry", "\xff\x00"s, mutation::kAdd, "\x01\x00"s, "\x00\x01"s},
        {"ADD onto a shorter value", "\x05"s, mutation::kAdd, "\x01\x00\x00\x00"s, "\x06\x00\x00\x00"s},
        {"ADD onto a longer value", "\x05\x00\x00\x01"s, mutation::kAdd, "\x01"s, "\x06"s},
        {"ADD of -1 (two's complement)", "\x05\x00\x00\x00"s, mutation::kAdd, "\xff\xff\xff\xff"s, "\x04\x00\x00\x00"s},
        {"ADD with an empty param", "\x05"s, mutation::kAdd, ""s, ""s},
        {"BIT_AND a & b", "a"s, mutation::kBitAnd, "b"s, "\x60"s},
        {"BIT_AND c & ad", "c"s, mutation::kBitAnd, "ad"s, "a\x00"s},
        {"BIT_AND abc & e", "abc"s, mutation::kBitAnd, "e"s, "a"s},
        {"BIT_AND on absent", std::nullopt, mutation::kBitAnd, "xy"s, "xy"s},
        {"AND_V2 on absent", std::nullopt, mutation::kAndV2, "xy"s, "xy"s},
        {"BIT_OR b | ad", "b"s, mutation::kBitOr, "ad"s, "cd"s},
        {"BIT_OR on absent", std::nullopt, mutation::kBitOr, "xy"s, "xy"s},
        {"BIT_XOR abc ^ d", "abc"s, mutation::kBitXor, "d"s, "\x05"s},
        {"MAX b, aa", "b"s, mutation::kMax, "aa"s, "aa"s},
        {"MAX cba, b", "cba"s, mutation::kMax, "b"s, "c"s},
        {"MAX on empty", ""s, mutation::kMax, "\x05"s, "\x05"s},
        {"MIN b, aa", "b"s, mutation::kMin, "aa"s, "b\x00"s},
        {"MIN on absent", std::nullopt, mutation::kMin, "\x05"s, "\x05"s},
        {"MIN on empty", ""s, mutation::kMin, "\x05"s, "\x00"s},
        {"MIN_V2 on absent", std::nullopt, mutation::kMinV2, "\x05"s, "\x05"s},
        {"BYTE_MAX cba, b", "cba"s, mutation::kByteMax, "b"s, "cba"s},
        {"BYTE_MAX on absent", std::nullopt, mutation::kByteMax, "b"s, "b"s},
        {"BYTE_MIN abc, b", "abc"s, mutation::kByteMin, "b"s, "abc"s},
        {"BYTE_MIN b, abc", "b"s, mutation::kByteMin, "abc"s, "abc"s},
        {"APPEND_IF_FITS f + db", "f"s, mutation::kAppendIfFits, "db"s, "fdb"s},
        {"APPEND_IF_FITS on absent", std::nullopt, mutation::kAppendIfFits, "db"s, "db"s},
        {"APPEND_IF_FITS over 100,000 bytes", almost_full, mutation::kAppendIfFits, "yz"s, almost_full},
        {"COMPARE_AND_CLEAR equal", "same"s, mutation::kCompareAndClear, "same"s, std::nullopt},
        {"COMPARE_AND_CLEAR different", "other"s, mutation::kCompareAndClear, "same"s, "other"s},
        {"COMPARE_AND_CLEAR on absent", std::nullopt, mutation::kCompareAndClear, "same"s, std::nullopt},
    };
    Database db = Database::open("found:memory");
    for (size_t i = 0; i < examples.size(); i++) {
        const Example& example = examples[i];
        const std::string key = "atomic/" + std::to_string(i);
        if (example.existing) write_pairs(db.get(), {{key, *example.existing}});
        Transaction tr(db.get());
        tr.atomic_op(key, example.param, example.operation);
        expect_value(tr.read(key), example.expected, std::string(example.name) + ", read back in the transaction");
        expect_ok(tr.commit_and_wait(), std::string(example.name) + ", commit");
        expect_value(read_committed(db.get(), key), example.expected, std::string(example.name) + ", committed");
    }

    for (int i = 0; i < 5; i++)
        run_transaction(db.get(), [](Transaction& tr) { tr.atomic_op("counter", "\x01"s, mutation::kAdd); });
    expect_value(read_committed(db.get(), "counter"), "\x05"s, "a 1-byte counter after five ADD 1 commits");

    Transaction composed(db.get());
    composed.atomic_op("composed", "\x01"s, mutation::kAdd);
    composed.atomic_op("composed", "\x02"s, mutation::kAdd);
    composed.atomic_op("composed", "\x10"s, mutation::kBitOr);
    expect_value(composed.read("composed"), "\x13"s, "ADD 1, ADD 2, OR 0x10 composed in call order");
    composed.set("replaced", "base");
    composed.atomic_op("replaced", "!"s, mutation::kAppendIfFits);
    composed.set("replaced", "final");
    expect_value(composed.read("replaced"), "final"s, "a set after atomic ops replaces them");
    expect_ok(composed.commit_and_wait(), "commit of composed ops");
    expect_value(read_committed(db.get(), "composed"), "\x13"s, "composed ops, committed");
    expect_value(read_committed(db.get(), "replaced"), "final"s, "set after atomic ops, committed");

    Transaction invalid(db.get());
    invalid.atomic_op("k", "\x01"s, 3);
    expect_error(invalid.commit_and_wait(), code::kInvalidMutationType, "atomic op code 3");
    Transaction too_large(db.get());
    too_large.atomic_op("k", std::string(100001, 'p'), mutation::kAppendIfFits);
    expect_error(too_large.commit_and_wait(), code::kValueTooLarge, "an atomic op param of 100,001 bytes");
}

/* The commit version encoded in the first 8 bytes of a versionstamp (big-endian). */
int64_t version_in_stamp(const std::string& stamp) {
    uint64_t version = 0;
    for (int i = 0; i < 8; i++) version = (version << 8) | (uint8_t)stamp[i];
    return (int64_t)version;
}

void test_versionstamps() {
    Database db = Database::open("found:memory");
    const std::string placeholder(10, '\0');
    std::vector<std::string> stamps;
    for (int round = 0; round < 2; round++) {
        Transaction tr(db.get());
        tr.atomic_op("vs/" + placeholder + "/k" + std::to_string(round) + little_endian32(3), "v" + std::to_string(round),
                     mutation::kSetVersionstampedKey);
        tr.atomic_op("vv" + std::to_string(round), "pre" + placeholder + "post" + little_endian32(3),
                     mutation::kSetVersionstampedValue);
        Future stamp_future = tr.get_versionstamp();
        try {
            tr.read("vv" + std::to_string(round));
            fail("reading the key of a SET_VERSIONSTAMPED_VALUE in its transaction succeeded");
        } catch (const FdbError& e) {
            expect_error(e.code, code::kAccessedUnreadable, "get of a versionstamped value's key");
        }
        expect_ok(tr.commit_and_wait(), "commit with versionstamped mutations");
        const int64_t committed = tr.committed_version();
        const std::string stamp = key_of(stamp_future, "get_versionstamp");
        expect(stamp.size() == 10, "the versionstamp has " + std::to_string(stamp.size()) + " bytes");
        expect(version_in_stamp(stamp) == committed,
               "the versionstamp's version " + std::to_string(version_in_stamp(stamp)) +
                   " differs from the committed version " + std::to_string(committed));
        stamps.push_back(stamp);

        const Rows rows = read_committed_range(db.get(), "vs/", "vs0");
        const std::string expected_key = "vs/" + stamp + "/k" + std::to_string(round);
        expect(std::any_of(rows.begin(), rows.end(),
                           [&](const auto& row) { return row.first == expected_key && row.second == "v" + std::to_string(round); }),
               "no row " + printable(expected_key) + " among " + printable(rows));
        expect_value(read_committed(db.get(), "vv" + std::to_string(round)), "pre" + stamp + "post",
                     "the versionstamped value");
    }
    expect(stamps[1] > stamps[0], "versionstamps do not increase in commit order");

    Transaction bad_offset(db.get());
    bad_offset.atomic_op("abc" + little_endian32(5), "v", mutation::kSetVersionstampedKey);
    expect_error(bad_offset.get_versionstamp().wait(), code::kClientInvalidOperation,
                 "get_versionstamp after a bad offset (the deferred error)");
    expect_error(bad_offset.commit_and_wait(), code::kClientInvalidOperation,
                 "SET_VERSIONSTAMPED_KEY with offset 5 in a 3-byte key");

    write_pairs(db.get(), {{"k", "0"}});
    Transaction conflicted(db.get());
    conflicted.read("k");
    conflicted.atomic_op("vs2/" + placeholder + little_endian32(4), "v", mutation::kSetVersionstampedKey);
    Future conflicted_stamp = conflicted.get_versionstamp();
    write_pairs(db.get(), {{"k", "1"}});
    expect_error(conflicted.commit_and_wait(), code::kNotCommitted, "a conflicting versionstamped commit");
    expect(conflicted_stamp.ready_within(milliseconds(2000)),
           "the versionstamp future is still pending 2 s after its commit failed");
    expect_error(conflicted_stamp.wait(), code::kTransactionInvalidVersion, "the versionstamp of a failed commit");

    Transaction read_only(db.get());
    read_only.read("anything");
    Future no_stamp = read_only.get_versionstamp();
    expect_ok(read_only.commit_and_wait(), "a read-only commit");
    expect_error(no_stamp.wait(), code::kNoCommitVersion, "the versionstamp of a read-only commit");
    expect(read_only.committed_version() == -1, "a read-only commit's committed version is not -1");
}

/* ====================================================================================
 * Cases: versions, limits, errors
 * ================================================================================== */

void test_read_versions_too_old_and_future() {
    Database db = Database::open("found:memory");
    Transaction old(db.get());
    old.set_read_version(1);
    expect_error(old.get("k").wait(), code::kTransactionTooOld, "get at read version 1");
    expect_ok(old.on_error(code::kTransactionTooOld).wait(), "on_error(1007)");

    Transaction future(db.get());
    future.set_read_version(int64_t(1) << 62);
    const auto started = Clock::now();
    expect_error(future.get("k").wait(), code::kFutureVersion, "get at read version 2^62");
    const auto waited = std::chrono::duration_cast<milliseconds>(Clock::now() - started).count();
    expect(waited >= 900 && waited < 5000, "future_version after " + std::to_string(waited) + " ms, expected about 1 s");
    expect_ok(future.on_error(code::kFutureVersion).wait(), "on_error(1009)");
    expect_value(future.read("k"), std::nullopt, "a read after on_error(1009) takes a fresh read version");

    Transaction twice(db.get());
    twice.read("k");
    twice.set_read_version(1000);
    expect_error(twice.commit_and_wait(), code::kReadVersionAlreadySet, "set_read_version after a read");
    Transaction zero(db.get());
    zero.set_read_version(0);
    expect_error(zero.get("k").wait(), code::kVersionInvalid, "set_read_version(0)");
}

void test_size_limits() {
    Database db = Database::open("found:memory");
    const std::string long_key(10001, 'k');
    Transaction key_too_large(db.get());
    key_too_large.set(long_key, "v");
    expect_error(key_too_large.commit_and_wait(), code::kKeyTooLarge, "set of a 10,001-byte key");
    Transaction reader(db.get());
    expect_value(reader.read(long_key), std::nullopt, "get of a 10,001-byte key");
    expect_error(reader.watch(long_key).wait(), code::kKeyTooLarge, "watch of a 10,001-byte key");

    Transaction system_key(db.get());
    expect_ok(system_key.set_option(option::kAccessSystemKeys), "access_system_keys");
    system_key.set("\xff/" + std::string(10001, 's'), "v");
    expect_ok(system_key.commit_and_wait(), "a 10,003-byte system key (limit 30,000)");

    Transaction value_too_large(db.get());
    value_too_large.set("k", std::string(100001, 'v'));
    expect_error(value_too_large.commit_and_wait(), code::kValueTooLarge, "set of a 100,001-byte value");
    Transaction largest_value(db.get());
    largest_value.set("k", std::string(100000, 'v'));
    expect_ok(largest_value.commit_and_wait(), "set of a 100,000-byte value");

    Transaction small(db.get());
    expect_ok(small.set_option(option::kSizeLimit, 32), "size_limit 32");
    small.set("foo", std::string(30, 'b'));
    expect_error(small.commit_and_wait(), code::kTransactionTooLarge, "a 33-byte write under size_limit 32");

    Transaction too_small(db.get());
    expect_ok(too_small.set_option(option::kSizeLimit, 31), "size_limit 31 is accepted by set_option (deferred)");
    too_small.set("a", "b");
    expect_error(too_small.commit_and_wait(), code::kInvalidOptionValue, "commit after size_limit 31");
    Transaction too_big(db.get());
    expect_ok(too_big.set_option(option::kSizeLimit, 10000001), "size_limit 10,000,001 (deferred)");
    expect_error(too_big.commit_and_wait(), code::kInvalidOptionValue, "commit after size_limit 10,000,001");

    expect_error(db.set_option(option::kTransactionSizeLimit, 31), code::kInvalidOptionValue,
                 "database transaction_size_limit 31");
    expect_ok(db.set_option(option::kTransactionSizeLimit, 32), "database transaction_size_limit 32");
    Transaction inherited(db.get());
    inherited.set("foo", std::string(30, 'b'));
    expect_error(inherited.commit_and_wait(), code::kTransactionTooLarge,
                 "a 33-byte write under the database's size limit 32");
}

void test_transaction_timeout() {
    Database db = Database::open("found:memory");
    Transaction tr(db.get());
    expect_ok(tr.set_option(option::kTimeout, 1), "timeout 1 ms");
    int final_error = 0;
    const auto deadline = Clock::now() + milliseconds(5000);
    while (Clock::now() < deadline) {
        const int error = tr.get("k").wait();
        if (error == 0) continue;
        const int retry = tr.on_error(error).wait();
        if (retry) {
            final_error = retry;
            break;
        }
    }
    expect_error(final_error, code::kTransactionTimedOut, "the get / on_error loop under a 1 ms timeout");
    expect_error(tr.commit_and_wait(), code::kTransactionTimedOut, "commit after the timeout");
    expect_ok(tr.set_option(option::kTimeout, 0), "timeout 0 after expiry");
    expect_error(tr.get("k").wait(), code::kTransactionTimedOut, "get after the timeout was set to 0");
    tr.reset();
    expect_ok(tr.get("k").wait(), "get after reset");

    expect_ok(db.set_option(option::kTransactionTimeout, 1), "database transaction_timeout 1 ms");
    Transaction by_default(db.get());
    std::this_thread::sleep_for(milliseconds(10));
    expect_error(by_default.get("k").wait(), code::kTransactionTimedOut, "get 10 ms into a 1 ms database timeout");
    expect_ok(db.set_option(option::kTransactionTimeout, 0), "database transaction_timeout 0");

    Database unavailable = Database::open("found:unavailable");
    Transaction pending(unavailable.get());
    expect_ok(pending.set_option(option::kTimeout, 50), "timeout 50 ms");
    Future version = pending.get_read_version();
    expect(version.ready_within(milliseconds(3000)), "a pending read version did not time out within 3 s");
    expect_error(version.wait(), code::kTransactionTimedOut, "a pending read version at its timeout");
}

void test_cancel() {
    Database db = Database::open("found:memory");
    Transaction tr(db.get());
    tr.set("k", "v");
    tr.cancel();
    expect_error(tr.get("k").wait(), code::kTransactionCancelled, "get after cancel");
    expect_error(tr.commit_and_wait(), code::kTransactionCancelled, "commit after cancel");
    expect_error(tr.on_error(code::kNotCommitted).wait(), code::kTransactionCancelled, "on_error after cancel");
    tr.reset();
    expect_value(tr.read("k"), std::nullopt, "after reset the cancelled write is gone");
    tr.set("k", "v2");
    expect_ok(tr.commit_and_wait(), "commit after reset");

    Database unavailable = Database::open("found:unavailable");
    Transaction pending(unavailable.get());
    Future version = pending.get_read_version();
    expect(!version.ready(), "a read version from found:unavailable is ready");
    pending.cancel();
    expect(version.ready_within(milliseconds(2000)), "a pending future stayed pending after cancel");
    expect_error(version.wait(), code::kTransactionCancelled, "a pending read version after cancel");

    Transaction reset_pending(unavailable.get());
    Future reset_version = reset_pending.get_read_version();
    reset_pending.reset();
    expect(reset_version.ready_within(milliseconds(2000)), "a pending future stayed pending after reset");
    expect_error(reset_version.wait(), code::kTransactionCancelled, "a pending read version after reset");
}

void test_on_error_rules() {
    Database db = Database::open("found:memory");
    Transaction tr(db.get());
    tr.set("k", "dropped");
    expect_ok(tr.on_error(code::kNotCommitted).wait(), "on_error(1020)");
    expect_value(tr.read("k"), std::nullopt, "writes after on_error(1020)");

    expect_error(tr.on_error(code::kKeyOutsideLegalRange).wait(), code::kKeyOutsideLegalRange,
                 "on_error(2004), not retryable");
    expect_error(tr.get("k").wait(), code::kTransactionCancelled, "get after on_error gave up");
    tr.reset();
    expect_error(tr.on_error(0).wait(), code::kClientInvalidOperation, "on_error(0)");
    tr.reset();

    expect_ok(tr.set_option(option::kRetryLimit, 2), "retry_limit 2");
    expect_ok(tr.on_error(code::kNotCommitted).wait(), "first retry under retry_limit 2");
    expect_ok(tr.on_error(code::kNotCommitted).wait(), "second retry under retry_limit 2");
    expect_error(tr.on_error(code::kNotCommitted).wait(), code::kNotCommitted, "third retry under retry_limit 2");
}

void test_commit_does_not_reset() {
    Database db = Database::open("found:memory");
    Transaction tr(db.get());
    const int64_t read_version = int64_of(tr.get_read_version(), "get_read_version");
    tr.set("k", "v");
    expect_ok(tr.commit_and_wait(), "commit");
    const int64_t committed = tr.committed_version();
    expect(committed > read_version, "committed version " + std::to_string(committed) +
                                         " is not above the read version " + std::to_string(read_version));
    expect(int64_of(tr.get_read_version(), "get_read_version after commit") == read_version,
           "commit changed the read version");
    expect_error(tr.get("k").wait(), code::kUsedDuringCommit, "get after commit");
    expect_error(tr.commit_and_wait(), code::kUsedDuringCommit, "a second commit");

    Transaction loser(db.get());
    const int64_t loser_version = int64_of(loser.get_read_version(), "get_read_version");
    loser.read("k");
    loser.set("k", "late");
    write_pairs(db.get(), {{"k", "first"}});
    expect_error(loser.commit_and_wait(), code::kNotCommitted, "a conflicting commit");
    expect(int64_of(loser.get_read_version(), "get_read_version after 1020") == loser_version,
           "a failed commit changed the read version");
    expect(loser.committed_version() == -1, "a failed commit has a committed version");
}

void test_deferred_errors() {
    Database db = Database::open("found:memory");
    Transaction inverted(db.get());
    inverted.clear_range("b", "a");
    expect_error(inverted.get("k").wait(), code::kInvertedRange, "a read after clear_range(b, a)");
    expect_error(inverted.commit_and_wait(), code::kInvertedRange, "commit after clear_range(b, a)");
    inverted.reset();
    inverted.set("k", "v");
    expect_ok(inverted.commit_and_wait(), "commit after reset clears the deferred error");

    Transaction unknown_option(db.get());
    expect_error(unknown_option.set_option(9999), code::kInvalidOption, "transaction option 9999");
    expect_ok(unknown_option.commit_and_wait(), "an unknown option is not a deferred error");

    Transaction first_wins(db.get());
    first_wins.clear_range("b", "a");
    first_wins.set("\xff\x02"s, "x");
    expect_error(first_wins.commit_and_wait(), code::kInvertedRange, "the first deferred error wins");
}

void test_error_predicates_and_texts() {
    struct Check {
        int predicate;
        int error;
        bool expected;
    };
    for (const Check& c : {Check{kPredicateRetryable, 1020, true}, Check{kPredicateRetryable, 1021, true},
                           Check{kPredicateRetryable, 1007, true}, Check{kPredicateRetryable, 2004, false},
                           Check{kPredicateMaybeCommitted, 1021, true}, Check{kPredicateMaybeCommitted, 1020, false},
                           Check{kPredicateRetryableNotCommitted, 1020, true},
                           Check{kPredicateRetryableNotCommitted, 1021, false},
                           Check{kPredicateRetryableNotCommitted, 1038, true}, Check{12345, 1020, false}}) {
        expect((fdb_error_predicate(c.predicate, c.error) != 0) == c.expected,
               "fdb_error_predicate(" + std::to_string(c.predicate) + ", " + std::to_string(c.error) + ") is not " +
                   (c.expected ? "true" : "false"));
    }
    expect(std::string(fdb_get_error(1020)) == "Transaction not committed due to conflict with another transaction",
           "fdb_get_error(1020) = " + std::string(fdb_get_error(1020)));
    expect(std::string(fdb_get_error(0)) == "Success", "fdb_get_error(0)");
    expect(std::string(fdb_get_error(2210)) == "EXACT streaming mode requires limits, but none were given",
           "fdb_get_error(2210)");
}

void test_api_version_and_setup_in_process() {
    expect_error(fdb_select_api_version_impl(730, 730), code::kApiVersionAlreadySet, "a second API selection");
    expect_error(fdb_setup_network(), code::kNetworkAlreadySetup, "a second fdb_setup_network");
    expect(fdb_get_max_api_version() == 800, "fdb_get_max_api_version() = " + std::to_string(fdb_get_max_api_version()));
    expect_error(fdb_network_set_option(9999, nullptr, 0), code::kInvalidOption, "network option 9999");
}

void test_api_version_and_setup_before_selection() {
    const std::vector<std::string> lines = run_child({"--child-api-order"});
    const std::map<std::string, int> expected = {
        {"setup_network_before_selection", code::kApiVersionUnset},
        {"select_runtime_above_header", code::kApiVersionInvalid},
        {"select_header_801", code::kApiVersionNotSupported},
        {"select_runtime_12", code::kApiVersionNotSupported},
        {"select_730", 0},
        {"select_again", code::kApiVersionAlreadySet},
        {"run_network_before_setup", code::kNetworkNotSetup},
        {"stop_network_before_setup", code::kNetworkNotSetup},
        {"create_database_before_setup", code::kNetworkNotSetup},
        {"setup_network", 0},
        {"setup_network_again", code::kNetworkAlreadySetup},
    };
    std::map<std::string, int> observed;
    for (const std::string& line : lines) {
        size_t space = line.find(' ');
        if (space != std::string::npos) observed[line.substr(0, space)] = std::stoi(line.substr(space + 1));
    }
    for (const auto& [step, error] : expected) {
        auto it = observed.find(step);
        expect(it != observed.end(), "the child did not report " + step);
        expect_error(it->second, error, step);
    }
}

/* ====================================================================================
 * Cases: watches and system keys
 * ================================================================================== */

void test_watch_fires_on_another_transactions_change() {
    Database db = Database::open("found:memory");
    write_pairs(db.get(), {{"w", "1"}});
    Transaction watcher(db.get());
    Future watch = watcher.watch("w");
    expect_ok(watcher.commit_and_wait(), "committing the watch");
    expect(!watch.ready_within(milliseconds(100)), "the watch fired with no change");
    write_pairs(db.get(), {{"w", "1"}});
    expect(!watch.ready_within(milliseconds(100)), "the watch fired when another transaction set the same value");
    write_pairs(db.get(), {{"w", "2"}});
    expect(watch.ready_within(milliseconds(5000)), "the watch did not fire within 5 s of another transaction's change");
    expect_ok(watch.wait(), "the fired watch");

    Transaction clear_watcher(db.get());
    Future cleared = clear_watcher.watch("w");
    expect_ok(clear_watcher.commit_and_wait(), "committing the second watch");
    run_transaction(db.get(), [](Transaction& tr) { tr.clear("w"); });
    expect(cleared.ready_within(milliseconds(5000)), "the watch did not fire when another transaction cleared its key");
    expect_ok(cleared.wait(), "the watch fired by a clear");

    Transaction own(db.get());
    Future own_watch = own.watch("w");
    own.set("w", "3");
    expect(own_watch.ready(), "a watch did not fire at once on its own transaction's change");
}

void test_watch_limits_and_errors() {
    Database db = Database::open("found:memory");
    expect_ok(db.set_option(option::kMaxWatches, 3), "max_watches 3");
    Transaction tr(db.get());
    Future w1 = tr.watch("w1"), w2 = tr.watch("w2"), w3 = tr.watch("w3"), w4 = tr.watch("w4");
    expect(!w1.ready() && !w2.ready() && !w3.ready(), "one of the first three watches is not pending");
    expect(w4.ready(), "the fourth watch under max_watches 3 is pending");
    expect_error(w4.wait(), code::kTooManyWatches, "the fourth watch under max_watches 3");
    fdb_future_cancel(w1.get());
    expect_error(w1.wait(), code::kOperationCancelled, "a cancelled watch");
    Future w5 = tr.watch("w5");
    expect(!w5.ready(), "a watch after cancelling another did not get the freed slot: " +
                            describe_error(fdb_future_get_error(w5.get())));
    tr.reset();
    for (Future* watch : {&w2, &w3, &w5}) {
        expect(watch->ready_within(milliseconds(2000)), "an uncommitted watch stayed pending after reset");
        expect_error(watch->wait(), code::kTransactionCancelled, "an uncommitted watch after reset");
    }

    Transaction blind(db.get());
    expect_ok(blind.set_option(option::kReadYourWritesDisable), "read_your_writes_disable");
    expect_error(blind.watch("w").wait(), code::kWatchesDisabled, "watch with read_your_writes_disable");

    write_pairs(db.get(), {{"k", "0"}});
    Transaction conflicted(db.get());
    conflicted.read("k");
    Future doomed = conflicted.watch("w");
    conflicted.set("k", "mine");
    write_pairs(db.get(), {{"k", "theirs"}});
    expect_error(conflicted.commit_and_wait(), code::kNotCommitted, "the watching transaction's commit");
    expect(doomed.ready_within(milliseconds(2000)), "a watch stayed pending after its commit failed");
    expect_error(doomed.wait(), code::kNotCommitted, "a watch whose commit failed");
}

void test_system_keys() {
    Database db = Database::open("found:memory");
    Transaction plain(db.get());
    expect_error(plain.get("\xff/coordinators"s).wait(), code::kKeyOutsideLegalRange,
                 "get(\\xff/coordinators) without read_system_keys");
    Transaction reader(db.get());
    expect_ok(reader.set_option(option::kReadSystemKeys), "read_system_keys");
    std::optional<std::string> coordinators = reader.read("\xff/coordinators"s);
    expect(coordinators && !coordinators->empty(), "\\xff/coordinators is " + printable(coordinators));
    Transaction metadata(db.get());
    expect_ok(metadata.get("\xff/metadataVersion"s).wait(), "get(\\xff/metadataVersion) without system options");
    metadata.atomic_op("\xff/metadataVersion"s, std::string(14, '\0'), mutation::kSetVersionstampedValue);
    Future metadata_stamp = metadata.get_versionstamp();
    expect_ok(metadata.commit_and_wait(),
              "SET_VERSIONSTAMPED_VALUE of \\xff/metadataVersion with 14 zero bytes, without system options");
    Transaction metadata_reader(db.get());
    expect_value(metadata_reader.read("\xff/metadataVersion"s), key_of(metadata_stamp, "get_versionstamp"),
                 "\\xff/metadataVersion read without options");

    Transaction writer(db.get());
    writer.set("\xff\x02"s, "x");
    expect_error(writer.commit_and_wait(), code::kKeyOutsideLegalRange, "set(\\xff\\x02) without access_system_keys");
    Transaction read_only_option(db.get());
    expect_ok(read_only_option.set_option(option::kReadSystemKeys), "read_system_keys");
    read_only_option.set("\xff\x02"s, "x");
    expect_error(read_only_option.commit_and_wait(), code::kKeyOutsideLegalRange,
                 "set(\\xff\\x02) with only read_system_keys");
    Transaction privileged(db.get());
    expect_ok(privileged.set_option(option::kAccessSystemKeys), "access_system_keys");
    privileged.set("\xff\x02"s, "x");
    expect_ok(privileged.commit_and_wait(), "set(\\xff\\x02) with access_system_keys");
    expect_value(read_committed(db.get(), "\xff\x02"s, option::kReadSystemKeys), "x"s, "\\xff\\x02 after the commit");
}

/* ====================================================================================
 * Cases: durability
 * ================================================================================== */

std::string numbered_key(int i) {
    char buffer[16];
    snprintf(buffer, sizeof(buffer), "p/%05d", i);
    return buffer;
}

std::string numbered_value(int i) { return "value-" + std::to_string(i); }

/* Commits keys [first, first + count) as `commits` transactions. */
void write_numbered(FDBDatabase* database, int first, int count, int commits) {
    const int per_commit = (count + commits - 1) / commits;
    for (int start = first; start < first + count; start += per_commit) {
        run_transaction(database, [&](Transaction& tr) {
            for (int i = start; i < std::min(start + per_commit, first + count); i++)
                tr.set(numbered_key(i), numbered_value(i));
        });
    }
}

/* Fails unless exactly keys [0, count) are stored, with their values. */
void expect_numbered(FDBDatabase* database, int count, const std::string& when) {
    const Rows rows = read_committed_range(database, "p/", "p0");
    Rows expected;
    for (int i = 0; i < count; i++) expected.emplace_back(numbered_key(i), numbered_value(i));
    if (rows != expected)
        fail(when + ": " + std::to_string(rows.size()) + " rows " + printable(rows) + ", expected " +
             std::to_string(count) + " rows " + printable(expected));
}

void test_persistence_across_reopen() {
    TemporaryDirectory dir;
    int64_t last_version;
    {
        Database db = Database::open(dir.uri());
        write_numbered(db.get(), 0, 120, 6);
        run_transaction(db.get(), [](Transaction& tr) {
            tr.clear(numbered_key(200));
            tr.atomic_op("p/counter", "\x07"s, mutation::kAdd);
        });
        Transaction tr(db.get());
        tr.set("z/last", "x");
        expect_ok(tr.commit_and_wait(), "the last commit before closing");
        last_version = tr.committed_version();
    }
    wait_until_released(dir);
    {
        Database db = Database::open(dir.path()); /* a plain directory path names the same store */
        expect_value(read_committed(db.get(), "p/counter"), "\x07"s, "an atomic op's result after reopen");
        run_transaction(db.get(), [](Transaction& tr) { tr.clear("p/counter"); });
        expect_numbered(db.get(), 120, "after the first reopen");
        Transaction tr(db.get());
        const int64_t version = int64_of(tr.get_read_version(), "get_read_version after reopen");
        expect(version > last_version, "the read version after reopen (" + std::to_string(version) +
                                           ") is not above the last committed version (" +
                                           std::to_string(last_version) + ")");
        write_numbered(db.get(), 120, 30, 3);
    }
    wait_until_released(dir);
    Database db = Database::open(dir.uri());
    expect_numbered(db.get(), 150, "after the second reopen");
    expect_value(read_committed(db.get(), "z/last"), "x"s, "the last commit before the first close");
}

void test_handles_on_one_directory_share_the_store() {
    TemporaryDirectory dir;
    Database first = Database::open(dir.uri());
    Database second = Database::open(dir.path());
    write_pairs(first.get(), {{"shared", "1"}});
    expect_value(read_committed(second.get(), "shared"), "1"s, "a write through one handle read through the other");
    first.close();
    write_pairs(second.get(), {{"shared", "2"}});
    expect_value(read_committed(second.get(), "shared"), "2"s, "the remaining handle after closing the other");
}

void test_directory_shared_with_another_process() {
    TemporaryDirectory dir;
    {
        Database db = Database::open(dir.uri());
        write_pairs(db.get(), {{"k", "v"}});
        const std::vector<std::string> lines = run_child({"--child-open", dir.path()});
        expect(!lines.empty(), "the child printed nothing");
        expect_ok(std::stoi(lines[0]), "another process opening a directory held open here");
        write_pairs(db.get(), {{"k", "still works"}});
    }
    wait_until_released(dir);
    const std::vector<std::string> lines = run_child({"--child-open", dir.path()});
    expect(!lines.empty(), "the child printed nothing");
    expect_ok(std::stoi(lines[0]), "another process opening the directory after it was closed here");

    ChildProcess holder({"--child-hold-lock", dir.path()});
    std::optional<std::string> line = holder.read_line(milliseconds(10000));
    expect(line && *line == "locked", "the lock-holding child did not report its lock");
    std::optional<Database> blocked;
    expect_error(Database::try_open(dir.uri(), &blocked), code::kDatabaseLocked,
                 "opening a directory whose lock a foreign process holds exclusively");
    holder.kill_now();
    holder.wait_for_exit(milliseconds(5000));
    std::optional<Database> reopened;
    expect_ok(Database::try_open(dir.uri(), &reopened), "opening after the lock holder died");
    expect_value(read_committed(reopened->get(), "k"), "still works"s, "data after the lock holder died");
}

void test_killed_process_keeps_acknowledged_commits() {
    TemporaryDirectory dir;
    int acknowledged = -1;
    {
        ChildProcess writer({"--child-writer", dir.path()});
        const auto deadline = Clock::now() + milliseconds(15000);
        while (acknowledged < 40 && Clock::now() < deadline) {
            std::optional<std::string> line = writer.read_line(milliseconds(2000));
            if (!line) break;
            if (line->compare(0, 6, "error ") == 0) fail("the writer child reported " + *line);
            acknowledged = std::stoi(*line);
        }
        writer.kill_now();
        /* Lines already in the pipe were acknowledged before the kill, too. */
        while (std::optional<std::string> line = writer.read_line(milliseconds(200)))
            if (line->compare(0, 6, "error ") != 0) acknowledged = std::stoi(*line);
        writer.wait_for_exit(milliseconds(5000));
    }
    expect(acknowledged >= 0, "the writer child acknowledged no commit");
    wait_until_released(dir);
    Database db = Database::open(dir.uri());
    const Rows rows = read_committed_range(db.get(), "c/", "c0");
    expect((int)rows.size() >= acknowledged + 1,
           std::to_string(acknowledged + 1) + " commits were acknowledged before the kill, only " +
               std::to_string(rows.size()) + " survived");
    for (size_t i = 0; i < rows.size(); i++) {
        char expected_key[32];
        snprintf(expected_key, sizeof(expected_key), "c/%06d", (int)i);
        expect(rows[i].first == expected_key,
               "the surviving commits are not a prefix of the commit order: row " + std::to_string(i) + " is " +
                   printable(rows[i].first));
    }
}

/* Writes a few commits to a fresh directory and closes it; returns the log's bytes. */
std::string make_log_with_commits(const TemporaryDirectory& dir, int commits) {
    Database db = Database::open(dir.uri());
    write_numbered(db.get(), 0, 10 * commits, commits);
    db.close();
    wait_until_released(dir);
    return read_file(dir.log());
}

void test_closing_the_last_handle_releases_the_directory() {
    TemporaryDirectory dir;
    const int cycles = 40;
    int still_locked = 0;
    for (int i = 0; i < cycles; i++) {
        Database db = Database::open(dir.uri());
        for (int commit = 0; commit < 3; commit++) write_pairs(db.get(), {{"cycle", std::to_string(i)}});
        db.close();
        if (!directory_released(dir)) still_locked++;
        wait_until_released(dir);
    }
    expect(still_locked == 0,
           "in " + std::to_string(still_locked) + " of " + std::to_string(cycles) +
               " open/commit/close cycles the directory was still locked right after the last "
               "fdb_database_destroy returned (another process would get 1038; a reopen here shares the "
               "old store instead of reading the log)");
}

void check_torn_tail(const std::string& garbage_name, const std::function<std::string(const std::string&)>& garbage) {
    TemporaryDirectory dir;
    const std::string log = make_log_with_commits(dir, 3);
    write_file(dir.log(), garbage(log), true);
    std::optional<Database> db;
    expect_ok(Database::try_open(dir.uri(), &db), "reopening after appending " + garbage_name + " to wal.log");
    expect_numbered(db->get(), 30, "after a torn tail of " + garbage_name);
    write_numbered(db->get(), 30, 10, 1);
    db.reset();
    wait_until_released(dir);
    expect_ok(Database::try_open(dir.uri(), &db), "reopening after writing past a torn tail of " + garbage_name);
    expect_numbered(db->get(), 40, "a commit made after recovering from a torn tail of " + garbage_name);
}

void test_wal_torn_tail_partial_record() {
    check_torn_tail("the first half of a copy of the last record", [](const std::string& log) {
        const size_t last = record_offsets(log).back();
        return log.substr(last, (log.size() - last) / 2);
    });
}

void test_wal_torn_tail_junk_bytes() {
    check_torn_tail("32 bytes of 0xdeadbeef", [](const std::string&) {
        std::string junk;
        for (int i = 0; i < 8; i++) junk += "\xde\xad\xbe\xef"s;
        return junk;
    });
    check_torn_tail("3 bytes", [](const std::string&) { return "\x01\x02\x03"s; });
    check_torn_tail("a whole record with a bad checksum", [](const std::string&) {
        return little_endian32(12) + little_endian32(0x12345678) + std::string(12, 'q');
    });
}

void test_wal_torn_tail_zero_filled() {
    check_torn_tail("64 zero bytes (a file extended but never written)",
                    [](const std::string&) { return std::string(64, '\0'); });
}

void test_wal_truncated_last_record_drops_only_it() {
    TemporaryDirectory dir;
    const std::string log = make_log_with_commits(dir, 4);
    write_file(dir.log(), log.substr(0, log.size() - 5));
    std::optional<Database> db;
    expect_ok(Database::try_open(dir.uri(), &db), "reopening a log whose last record lost 5 bytes");
    expect_numbered(db->get(), 30, "after losing the tail of the last of 4 commits");
}

/* Flips one byte of a log with several records, then expects reopening to fail with
 * 1522 and to leave the file as it was. */
void check_mid_log_corruption(const std::string& where, const std::function<size_t(const std::string&)>& pick) {
    TemporaryDirectory dir;
    const std::string log = make_log_with_commits(dir, 4);
    expect(record_offsets(log).size() >= 4, "the log has only " + std::to_string(record_offsets(log).size()) + " records");
    std::string corrupt = log;
    const size_t at = pick(log);
    corrupt[at] = (char)(corrupt[at] ^ 0x40);
    write_file(dir.log(), corrupt);
    std::optional<Database> db;
    const int rc = Database::try_open(dir.uri(), &db);
    if (rc == 0) {
        const size_t rows = read_committed_range(db->get(), "p/", "p0").size();
        db.reset();
        wait_until_released(dir);
        fail("reopening with a flipped byte " + where + " (offset " + std::to_string(at) +
             ") succeeded instead of failing with 1522: the store now serves " + std::to_string(rows) +
             " of 40 rows and wal.log went from " + std::to_string(log.size()) + " to " +
             std::to_string(read_file(dir.log()).size()) + " bytes");
    }
    expect_error(rc, code::kFileCorrupt, "reopening with a flipped byte " + where + " (offset " + std::to_string(at) + ")");
    expect(read_file(dir.log()) == corrupt, "a failed open changed wal.log (" + where + ")");
}

void test_wal_corruption_in_record_payload() {
    check_mid_log_corruption("in the first record's payload", [](const std::string& log) {
        return record_offsets(log)[0] + 8 + 2;
    });
    check_mid_log_corruption("in the third record's payload", [](const std::string& log) {
        return record_offsets(log)[2] + 8 + 13;
    });
}

void test_wal_corruption_in_first_record_checksum() {
    check_mid_log_corruption("in the first record's checksum", [](const std::string& log) {
        return record_offsets(log)[0] + 5;
    });
}

void test_wal_corruption_in_first_record_length() {
    check_mid_log_corruption("in the first record's length field", [](const std::string& log) {
        return record_offsets(log)[0] + 3;
    });
}

void test_wal_corruption_repaired_then_reopens() {
    TemporaryDirectory dir;
    const std::string log = make_log_with_commits(dir, 4);
    std::string corrupt = log;
    corrupt[record_offsets(log)[1] + 8 + 2] ^= 0x40;
    write_file(dir.log(), corrupt);
    std::optional<Database> db;
    expect_error(Database::try_open(dir.uri(), &db), code::kFileCorrupt, "reopening a corrupt log");
    write_file(dir.log(), log);
    int rc = Database::try_open(dir.uri(), &db);
    for (const auto deadline = Clock::now() + milliseconds(2000); rc == code::kDatabaseLocked && Clock::now() < deadline;
         rc = Database::try_open(dir.uri(), &db))
        std::this_thread::sleep_for(milliseconds(10));
    expect_ok(rc, "reopening in the same process once the log is restored (retried for 2 s)");
    expect_numbered(db->get(), 40, "after restoring the log");
}

/* ====================================================================================
 * Cases: concurrency
 * ================================================================================== */

/* `threads` threads each add 1 to one of `keys` counters `increments` times, with
 * read-modify-write transactions retried through on_error. */
void run_increments(FDBDatabase* database, int threads, int increments, int keys) {
    std::mutex mutex;
    std::vector<std::string> problems;
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; t++) {
        workers.emplace_back([&, t] {
            try {
                Transaction tr(database);
                for (int i = 0; i < increments; i++) {
                    const std::string key = "counter/" + std::to_string((t + i) % keys);
                    for (int attempt = 0;; attempt++) {
                        int error;
                        try {
                            std::optional<std::string> value = tr.read(key);
                            tr.set(key, std::to_string((value ? std::stoi(*value) : 0) + 1));
                            error = tr.commit_and_wait();
                        } catch (const FdbError& e) {
                            error = e.code;
                        }
                        if (error == 0) break;
                        const int retry = tr.on_error(error).wait();
                        if (retry || attempt > 10000)
                            throw CaseFailure{"on_error(" + describe_error(error) + ") → " + describe_error(retry)};
                    }
                    tr.reset();
                }
            } catch (const CaseFailure& failure) {
                std::lock_guard<std::mutex> lock(mutex);
                problems.push_back("thread " + std::to_string(t) + ": " + failure.why);
            }
        });
    }
    for (std::thread& worker : workers) worker.join();
    if (!problems.empty()) fail(problems.front());
}

int sum_of_counters(FDBDatabase* database, int keys) {
    int sum = 0;
    for (int k = 0; k < keys; k++) {
        std::optional<std::string> value = read_committed(database, "counter/" + std::to_string(k));
        sum += value ? std::stoi(*value) : 0;
    }
    return sum;
}

void test_concurrent_increments() {
    Database db = Database::open("found:memory");
    run_increments(db.get(), 4, 500, 3);
    const int sum = sum_of_counters(db.get(), 3);
    expect(sum == 2000, "4 threads x 500 increments summed to " + std::to_string(sum) + ", expected 2000");
}

void test_concurrent_increments_on_disk_survive_reopen() {
    TemporaryDirectory dir;
    {
        Database db = Database::open(dir.uri());
        run_increments(db.get(), 4, 60, 2);
    }
    wait_until_released(dir);
    Database db = Database::open(dir.uri());
    const int sum = sum_of_counters(db.get(), 2);
    expect(sum == 240, "4 threads x 60 durable increments summed to " + std::to_string(sum) + " after reopen");
}

/* Two child processes and this one increment the same counters through one data
 * directory: every read-modify-write must see the others' commits or conflict (1020),
 * so no increment is lost across processes. */
void test_concurrent_increments_from_three_processes() {
    TemporaryDirectory dir;
    Database db = Database::open(dir.uri());
    ChildProcess first({"--child-increments", dir.path()});
    ChildProcess second({"--child-increments", dir.path()});
    run_increments(db.get(), 2, 100, 2);
    for (ChildProcess* child : {&first, &second}) {
        std::optional<std::string> line = child->read_line(milliseconds(60000));
        expect(line && *line == "done", "a child's increments: " + (line ? *line : std::string("no answer")));
        child->wait_for_exit(milliseconds(10000));
    }
    const int sum = sum_of_counters(db.get(), 2);
    expect(sum == 600, "3 processes x 2 threads x 100 increments summed to " + std::to_string(sum) +
                           ", expected 600");
}

/* ====================================================================================
 * The last case: stopping the network
 * ================================================================================== */

void test_stop_network_makes_run_return() {
    expect_ok(fdb_stop_network(), "fdb_stop_network");
    const auto deadline = Clock::now() + milliseconds(5000);
    while (!g_network_returned && Clock::now() < deadline) std::this_thread::sleep_for(milliseconds(1));
    expect(g_network_returned, "fdb_run_network did not return within 5 s of fdb_stop_network");
    const std::thread::id network = g_network_thread.get_id();
    g_network_thread.join();
    expect_ok(g_network_result, "fdb_run_network's result");
    expect(g_completion_hook_runs == 1, "the completion hook ran " + std::to_string(g_completion_hook_runs) + " times");
    expect(g_completion_hook_thread == network, "the completion hook did not run on the network thread");
    expect_error(fdb_run_network(), code::kNetworkCannotBeRestarted, "a second fdb_run_network");
}

/* ====================================================================================
 * Child modes
 * ================================================================================== */

/* Prints `<step> <error>` for each lifecycle call made before and around API selection. */
int child_api_order() {
    FDBDatabase* database = nullptr;
    printf("setup_network_before_selection %d\n", fdb_setup_network());
    printf("select_runtime_above_header %d\n", fdb_select_api_version_impl(731, 730));
    printf("select_header_801 %d\n", fdb_select_api_version_impl(730, 801));
    printf("select_runtime_12 %d\n", fdb_select_api_version_impl(12, 730));
    printf("select_730 %d\n", fdb_select_api_version_impl(730, 730));
    printf("select_again %d\n", fdb_select_api_version_impl(730, 730));
    printf("run_network_before_setup %d\n", fdb_run_network());
    printf("stop_network_before_setup %d\n", fdb_stop_network());
    printf("create_database_before_setup %d\n", fdb_create_database("found:memory", &database));
    printf("setup_network %d\n", fdb_setup_network());
    printf("setup_network_again %d\n", fdb_setup_network());
    fflush(stdout);
    return 0;
}

/* Opens `directory` and prints the error; closes cleanly. */
int child_open(const char* directory) {
    start_network();
    FDBDatabase* database = nullptr;
    const int rc = fdb_create_database(directory, &database);
    printf("%d\n", rc);
    fflush(stdout);
    if (rc == 0) fdb_database_destroy(database);
    fdb_stop_network();
    g_network_thread.join();
    return 0;
}

/* Takes the directory's lock file the way any process could, then waits to be killed. */
int child_hold_lock(const char* directory) {
    const std::string path = std::string(directory) + "/LOCK";
    int fd = open(path.c_str(), O_RDWR | O_CREAT, 0644);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
        printf("error %s\n", strerror(errno));
        return 1;
    }
    printf("locked\n");
    fflush(stdout);
    for (;;) pause();
}

/* Commits keys c/000000, c/000001, … one per transaction, printing each index once its
 * commit is acknowledged, until killed. */
int child_writer(const char* directory) {
    start_network();
    FDBDatabase* database = nullptr;
    if (int rc = fdb_create_database(directory, &database)) {
        printf("error open %d\n", rc);
        return 1;
    }
    for (int i = 0; i < 1000000; i++) {
        char key[16];
        snprintf(key, sizeof(key), "c/%06d", i);
        FDBTransaction* tr = nullptr;
        fdb_database_create_transaction(database, &tr);
        fdb_transaction_set(tr, reinterpret_cast<const uint8_t*>(key), (int)strlen(key),
                            reinterpret_cast<const uint8_t*>("v"), 1);
        FDBFuture* commit = fdb_transaction_commit(tr);
        fdb_future_block_until_ready(commit);
        const int rc = fdb_future_get_error(commit);
        fdb_future_destroy(commit);
        fdb_transaction_destroy(tr);
        if (rc) {
            printf("error commit %d\n", rc);
            return 1;
        }
        printf("%d\n", i);
        fflush(stdout);
    }
    return 0;
}

/* 2 threads x 100 increments of counter/0..1 (see run_increments), then "done". */
int child_increments(const char* directory) {
    start_network();
    {
        Database db = Database::open(directory);
        run_increments(db.get(), 2, 100, 2);
    }
    printf("done\n");
    fflush(stdout);
    fdb_stop_network();
    g_network_thread.join();
    return 0;
}

int child_main(int argc, char** argv) {
    const std::string mode = argv[1];
    if (mode == "--child-api-order") return child_api_order();
    if (mode == "--child-open" && argc >= 3) return child_open(argv[2]);
    if (mode == "--child-hold-lock" && argc >= 3) return child_hold_lock(argv[2]);
    if (mode == "--child-writer" && argc >= 3) return child_writer(argv[2]);
    if (mode == "--child-increments" && argc >= 3) return child_increments(argv[2]);
    fprintf(stderr, "unknown child mode %s\n", mode.c_str());
    return 2;
}

/* ====================================================================================
 * Internal mechanisms checked against brute-force models
 * ================================================================================== */

/* A random key of `length` bytes drawn from `alphabet`. */
std::string random_key(std::mt19937& random, std::string_view alphabet, int length) {
    std::string k;
    for (int i = 0; i < length; i++) k.push_back(alphabet[random() % alphabet.size()]);
    return k;
}

/* The resolver's model: every range written, with its version. */
struct Written {
    std::string begin, end;
    int64_t version;
};

int64_t newest_write(const std::vector<Written>& writes, const std::string& from, const std::string& to) {
    int64_t newest = 0;
    for (const Written& w : writes)
        if (w.begin < to && from < w.end) newest = std::max(newest, w.version);
    return newest;
}

/* The resolver's interval map answers exactly "the newest version that wrote anything in
 * [begin, end)" — checked against the list of every write, over random histories. */
void test_conflict_map_matches_a_model() {
    std::mt19937 random(11);
    auto key = [&](int length) { return random_key(random, std::string_view("ab\0", 3), length); };
    for (int history = 0; history < 1000; history++) {
        found::ConflictMap map;
        std::vector<Written> writes;
        int64_t version = 0;
        for (int step = 0; step < 60; step++) {
            std::string begin = key(random() % 4), end = key(random() % 4);
            if (random() % 2) end = begin + std::string(1, '\0');
            if (begin < end) {
                map.record_write(begin, end, ++version);
                writes.push_back({begin, end, version});
            }
            std::string from = key(random() % 4), to = key(random() % 4);
            if (random() % 3 == 0) to = from + std::string(1, '\0');
            if (!(from < to)) continue;
            const int64_t expected = newest_write(writes, from, to);
            const int64_t observed = map.last_write(from, to);
            if (observed != expected)
                fail("history " + std::to_string(history) + " step " + std::to_string(step) + ": [" +
                     printable(from) + ", " + printable(to) + ") gave " + std::to_string(observed) +
                     ", the model " + std::to_string(expected));
        }
        /* Forgetting old writes never loses a newer one. */
        map.forget_before(version / 2);
        for (const Written& w : writes)
            if (w.version >= version / 2)
                expect(map.last_write(w.begin, w.end) >= w.version, "forget_before dropped a recent write");
    }
}

/* The resolver with commits of 0 to 45 ranges kept as runs (unsorted, overlapping, some
 * empty, some single keys kept as points, repeated or not), single writes recorded in the
 * map directly, more runs than kMaxRuns (so the oldest are folded into the map under
 * newer writes) and forgetting of runs alone or of everything in between: last_write
 * still gives the newest version that wrote anything in a range, and written_after (and
 * point_written_after for a single key) agrees with it at every version. */
void test_conflict_runs_match_a_model() {
    std::mt19937 random(17);
    auto key = [&](int length) { return random_key(random, std::string_view("abc\0", 4), length); };
    for (int history = 0; history < 60; history++) {
        found::ConflictMap map;
        std::vector<Written> writes;
        int64_t version = 0, floor = 0;
        for (int step = 0; step < 60; step++) {
            const size_t count = random() % 3 == 0 ? random() % 46 : random() % 6;
            std::vector<found::KeyRange> ranges;
            found::PointKeys points;
            version++;
            for (size_t i = 0; i < count; i++) {
                std::string begin = key(1 + random() % 4), end = key(random() % 5);
                if (random() % 2) end = begin + std::string(1, '\0');
                if (begin < end) writes.push_back({begin, end, version});
                if (end.size() == begin.size() + 1 && end.back() == '\0' && random() % 2 &&
                    end.compare(0, begin.size(), begin) == 0)
                    points.add(begin);
                else
                    ranges.push_back({begin, end});
            }
            if (random() % 8 == 0 && ranges.size() == 1 && points.empty())
                map.record_write(ranges[0].begin, ranges[0].end, version);
            else map.record_writes(std::move(ranges), points, version);
            if (random() % 10 == 0) { /* lagging far enough behind for runs to be folded */
                floor = std::max(floor, version - 40 - (int64_t)(random() % 10));
                if (random() % 2) map.forget_before(floor);
                else map.forget_runs_before(floor);
            }
            for (int probe = 0; probe < 30; probe++) {
                std::string from = key(random() % 4), to = key(random() % 5);
                if (random() % 3 == 0) to = from + std::string(1, '\0');
                if (!(from < to)) continue;
                const int64_t expected = newest_write(writes, from, to);
                const int64_t observed = map.last_write(from, to);
                /* forgotten writes may read as 0, never as anything else */
                const bool right = observed == expected || (expected < floor && observed < floor);
                /* and above the floor, "written after v" holds exactly when the newest is */
                const int64_t since = floor + (int64_t)(random() % (uint64_t)(version - floor + 2)) - 1;
                if (since >= floor && map.written_after(from, to, since) != (expected > since))
                    fail("history " + std::to_string(history) + " step " + std::to_string(step) +
                         ": written_after([" + printable(from) + ", " + printable(to) + "), " +
                         std::to_string(since) + ") disagrees with the model's newest, " +
                         std::to_string(expected));
                const std::string point_end = from + std::string(1, '\0');
                const int64_t point_newest = newest_write(writes, from, point_end);
                if (since >= floor && map.point_written_after(from, since) != (point_newest > since))
                    fail("history " + std::to_string(history) + " step " + std::to_string(step) +
                         ": point_written_after(" + printable(from) + ", " + std::to_string(since) +
                         ") disagrees with the model's newest, " + std::to_string(point_newest));
                if (!right)
                    fail("history " + std::to_string(history) + " step " + std::to_string(step) + ": [" +
                         printable(from) + ", " + printable(to) + ") gave " + std::to_string(observed) +
                         ", the model " + std::to_string(expected) + " (floor " + std::to_string(floor) +
                         ")");
            }
        }
    }
}

/* A log record keeps a commit's write conflicts for the processes that follow the log:
 * ranges, and single keys either named by the index of a mutation with that key (within
 * the encoder's window) or written out. Decoded, the ranges and points together are the
 * single keys and ranges that went in, whichever way each was written. */
void test_log_record_keeps_write_ranges_and_points() {
    std::mt19937 random(23);
    for (int round = 0; round < 300; round++) {
        found::LoggedCommit commit;
        commit.version = 1000 + round;
        std::multiset<std::pair<std::string, std::string>> expected;
        const int mutations = random() % 12;
        for (int i = 0; i < mutations; i++) {
            std::string key = "m" + std::to_string(random() % 20);
            commit.mutations.push_back({random() % 5 == 0 ? found::LoggedMutation::kClear
                                                          : found::LoggedMutation::kSet,
                                        key, "v" + std::to_string(i)});
            /* most mutations' keys are points; some are not (next_write_no_conflict) */
            if (random() % 4 != 0) commit.write_points.add(key);
        }
        for (int i = 0, extra = random() % 3; i < extra; i++) { /* points no mutation names */
            std::string key = "p" + std::to_string(random() % 50);
            commit.write_points.add(key);
        }
        for (int i = 0, ranges = random() % 3; i < ranges; i++) {
            std::string begin = "r" + std::to_string(random() % 10);
            commit.write_ranges.push_back({begin, begin + "~"});
        }
        for (const found::KeyRange& r : commit.write_ranges) expected.insert({r.begin, r.end});
        for (size_t i = 0; i < commit.write_points.size(); i++) {
            const std::string key(commit.write_points[i]);
            expected.insert({key, key + std::string(1, '\0')});
        }
        std::string record;
        found::Wal::encode(commit, &record);
        found::LoggedCommit decoded;
        expect(found::Wal::decode(record.data() + 8, record.size() - 8, &decoded),
               "round " + std::to_string(round) + ": the record decodes");
        std::multiset<std::pair<std::string, std::string>> observed;
        for (const found::KeyRange& r : decoded.write_ranges) observed.insert({r.begin, r.end});
        for (size_t i = 0; i < decoded.write_points.size(); i++) {
            const std::string key(decoded.write_points[i]);
            observed.insert({key, key + std::string(1, '\0')});
        }
        expect(observed == expected, "round " + std::to_string(round) + ": " +
                                         std::to_string(observed.size()) + " write ranges decoded for " +
                                         std::to_string(expected.size()));
        expect(decoded.version == commit.version && decoded.mutations.size() == commit.mutations.size(),
               "round " + std::to_string(round) + ": version and mutations decoded");
    }
}

/* The store's B+tree holds what a std::set holds, in order, through random inserts (in
 * order and out of it), in-order appends and erases, across enough keys for inner nodes
 * to split and for emptied leaves and inner nodes to be removed; keys share prefixes of
 * several lengths (so nodes' prefixes and heads shift) or are short and binary. */
void test_entry_tree_matches_a_model() {
    struct Entry {
        std::string key;
    };
    std::mt19937 random(23);
    for (int round = 0; round < 6; round++) {
        found::EntryTree<Entry> tree;
        std::map<std::string, std::unique_ptr<Entry>> model;
        /* no shared prefix, one kept inline, one longer than Heads::kInline */
        const std::string common = std::string(round % 3 == 0 ? 0 : round % 3 == 1 ? 20 : 45, 'p');
        auto key = [&]() {
            std::string k = common;
            const int length = (int)(random() % 6);
            for (int i = 0; i < length; i++) k.push_back("\x00\x01" "ab\xff"[random() % 5]);
            k += std::to_string(random() % 9000);
            return k;
        };
        auto check = [&](const std::string& where) {
            expect(tree.size() == model.size(), where + ": size");
            auto it = tree.begin();
            for (const auto& [k, owned] : model) {
                expect(it != tree.end() && &*it == owned.get(), where + ": forward walk at " + printable(k));
                ++it;
            }
            expect(it == tree.end(), where + ": forward walk is longer than the model");
            it = tree.end();
            for (auto m = model.rbegin(); m != model.rend(); ++m) {
                --it;
                expect(&*it == m->second.get(), where + ": backward walk at " + printable(m->first));
            }
            for (int probe = 0; probe < 200; probe++) {
                const std::string k = key();
                for (bool inclusive : {true, false}) {
                    auto expected = inclusive ? model.lower_bound(k) : model.upper_bound(k);
                    auto got = tree.seek(k, inclusive);
                    if (expected == model.end()) expect(got == tree.end(), where + ": seek past the end");
                    else expect(got != tree.end() && &*got == expected->second.get(), where + ": seek " + printable(k));
                }
            }
        };
        /* in-order appends first, as a snapshot load does */
        for (int i = 0; i < 3000; i++) {
            std::string k = common + std::string(1, '\x01') + std::to_string(100000 + i);
            auto owned = std::make_unique<Entry>(Entry{k});
            tree.push_back(owned.get());
            model[k] = std::move(owned);
        }
        check("after appends");
        for (int step = 0; step < 40000; step++) {
            const std::string k = key();
            auto at = model.find(k);
            if (at == model.end() && random() % 3) {
                auto owned = std::make_unique<Entry>(Entry{k});
                tree.insert(owned.get());
                model[k] = std::move(owned);
            } else if (at != model.end()) {
                expect(tree.erase(k) == at->second.get(), "erase returned another entry");
                model.erase(at);
            } else {
                expect(tree.erase(k) == nullptr, "erase of an absent key found something");
            }
            if (step % 10000 == 9999) check("step " + std::to_string(step));
        }
        /* empty it completely, then use it again */
        std::vector<std::string> order;
        for (const auto& entry : model) order.push_back(entry.first);
        std::shuffle(order.begin(), order.end(), random);
        for (const std::string& k : order) {
            expect(tree.erase(k) == model[k].get(), "erase while emptying");
            model.erase(k);
        }
        check("emptied");
        for (int i = 0; i < 500; i++) {
            const std::string k = key();
            if (model.count(k)) continue;
            auto owned = std::make_unique<Entry>(Entry{k});
            tree.insert(owned.get());
            model[k] = std::move(owned);
        }
        check("refilled");
    }
}

/* The store's open-addressing index answers as a std::map does, through random inserts
 * and erases over small key universes: long probe runs, runs wrapping past the table's
 * end, backward shifts on erase and growths. */
void test_key_index_matches_a_model() {
    struct KeyOf {
        std::string_view operator()(const std::string* key) const { return *key; }
    };
    std::mt19937 random(5);
    for (int round = 0; round < 40; round++) {
        found::KeyIndex<const std::string*, KeyOf> index;
        std::map<std::string, std::unique_ptr<std::string>> model;
        const int universe = 8 + (int)(random() % 300);
        for (int step = 0; step < 4000; step++) {
            const std::string key = "k" + std::to_string(random() % universe);
            const bool present = model.count(key) > 0;
            const std::string* const* hit = index.find(key);
            expect((hit != nullptr) == present, "find disagrees with the model on " + key);
            if (hit) expect(**hit == key, "find returned another key than " + key);
            if (random() % 3 == 0) {
                expect(index.erase(key) == present, "erase disagrees with the model on " + key);
                model.erase(key);
            } else if (!present) {
                auto owned = std::make_unique<std::string>(key);
                index.insert(index.hash_of(key), owned.get());
                model[key] = std::move(owned);
            }
            expect(index.size() == model.size(), "size disagrees with the model");
        }
        for (const auto& [key, owned] : model) {
            const std::string* const* hit = index.find(key);
            expect(hit && *hit == owned.get(), "a present key is lost: " + key);
        }
    }
}

/* found::Store, the MVCC map every read goes through, answers as a brute-force model
 * does: the model keeps every write of every key, and a read at version v sees a key's
 * newest write at or below v. Random histories of commits (1-5 sets, clears and range
 * clears at one new version) over every key of up to 3 bytes from {'\0', 'a', '\xff'},
 * so that "", neighbours, prefixes and empty ranges are common, while the MVCC floor
 * `oldest` advances and lets the store drop versions. After each commit, reads at a
 * random version in [oldest, current], at current and at INT64_MAX check get, the
 * present-key searches both ways, whole walks forwards and backwards, range_bytes and the
 * live counters. A third of the histories start from load_sorted, as a snapshot load
 * does, and now and then the store is moved, as a reload does. Every other history
 * starts under defer_order, as a log replay does: until it settles (at a random step),
 * get and the live counters are checked after each commit, then everything. */
void test_store_matches_a_model() {
    using found::Store;
    using found::Version;
    std::mt19937 random(23);
    const std::string kBytes("\0a\xff", 3);
    std::vector<std::string> universe{""};
    for (size_t i = 0; i < universe.size(); i++)
        if (universe[i].size() < 3)
            for (char byte : kBytes) universe.push_back(universe[i] + byte);
    std::sort(universe.begin(), universe.end());
    const std::string largest = universe.back(); /* "\xff\xff\xff" */
    /* Probes and range bounds may also fall between, or beyond, the written keys. */
    auto probe_key = [&] {
        std::string key;
        for (int length = (int)(random() % 5); length > 0; length--) key.push_back(kBytes[random() % 3]);
        return key;
    };
    auto random_value = [&] { /* "" included: present-and-empty is not absent */
        std::string value;
        for (int length = (int)(random() % 4); length > 0; length--) value.push_back("xyz"[random() % 3]);
        return value;
    };

    struct Write {
        Version version;
        bool present;
        std::string value;
    };
    /* The model: every write of universe[k], in the order applied, is in writes[k]. */
    std::vector<std::vector<Write>> writes(universe.size());
    auto model_value = [&](size_t k, Version v) -> const std::string* {
        for (auto w = writes[k].rbegin(); w != writes[k].rend(); ++w)
            if (w->version <= v) return w->present ? &w->value : nullptr;
        return nullptr;
    };
    using Row = std::pair<std::string, std::string>;
    using Rows = std::vector<Row>;
    auto model_rows = [&](Version v) { /* the keys present at v, in order, and their values */
        Rows rows;
        for (size_t k = 0; k < universe.size(); k++)
            if (const std::string* value = model_value(k, v)) rows.emplace_back(universe[k], *value);
        return rows;
    };

    auto shown = [](const std::string* value) { return value ? printable(*value) : std::string("absent"); };
    auto shown_rows = [](const Rows& rows) {
        std::string out = "{";
        for (const auto& [key, value] : rows) out += " " + printable(key) + "=" + printable(value);
        return out + " }";
    };
    auto same_value = [](const std::string* a, const std::string* b) {
        return a && b ? *a == *b : a == b;
    };

    /* The entry `it` returned by `search` (key, inclusive) at v is the model's row
     * `expected` (nullptr: end()), with the same value at v. */
    auto check_found = [&](const Store& store, Store::Iterator it, const Row* expected, Version v,
                           const char* search, const std::string& key, bool inclusive, const std::string& where) {
        const std::string* value = it != store.end() ? Store::value_at(it, v) : nullptr;
        const bool agrees = expected ? it != store.end() && it->key == expected->first &&
                                           same_value(value, &expected->second)
                                     : it == store.end();
        if (!agrees)
            fail(where + ": " + search + "(" + printable(key) + (inclusive ? ", inclusive)" : ", exclusive)") +
                 " gave " + (it != store.end() ? printable(it->key) + "=" + shown(value) : "end()") +
                 ", the model " +
                 (expected ? printable(expected->first) + "=" + printable(expected->second) : "end()"));
    };

    auto check_reads_at = [&](const Store& store, Version v, const std::string& where) {
        const Rows rows = model_rows(v);
        for (size_t k = 0; k < universe.size(); k++) {
            const std::string* observed = store.get(universe[k], v);
            const std::string* expected = model_value(k, v);
            if (!same_value(observed, expected))
                fail(where + ": get(" + printable(universe[k]) + ") gave " + shown(observed) + ", the model " +
                     shown(expected));
        }
        for (int probe = 0; probe < 4; probe++) {
            const std::string key = probe_key();
            for (bool inclusive : {true, false}) {
                const Row *next = nullptr, *prev = nullptr;
                for (const auto& row : rows) {
                    if (!next && (inclusive ? row.first >= key : row.first > key)) next = &row;
                    if (inclusive ? row.first <= key : row.first < key) prev = &row;
                }
                check_found(store, store.next_present(key, inclusive, v), next, v, "next_present", key, inclusive,
                            where);
                check_found(store, store.prev_present(key, inclusive, v), prev, v, "prev_present", key, inclusive,
                            where);
            }
        }

        Rows by_next, by_increment, by_decrement;
        for (Rows* walk : {&by_next, &by_increment, &by_decrement}) walk->reserve(rows.size());
        for (auto it = store.next_present("", true, v); it != store.end();
             it = store.next_present(it->key, false, v)) {
            const std::string* value = Store::value_at(it, v);
            if (!value) fail(where + ": next_present stopped at " + printable(it->key) + ", absent there");
            by_next.emplace_back(it->key, *value);
        }
        for (auto it = store.begin(); it != store.end(); ++it)
            if (const std::string* value = Store::value_at(it, v)) by_increment.emplace_back(it->key, *value);
        if (auto it = store.prev_present(largest, true, v); it != store.end()) {
            for (;; --it) {
                if (const std::string* value = Store::value_at(it, v)) by_decrement.emplace_back(it->key, *value);
                if (it == store.begin()) break;
            }
        }
        std::reverse(by_decrement.begin(), by_decrement.end());
        if (by_next != rows)
            fail(where + ": the next_present walk gave " + shown_rows(by_next) + ", the model " + shown_rows(rows));
        if (by_increment != rows)
            fail(where + ": the ++it walk gave " + shown_rows(by_increment) + ", the model " + shown_rows(rows));
        if (by_decrement != rows)
            fail(where + ": the --it walk gave (reversed) " + shown_rows(by_decrement) + ", the model " +
                 shown_rows(rows));

        for (int range = 0; range < 3; range++) {
            const std::string begin = probe_key();
            const std::string end = random() % 3 ? probe_key() : begin + '\0';
            int64_t expected = 0;
            for (const auto& [key, value] : rows)
                if (begin <= key && key < end) expected += (int64_t)(key.size() + value.size());
            const int64_t observed = store.range_bytes(begin, end, v);
            if (observed != expected)
                fail(where + ": range_bytes(" + printable(begin) + ", " + printable(end) + ") gave " +
                     std::to_string(observed) + ", the model " + std::to_string(expected));
        }
    };

    for (int history = 0; history < 200; history++) {
        Store store;
        for (std::vector<Write>& list : writes) list.clear();
        Version current = 0, oldest = 0;
        if (history % 3 == 0) {
            for (size_t k = 0; k < universe.size(); k++) {
                if (random() % 2) continue;
                const std::string value = random_value();
                store.load_sorted(std::string(universe[k]), std::string(value));
                writes[k].push_back({1, true, value});
            }
            current = 1;
        }
        /* How eagerly this history raises the floor: never, rarely, often, or always to the
         * version being committed (the tightest window; a reload applies its log so). */
        const int eagerness = history % 4;
        const bool replay = history % 2 == 1;
        const int settle_at = replay ? (int)(random() % 300) : -1;
        if (replay) store.defer_order();
        for (int step = 0; step < 300; step++) {
            const std::string where = "history " + std::to_string(history) + " step " + std::to_string(step);
            const Version version = current + 1 + (Version)(random() % 3);
            if (eagerness == 3 || (eagerness == 2 && random() % 2) || (eagerness == 1 && random() % 8 == 0))
                oldest = eagerness == 3 ? version : oldest + (Version)(random() % (uint64_t)(version - oldest + 1));
            for (int mutations = 1 + (int)(random() % 5); mutations > 0; mutations--) {
                const int kind = (int)(random() % 8);
                if (kind < 4) {
                    const size_t k = random() % universe.size();
                    const std::string value = random_value();
                    store.put(universe[k], &value, version, oldest);
                    writes[k].push_back({version, true, value});
                } else if (kind < 6) {
                    const size_t k = random() % universe.size();
                    store.put(universe[k], nullptr, version, oldest);
                    writes[k].push_back({version, false, ""});
                } else {
                    const std::string begin = probe_key();
                    const std::string end = random() % 4 ? probe_key() : begin + '\0';
                    store.clear_range(begin, end, version, oldest);
                    for (size_t k = 0; k < universe.size(); k++)
                        if (begin <= universe[k] && universe[k] < end) writes[k].push_back({version, false, ""});
                }
            }
            current = version;
            if (random() % 50 == 0) {
                Store moved = std::move(store);
                store = std::move(moved);
            }

            const Rows newest = model_rows(current);
            size_t bytes = 0;
            for (const auto& [key, value] : newest) bytes += key.size() + value.size();
            if (store.live_keys() != newest.size() || store.live_bytes() != bytes)
                fail(where + ": live_keys/live_bytes " + std::to_string(store.live_keys()) + "/" +
                     std::to_string(store.live_bytes()) + ", the model " + std::to_string(newest.size()) + "/" +
                     std::to_string(bytes));
            const Version v = oldest + (Version)(random() % (uint64_t)(current - oldest + 1));
            if (step < settle_at) { /* deferred: the tree is not to be walked yet */
                for (size_t k = 0; k < universe.size(); k++)
                    if (!same_value(store.get(universe[k], v), model_value(k, v)))
                        fail(where + " (order deferred): get(" + printable(universe[k]) + ") at " +
                             std::to_string(v) + " gave " + shown(store.get(universe[k], v)) + ", the model " +
                             shown(model_value(k, v)));
                continue;
            }
            if (step == settle_at) store.settle_order(oldest);
            check_reads_at(store, v, where + " at " + std::to_string(v) + " (oldest " + std::to_string(oldest) + ")");
            check_reads_at(store, current, where + " at current " + std::to_string(current));
            check_reads_at(store, INT64_MAX, where + " at INT64_MAX");
        }
    }
}

/* A log replay's keys, put in order all at once by settle_order, come out as a sorted
 * set of the same keys does: many keys under a shared prefix (the sort ranks them by the
 * 8 bytes after it), a few system keys beside them, keys that are prefixes of others or
 * differ only by trailing zero bytes (which tie in a rank), and long shared runs that
 * take the ranking several levels deep. Replays start from an empty store, from a big
 * snapshot (merged), and from a big one with few new keys (searched in); a replay's
 * clears are dropped at the settle if still cleared, kept if set again. */
void test_store_settles_a_replay_in_order() {
    using found::Store;
    std::mt19937 random(71);
    /* Mostly keys under "table/row/", so that the prefix the sort samples is that; the
     * rare others (below and above it) tie at rank 0 and at the largest rank. */
    auto random_key = [&] {
        const unsigned kind = (unsigned)(random() % 1000);
        const std::string tail = "/" + std::to_string(random() % 100000) + "/suffix";
        if (kind < 2) return "\xff/system/" + std::to_string(random() % 50) + tail;
        if (kind < 4) return "table/q/" + std::to_string(random() % 1000) + tail;
        if (kind < 6) return "table/" + std::string(random() % 12, '\0') + std::to_string(random() % 10) + tail;
        if (kind < 30) return "table/row/" + std::string(20, 'x') + std::to_string(random() % 3000);
        char digits[40];
        snprintf(digits, sizeof digits, "table/row/%016u", (unsigned)(random() % 200000));
        std::string key = digits;
        if (random() % 7 == 0) key.push_back('\0');
        return key;
    };
    for (int round = 0; round < 9; round++) {
        const std::string where = "round " + std::to_string(round);
        Store store;
        std::map<std::string, std::string> model;
        std::set<std::string> base_keys;
        const size_t base = round % 3 == 0 ? 0 : 20000;
        while (base_keys.size() < base) base_keys.insert(random_key());
        for (const std::string& key : base_keys) {
            store.load_sorted(std::string(key), "base");
            model[key] = "base";
        }
        store.defer_order();
        const int writes = round % 3 == 2 ? 300 : 30000;
        found::Version version = 1;
        for (int i = 0; i < writes; i++) {
            std::string key = random_key();
            version++;
            if (random() % 10 == 0) {
                model.erase(key);
                store.put_taking(std::move(key), nullptr, version, version);
            } else {
                std::string value = std::to_string(i);
                model[key] = value;
                store.put_taking(std::move(key), &value, version, version);
            }
        }
        store.settle_order(version);
        std::vector<std::pair<std::string, std::string>> walked;
        size_t entries = 0;
        for (auto it = store.begin(); it != store.end(); ++it, ++entries)
            if (const std::string* value = Store::value_at(it, version)) walked.emplace_back(it->key, *value);
        const std::vector<std::pair<std::string, std::string>> expected(model.begin(), model.end());
        if (walked != expected) {
            size_t i = 0;
            while (i < walked.size() && i < expected.size() && walked[i] == expected[i]) i++;
            fail(where + ": the walk after settle_order differs from the model at row " + std::to_string(i) +
                 ": " + (i < walked.size() ? printable(walked[i].first) : "end") + " against " +
                 (i < expected.size() ? printable(expected[i].first) : "end"));
        }
        /* cleared keys are gone from the tree too, as a plain put would have pruned them */
        expect(entries == model.size(), where + ": " + std::to_string(entries) + " entries in the tree for " +
                                            std::to_string(model.size()) + " present keys");
        expect(store.live_keys() == model.size(), where + ": live_keys after settle_order");
        for (int probe = 0; probe < 200; probe++) {
            const std::string key = random_key();
            auto it = store.next_present(key, true, version);
            auto expected_it = model.lower_bound(key);
            const bool agrees = expected_it == model.end() ? it == store.end()
                                                           : it != store.end() && it->key == expected_it->first;
            expect(agrees, where + ": next_present(" + printable(key) + ") after settle_order");
        }
    }
}

/* ====================================================================================
 * The runner
 * ================================================================================== */

struct TestCase {
    const char* name;
    void (*run)();
};

const TestCase kCases[] = {
    {"conflict_map_matches_a_model", test_conflict_map_matches_a_model},
    {"log_record_keeps_write_ranges_and_points", test_log_record_keeps_write_ranges_and_points},
    {"key_index_matches_a_model", test_key_index_matches_a_model},
    {"conflict_runs_match_a_model", test_conflict_runs_match_a_model},
    {"entry_tree_matches_a_model", test_entry_tree_matches_a_model},
    {"store_matches_a_model", test_store_matches_a_model},
    {"store_settles_a_replay_in_order", test_store_settles_a_replay_in_order},
    {"future_getters_and_release_memory", test_future_getters_and_release_memory},
    {"future_callbacks", test_future_callbacks},
    {"set_get_clear_and_clear_range", test_set_get_clear_and_clear_range},
    {"read_your_writes", test_read_your_writes},
    {"snapshot_reads_do_not_conflict", test_snapshot_reads_do_not_conflict},
    {"conflicting_pair_one_commits_then_retry", test_conflicting_pair_one_commits_then_retry},
    {"add_conflict_range", test_add_conflict_range},
    {"range_read_conflicts_cover_what_was_read", test_range_read_conflicts_cover_what_was_read},
    {"key_selectors", test_key_selectors},
    {"get_range_limits_and_reverse", test_get_range_limits_and_reverse},
    {"get_range_exact_mode", test_get_range_exact_mode},
    {"range_iteration_is_independent_of_batching", test_range_iteration_is_independent_of_batching},
    {"atomic_ops_follow_the_spec_examples", test_atomic_ops_follow_the_spec_examples},
    {"versionstamps", test_versionstamps},
    {"read_versions_too_old_and_future", test_read_versions_too_old_and_future},
    {"size_limits", test_size_limits},
    {"transaction_timeout", test_transaction_timeout},
    {"cancel", test_cancel},
    {"on_error_rules", test_on_error_rules},
    {"commit_does_not_reset", test_commit_does_not_reset},
    {"deferred_errors", test_deferred_errors},
    {"error_predicates_and_texts", test_error_predicates_and_texts},
    {"api_version_and_setup_in_process", test_api_version_and_setup_in_process},
    {"api_version_and_setup_before_selection", test_api_version_and_setup_before_selection},
    {"watch_fires_on_another_transactions_change", test_watch_fires_on_another_transactions_change},
    {"watch_limits_and_errors", test_watch_limits_and_errors},
    {"system_keys", test_system_keys},
    {"persistence_across_reopen", test_persistence_across_reopen},
    {"handles_on_one_directory_share_the_store", test_handles_on_one_directory_share_the_store},
    {"closing_the_last_handle_releases_the_directory", test_closing_the_last_handle_releases_the_directory},
    {"directory_shared_with_another_process", test_directory_shared_with_another_process},
    {"killed_process_keeps_acknowledged_commits", test_killed_process_keeps_acknowledged_commits},
    {"wal_torn_tail_partial_record", test_wal_torn_tail_partial_record},
    {"wal_torn_tail_junk_bytes", test_wal_torn_tail_junk_bytes},
    {"wal_torn_tail_zero_filled", test_wal_torn_tail_zero_filled},
    {"wal_truncated_last_record_drops_only_it", test_wal_truncated_last_record_drops_only_it},
    {"wal_corruption_in_record_payload", test_wal_corruption_in_record_payload},
    {"wal_corruption_in_first_record_checksum", test_wal_corruption_in_first_record_checksum},
    {"wal_corruption_in_first_record_length", test_wal_corruption_in_first_record_length},
    {"wal_corruption_repaired_then_reopens", test_wal_corruption_repaired_then_reopens},
    {"concurrent_increments", test_concurrent_increments},
    {"concurrent_increments_on_disk_survive_reopen", test_concurrent_increments_on_disk_survive_reopen},
    {"concurrent_increments_from_three_processes", test_concurrent_increments_from_three_processes},
};

/* Always last: after it the network is gone. */
const TestCase kFinalCase = {"stop_network_makes_run_return", test_stop_network_makes_run_return};

/* Turns a hung case into a FAIL line and a summary, then exits. */
class Watchdog {
public:
    explicit Watchdog(int seconds_per_case) : seconds_(seconds_per_case), thread_([this] { watch(); }) {}
    ~Watchdog() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            finished_ = true;
        }
        wake_.notify_all();
        thread_.join();
    }
    void arm(const std::string& name, int passed, int failed) {
        std::lock_guard<std::mutex> lock(mutex_);
        name_ = name;
        passed_ = passed;
        failed_ = failed;
        deadline_ = Clock::now() + std::chrono::seconds(seconds_);
        wake_.notify_all();
    }

private:
    void watch() {
        std::unique_lock<std::mutex> lock(mutex_);
        while (!finished_) {
            if (name_.empty()) {
                wake_.wait(lock);
                continue;
            }
            if (wake_.wait_until(lock, deadline_) == std::cv_status::timeout && Clock::now() >= deadline_ &&
                !finished_) {
                printf("FAIL %s: still running after %d s (hung?); stopping the run\n", name_.c_str(), seconds_);
                printf("%d passed, %d failed\n", passed_, failed_ + 1);
                fflush(stdout);
                _exit(1);
            }
        }
    }

    const int seconds_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::string name_;
    int passed_ = 0, failed_ = 0;
    Clock::time_point deadline_;
    bool finished_ = false;
    std::thread thread_;
};

bool selected(const char* name, const std::vector<std::string>& filters) {
    if (filters.empty()) return true;
    return std::any_of(filters.begin(), filters.end(),
                       [&](const std::string& f) { return std::string(name).find(f) != std::string::npos; });
}

int main(int argc, char** argv) {
    if (argc >= 2 && strncmp(argv[1], "--child-", 8) == 0) return child_main(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "--list") == 0) {
        for (const TestCase& c : kCases) printf("%s\n", c.name);
        printf("%s\n", kFinalCase.name);
        return 0;
    }
    setvbuf(stdout, nullptr, _IOLBF, 0);
    char executable[4096];
    ssize_t length = readlink("/proc/self/exe", executable, sizeof(executable) - 1);
    if (length <= 0) {
        fprintf(stderr, "cannot resolve /proc/self/exe\n");
        return 2;
    }
    g_executable.assign(executable, (size_t)length);
    const std::vector<std::string> filters(argv + 1, argv + argc);

    start_network();
    if (int rc = fdb_add_network_thread_completion_hook(completion_hook, nullptr)) {
        fprintf(stderr, "fdb_add_network_thread_completion_hook → %s\n", describe_error(rc).c_str());
        return 2;
    }

    int passed = 0, failed = 0;
    Watchdog watchdog(60);
    std::vector<TestCase> cases;
    for (const TestCase& c : kCases)
        if (selected(c.name, filters)) cases.push_back(c);
    cases.push_back(kFinalCase);
    for (const TestCase& c : cases) {
        watchdog.arm(c.name, passed, failed);
        std::string why;
        try {
            c.run();
        } catch (const CaseFailure& failure) {
            why = failure.why;
        } catch (const FdbError& error) {
            why = "unexpected error " + describe_error(error.code) + " during " + error.during;
        } catch (const std::exception& exception) {
            why = std::string("exception: ") + exception.what();
        }
        if (why.empty()) {
            passed++;
            printf("ok %s\n", c.name);
        } else {
            failed++;
            printf("FAIL %s: %s\n", c.name, why.c_str());
        }
    }
    if (g_network_thread.joinable()) g_network_thread.detach(); /* run never returned */
    printf("%d passed, %d failed\n", passed, failed);
    fflush(stdout);
    return failed ? 1 : 0;
}

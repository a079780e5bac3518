/* transaction.h — FDBTransaction and FDBDatabase: a client transaction buffers its
 * writes, reads through them at its read version (read-your-writes), records conflict
 * ranges, and hands everything to its Engine at commit. */
#ifndef FOUND_TRANSACTION_H
#define FOUND_TRANSACTION_H

#include <stdint.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine.h"
#include "fdb_c_abi.h"
#include "future.h"
#include "live_objects.h"

struct FDBDatabase {};
struct FDBTransaction {};

namespace found {

/* Options a database handle gives the transactions it creates (and their resets). */
struct TransactionDefaults {
    int64_t timeout_ms = 0;
    int64_t retry_limit = -1;
    int64_t max_retry_delay_ms = 1000;
    int64_t size_limit = 10000000;
    int snapshot_ryw_disables = 0;
    bool bypass_unreadable = false;
    bool used_during_commit_protection_disabled = false;
};

class Database : public FDBDatabase {
public:
    Database(Engine* engine, std::string connection) : engine(engine), connection(std::move(connection)) {
        live_objects().databases.fetch_add(1, std::memory_order_relaxed);
    }
    ~Database() {
        engine->release();
        live_objects().databases.fetch_sub(1, std::memory_order_relaxed);
    }
    static Database* from(FDBDatabase* d) { return static_cast<Database*>(d); }

    Engine* const engine;
    const std::string connection;
    std::mutex mutex;
    TransactionDefaults defaults;
    int64_t max_watches = 10000;
    std::shared_ptr<std::atomic<int64_t>> outstanding_watches =
        std::make_shared<std::atomic<int64_t>>(0);
};

/* A buffered write to one key, as the transaction sees it. Either the key's value is
 * known (set, clear, or ops folded onto a known base), or ops wait for the stored value. */
struct WriteEntry {
    bool known = true;
    std::optional<std::string> value;          /* when known; nullopt = cleared */
    std::vector<std::pair<int, std::string>> ops; /* pending atomic ops when not known */
    bool unreadable = false;                   /* a SET_VERSIONSTAMPED_VALUE target */
};

class Transaction : public FDBTransaction {
public:
    explicit Transaction(Database* database);
    static Transaction* from(FDBTransaction* t) { return static_cast<Transaction*>(t); }

    void retain() { refs_.fetch_add(1, std::memory_order_relaxed); }
    void release() {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }

    /* --- the C API (see fdb-c-api.md §4) --- */
    int set_option(int code, const uint8_t* value, int length);
    void set_read_version(int64_t version);
    Future* get_read_version();
    Future* get(std::string key, bool snapshot);
    Future* get_key(const std::string& key, bool or_equal, int offset, bool snapshot);
    Future* get_range(const std::string& begin_key, bool begin_or_equal, int begin_offset,
                      const std::string& end_key, bool end_or_equal, int end_offset, int limit,
                      int target_bytes, int mode, int iteration, bool snapshot, bool reverse);
    void set(std::string key, std::string value);
    void clear(std::string key);
    void clear_range(const std::string& begin, const std::string& end);
    void atomic_op(const std::string& key, const std::string& param, int op);
    int add_conflict_range(const std::string& begin, const std::string& end, int type);
    Future* watch(const std::string& key);
    Future* commit();
    Future* on_error(int code);
    int get_committed_version(int64_t* out);
    Future* get_versionstamp();
    Future* get_approximate_size();
    Future* get_estimated_range_size_bytes(const std::string& begin, const std::string& end);
    Future* get_range_split_points(const std::string& begin, const std::string& end,
                                   int64_t chunk_size, int limit);
    Future* get_total_cost();
    void reset();
    void cancel();
    void destroy();
    /* Marks a transaction created through a tenant: tenants are not supported (2136). */
    void disable_for_tenant() { tenant_disabled_ = true; }

private:
    /* The database's defaults plus what only a transaction sets. */
    struct Options : TransactionDefaults {
        bool read_your_writes_disabled = false;
        bool access_system_keys = false;
        bool read_system_keys = false;
        bool next_write_no_conflict = false;
        bool special_key_space_relaxed = false;
        bool special_key_space_enable_writes = false;
        bool lock_aware = false;
        bool durability_risky = false;
        int tags = 0;
        /* Whether timeout / retry_limit / max_retry_delay / size_limit were set on this
         * transaction: those survive on_error (FDB's own Python unit tests expect the size
         * limit to, although the options table lists only the first three). */
        bool timeout_set = false, retry_limit_set = false, max_retry_delay_set = false;
        bool size_limit_set = false;
    };
    struct PendingWatch {
        std::string key;
        std::optional<std::string> initial;
        Future* future;
    };
    class View;
    enum class CommitState { kIdle, kCommitting, kDone };

    ~Transaction();

    /* Error that forbids any operation now (cancelled, timed out, used during commit). */
    int state_error();
    int check_deferred_or_state();
    void defer_error(int error);
    /* 0 with a read version fixed, an error, or kWait when reads must wait. */
    int ensure_read_version();
    template <class Op>
    Future* read(FutureKind kind, Op&& op);
    void defer_read(Future* future, std::function<int(Future&)> op);
    void poll_deferred(Future* future, std::function<int(Future&)> op,
                       std::chrono::steady_clock::time_point deadline);

    /* The special-key space (\xff\xff…): modules and the rows this transaction sees. */
    std::map<std::string, std::string> special_rows();
    int special_module_of(const std::string& key) const;
    Future* special_get(const std::string& key);
    Future* special_get_range(const std::string& begin, const std::string& end, int limit,
                              bool reverse);
    void special_set(const std::string& key, const std::string& value);
    const std::string& tracing_id();

    std::string max_read_key() const;
    std::string max_write_key() const;
    bool ryw_for(bool snapshot) const;
    void add_read_range(std::string begin, std::string end);
    void add_write_range(std::string begin, std::string end);
    /* The ranges [key, key + \0) of a point read or write, kept without building them. */
    void add_read_point(std::string_view key);
    void add_write_point(std::string_view key);
    int check_write_key(const std::string& key, bool versionstamped);
    void note_write(const std::string& key, std::vector<Future*>* fire);
    /* Brings writes_ up to date with mutations_: sets and clears are indexed for
     * read-your-writes only when the transaction next reads, so write-only transactions
     * (bulk loads) never build the ordered write map, and the writes that follow a
     * transaction's last read (a read-modify-write's) are never indexed at all. */
    void ensure_ryw_index();
    /* After a set or clear was appended to mutations_: indexes it now only when a watch
     * of this transaction needs to compare it (note_write); else the next read does. */
    void index_or_defer_last_write();
    void apply_defaults();
    void soft_reset(std::vector<Future*>* to_fail_1025);
    void arm_timeout();
    void on_timeout(uint64_t generation);
    void take_pending(std::vector<Future*>* out);

    std::atomic<int> refs_{1};
    Database* const database_;
    Engine* const engine_;
    std::recursive_mutex mutex_;

    Options options_;
    Version read_version_ = 0;
    ReaderPin reader_pin_; /* read_version_, held while this transaction may commit */
    int deferred_error_ = 0;
    CommitState commit_state_ = CommitState::kIdle;
    bool poisoned_ = false;
    bool cancelled_ = false;
    bool timed_out_ = false;
    bool tenant_disabled_ = false;
    std::string tracing_id_;
    std::string tracing_token_;
    bool tracing_set_late_ = false; /* a tracing key written after the first mutation */

    std::map<std::string, WriteEntry, std::less<>> writes_;
    std::map<std::string, std::string> cleared_; /* disjoint [begin, end) */
    std::vector<Mutation> mutations_;
    bool ryw_index_live_ = false;
    size_t ryw_indexed_ = 0; /* mutations_[0, ryw_indexed_) are reflected in writes_ */
    std::vector<KeyRange> read_ranges_;
    std::vector<KeyRange> write_ranges_;
    PointKeys read_points_;
    PointKeys write_points_;
    /* The last commit's request, handed back by the engine: the next commit (a retry)
     * reuses it and its buffers, and destroying the transaction frees them, both on the
     * client's thread. */
    std::unique_ptr<CommitRequest> spare_request_;
    std::vector<KeyRange> unreadable_ranges_; /* where versionstamped keys may land */
    int64_t approximate_size_ = 0;
    int64_t total_cost_ = 0;
    int64_t committed_version_ = -1;
    Future* versionstamp_future_ = nullptr;
    std::vector<Future*> pending_;
    std::vector<PendingWatch> watches_;

    int64_t retries_ = 0;
    double backoff_seconds_ = 0.01;
    std::chrono::steady_clock::time_point started_;
    std::chrono::steady_clock::time_point deadline_{};
    bool has_deadline_ = false;
    uint64_t generation_ = 0;
};

}  // namespace found

#endif

/* transaction.cc — a transaction's life: buffered writes (a per-key map plus cleared
 * ranges, merged over the store at the read version for read-your-writes), conflict
 * ranges, deferred errors, commit hand-off, on_error back-off, timeouts and watches.
 * Futures are completed only after the transaction's lock is released: their callbacks
 * may call straight back into this transaction. */
#include "transaction.h"

#include <stdio.h>
#include <string.h>

#include <algorithm>
#include <random>

#include "atomic.h"
#include "errors.h"
#include "network.h"

namespace found {

namespace {

const int kWait = -1;
const size_t kKeySizeLimit = 10000;
const size_t kSystemKeySizeLimit = 30000;
const size_t kValueSizeLimit = 100000;
const int64_t kMutationOverhead = 28;
const int64_t kConflictRangeOverhead = 16;
const std::string kSystemPrefix("\xff", 1);
const std::string kSpecialPrefix("\xff\xff", 2);
const std::string kMetadataVersionKey("\xff/metadataVersion");

std::string key_after(const std::string& key) { return key + std::string(1, '\0'); }

int64_t read_int_option(const uint8_t* value, int length, bool* ok) {
    if (length != 8 || value == nullptr) {
        *ok = false;
        return 0;
    }
    int64_t v;
    memcpy(&v, value, 8);
    *ok = true;
    return v;
}

int byte_budget(int mode, int iteration, int* error) {
    static const int kIteratorBudget[] = {4096, 6144, 9216, 13824, 20736, 31104,
                                          46656, 69984, 80000, 120000};
    switch (mode) {
        case -2: return 80000;       /* WANT_ALL */
        case -1:                     /* ITERATOR */
            if (iteration <= 0) {
                *error = kClientInvalidOperation;
                return 0;
            }
            return kIteratorBudget[std::min(iteration, 10) - 1];
        case 0: return 0;            /* EXACT: no byte budget */
        case 1: return 256;
        case 2: return 1000;
        case 3: return 4096;
        case 4: return 80000;
        default:
            *error = kClientInvalidOperation;
            return 0;
    }
}

double uniform01() {
    thread_local std::mt19937_64 random(std::random_device{}());
    return std::uniform_real_distribution<double>(0.0, 1.0)(random);
}

}  // namespace

/* ------------------------------------------------------------------------------------
 * View: the store at the read version with (optionally) the transaction's writes over it.
 * ---------------------------------------------------------------------------------- */

class Transaction::View {
public:
    View(const Transaction& tx, const Store& store, bool ryw, Version read_version,
         std::string max_key)
        : tx_(tx), store_(store), ryw_(ryw), read_version_(read_version),
          max_key_(std::move(max_key)) {}

    /* The merged value of `key`; `*read_store` tells whether the store was consulted. */
    std::optional<std::string> lookup(const std::string& key, bool* read_store) const {
        *read_store = false;
        if (ryw_) {
            auto it = tx_.writes_.find(key);
            if (it != tx_.writes_.end()) return merged(it, read_store);
            if (in_cleared(key)) return std::nullopt;
        }
        *read_store = true;
        const std::string* value = store_.get(key, read_version_);
        return value ? std::optional<std::string>(*value) : std::nullopt;
    }

    /* First present key > `from` (>= when inclusive) below the maximum key. */
    bool next(const std::string& from, bool inclusive, std::string* key, std::string* value) const {
        std::string position = from;
        bool include = inclusive;
        for (;;) {
            Store::Iterator s = store_.next_present(position, include, read_version_);
            if (ryw_) {
                while (s != store_.end() && !tx_.writes_.count(s->key)) {
                    auto cleared = cleared_containing(s->key);
                    if (cleared == tx_.cleared_.end()) break;
                    s = store_.next_present(cleared->second, true, read_version_);
                }
            }
            auto w = tx_.writes_.end();
            if (ryw_) w = include ? tx_.writes_.lower_bound(position) : tx_.writes_.upper_bound(position);
            const bool have_s = s != store_.end() && s->key < max_key_;
            const bool have_w = w != tx_.writes_.end() && w->first < max_key_;
            if (!have_s && !have_w) return false;
            if (have_w && (!have_s || w->first <= s->key)) {
                bool read_store;
                std::optional<std::string> v = merged(w, &read_store);
                if (v) {
                    *key = w->first;
                    *value = std::move(*v);
                    return true;
                }
                position = w->first;
                include = false;
                continue;
            }
            *key = s->key;
            *value = *Store::value_at(s, read_version_);
            return true;
        }
    }

    /* Last present key < `from` (<= when inclusive) below the maximum key. */
    bool prev(const std::string& from, bool inclusive, std::string* key, std::string* value) const {
        std::string position = from;
        bool include = inclusive;
        if (position >= max_key_) {
            position = max_key_;
            include = false;
        }
        for (;;) {
            Store::Iterator s = store_.prev_present(position, include, read_version_);
            if (ryw_) {
                while (s != store_.end() && !tx_.writes_.count(s->key)) {
                    auto cleared = cleared_containing(s->key);
                    if (cleared == tx_.cleared_.end()) break;
                    s = store_.prev_present(cleared->first, false, read_version_);
                }
            }
            auto w = tx_.writes_.end();
            if (ryw_) {
                auto bound = include ? tx_.writes_.upper_bound(position) : tx_.writes_.lower_bound(position);
                if (bound != tx_.writes_.begin()) w = std::prev(bound);
            }
            const bool have_s = s != store_.end();
            const bool have_w = w != tx_.writes_.end();
            if (!have_s && !have_w) return false;
            if (have_w && (!have_s || w->first >= s->key)) {
                bool read_store;
                std::optional<std::string> v = merged(w, &read_store);
                if (v) {
                    *key = w->first;
                    *value = std::move(*v);
                    return true;
                }
                position = w->first;
                include = false;
                continue;
            }
            *key = s->key;
            *value = *Store::value_at(s, read_version_);
            return true;
        }
    }

    /* Resolves a key selector over the view: "" before the first key, max key past the last. */
    std::string resolve(const std::string& key, bool or_equal, int offset) const {
        std::string k, v;
        if (offset >= 1) {
            bool found = next(key, !or_equal, &k, &v);
            for (int steps = offset - 1; found && steps > 0; steps--) found = next(k, false, &k, &v);
            return found ? k : max_key_;
        }
        bool found = prev(key, or_equal, &k, &v);
        for (int steps = -offset; found && steps > 0; steps--) found = prev(k, false, &k, &v);
        return found ? k : std::string();
    }

    const std::string& max_key() const { return max_key_; }

private:
    std::optional<std::string> merged(std::map<std::string, WriteEntry>::const_iterator it,
                                      bool* read_store) const {
        const WriteEntry& entry = it->second;
        if (entry.known) return entry.value;
        *read_store = true;
        const std::string* stored = store_.get(it->first, read_version_);
        std::optional<std::string> value = stored ? std::optional<std::string>(*stored) : std::nullopt;
        for (const auto& [op, param] : entry.ops) value = apply_atomic(op, value, param, 730);
        return value;
    }

    std::map<std::string, std::string>::const_iterator cleared_containing(const std::string& key) const {
        auto it = tx_.cleared_.upper_bound(key);
        if (it == tx_.cleared_.begin()) return tx_.cleared_.end();
        --it;
        return key < it->second ? it : tx_.cleared_.end();
    }
    bool in_cleared(const std::string& key) const {
        return cleared_containing(key) != tx_.cleared_.end();
    }

    const Transaction& tx_;
    const Store& store_;
    const bool ryw_;
    const Version read_version_;
    const std::string max_key_;
};

/* ------------------------------------------------------------------------------------
 * Life cycle
 * ---------------------------------------------------------------------------------- */

Transaction::Transaction(Database* database) : database_(database), engine_(database->engine) {
    live_objects().transactions.fetch_add(1, std::memory_order_relaxed);
    engine_->retain();
    started_ = std::chrono::steady_clock::now();
    apply_defaults();
    arm_timeout();
}

Transaction::~Transaction() {
    live_objects().transactions.fetch_sub(1, std::memory_order_relaxed);
    if (versionstamp_future_) versionstamp_future_->release();
    reader_pin_.reset();
    engine_->release();
}

void Transaction::apply_defaults() {
    TransactionDefaults defaults;
    {
        std::lock_guard<std::mutex> lock(database_->mutex);
        defaults = database_->defaults;
    }
    Options fresh;
    static_cast<TransactionDefaults&>(fresh) = defaults;
    options_ = fresh;
}

void Transaction::take_pending(std::vector<Future*>* out) {
    for (Future* f : pending_) out->push_back(f);
    pending_.clear();
    for (PendingWatch& w : watches_) out->push_back(w.future);
    watches_.clear();
    if (versionstamp_future_) {
        out->push_back(versionstamp_future_);
        versionstamp_future_ = nullptr;
    }
}

/* Drops everything a retry must not see; keeps retries, back-off and the timeout clock. */
void Transaction::soft_reset(std::vector<Future*>* to_fail) {
    take_pending(to_fail);
    writes_.clear();
    cleared_.clear();
    mutations_.clear();
    ryw_index_live_ = false;
    ryw_indexed_ = 0;
    read_ranges_.clear();
    write_ranges_.clear();
    read_points_.clear();
    write_points_.clear();
    unreadable_ranges_.clear();
    approximate_size_ = 0;
    total_cost_ = 0;
    read_version_ = 0;
    reader_pin_.reset();
    deferred_error_ = 0;
    tracing_set_late_ = false;
    commit_state_ = CommitState::kIdle;
    poisoned_ = false;
    const Options kept = options_;
    apply_defaults();
    if (kept.timeout_set) {
        options_.timeout_ms = kept.timeout_ms;
        options_.timeout_set = true;
    }
    if (kept.retry_limit_set) {
        options_.retry_limit = kept.retry_limit;
        options_.retry_limit_set = true;
    }
    if (kept.max_retry_delay_set) {
        options_.max_retry_delay_ms = kept.max_retry_delay_ms;
        options_.max_retry_delay_set = true;
    }
    if (kept.size_limit_set) {
        options_.size_limit = kept.size_limit;
        options_.size_limit_set = true;
    }
}

void Transaction::reset() {
    std::vector<Future*> to_fail;
    {
        std::lock_guard<std::recursive_mutex> lock(mutex_);
        soft_reset(&to_fail);
        apply_defaults();
        cancelled_ = false;
        timed_out_ = false;
        retries_ = 0;
        backoff_seconds_ = 0.01;
        committed_version_ = -1;
        generation_++;
        started_ = std::chrono::steady_clock::now();
        arm_timeout();
    }
    for (Future* f : to_fail) {
        f->fail(kTransactionCancelled);
        f->release();
    }
}

void Transaction::cancel() {
    std::vector<Future*> to_fail;
    {
        std::lock_guard<std::recursive_mutex> lock(mutex_);
        cancelled_ = true;
        take_pending(&to_fail);
    }
    for (Future* f : to_fail) {
        f->fail(kTransactionCancelled);
        f->release();
    }
}

void Transaction::destroy() {
    cancel();
    release();
}

/* Arms the timer for the current timeout; an already lapsed deadline fires at once. */
void Transaction::arm_timeout() {
    if (options_.timeout_ms <= 0) {
        has_deadline_ = false;
        return;
    }
    has_deadline_ = true;
    deadline_ = started_ + std::chrono::milliseconds(options_.timeout_ms);
    const uint64_t generation = generation_;
    retain();
    Network::instance().post_at(deadline_, [this, generation] {
        on_timeout(generation);
        release();
    });
}

void Transaction::on_timeout(uint64_t generation) {
    std::vector<Future*> to_fail;
    {
        std::lock_guard<std::recursive_mutex> lock(mutex_);
        if (generation != generation_ || !has_deadline_ || cancelled_) return;
        if (std::chrono::steady_clock::now() < deadline_) return;
        timed_out_ = true;
        take_pending(&to_fail);
    }
    for (Future* f : to_fail) {
        f->fail(kTransactionTimedOut);
        f->release();
    }
}

int Transaction::state_error() {
    if (cancelled_) return kTransactionCancelled;
    if (timed_out_) return kTransactionTimedOut;
    if (has_deadline_ && std::chrono::steady_clock::now() >= deadline_) {
        timed_out_ = true;
        return kTransactionTimedOut;
    }
    if (poisoned_) return kUsedDuringCommit;
    if (commit_state_ != CommitState::kIdle) {
        if (!options_.used_during_commit_protection_disabled) poisoned_ = true;
        return kUsedDuringCommit;
    }
    return 0;
}

int Transaction::check_deferred_or_state() {
    if (tenant_disabled_) return kTenantsDisabled;
    if (int rc = state_error()) return rc;
    return deferred_error_;
}

void Transaction::defer_error(int error) {
    if (!deferred_error_) deferred_error_ = error;
}

/* ------------------------------------------------------------------------------------
 * Options
 * ---------------------------------------------------------------------------------- */

int Transaction::set_option(int code, const uint8_t* value, int length) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    bool ok = true;
    auto no_param = [&] { ok = length == 0; };
    switch (code) {
        case 30: no_param(); if (ok) options_.next_write_no_conflict = true; break;
        case 51:
            no_param();
            if (ok) {
                if (!mutations_.empty() || read_version_ != 0) defer_error(kClientInvalidOperation);
                else options_.read_your_writes_disabled = true;
            }
            break;
        case 301: no_param(); if (ok) options_.access_system_keys = true; break;
        case 302: no_param(); if (ok) options_.read_system_keys = true; break;
        case 500: case 501: case 502: case 503: {
            int64_t v = read_int_option(value, length, &ok);
            if (!ok) break;
            if (code == 500) {
                if (v < 0 || v > INT32_MAX) { ok = false; break; }
                options_.timeout_ms = v;
                options_.timeout_set = true;
                generation_++;
                arm_timeout();
            } else if (code == 501) {
                if (v < -1 || v > INT32_MAX) { ok = false; break; }
                options_.retry_limit = v;
                options_.retry_limit_set = true;
            } else if (code == 502) {
                if (v < 0 || v > INT32_MAX) { ok = false; break; }
                options_.max_retry_delay_ms = v;
                options_.max_retry_delay_set = true;
            } else {
                if (v < 32 || v > 10000000) { ok = false; break; }
                options_.size_limit = v;
                options_.size_limit_set = true;
            }
            break;
        }
        case 600: no_param(); if (ok && options_.snapshot_ryw_disables > 0) options_.snapshot_ryw_disables--; break;
        case 601: no_param(); if (ok) options_.snapshot_ryw_disables++; break;
        case 701: no_param(); if (ok) options_.used_during_commit_protection_disabled = true; break;
        case 713: no_param(); if (ok) options_.special_key_space_relaxed = true; break;
        case 714: no_param(); if (ok) options_.special_key_space_enable_writes = true; break;
        case 1100: no_param(); if (ok) options_.bypass_unreadable = true; break;
        case 303: case 304: no_param(); if (ok) options_.lock_aware = true; break;
        case 120: no_param(); if (ok) options_.durability_risky = true; break;
        case 800: case 801:
            if (length > 255) defer_error(kTagTooLong);
            else if (++options_.tags > 5) defer_error(kTooManyTags);
            break;
        /* Accepted and ignored: no parameter. */
        case 10: case 20: case 21: case 23: case 40: case 50: case 52: case 110:
        case 130: case 200: case 201: case 300: case 400: case 404: case 406: case 504:
        case 505: case 507: case 508: case 509: case 510: case 511: case 700: case 702:
        case 710: case 711: case 712: case 1000: case 1101: case 1102: case 4000:
            no_param();
            break;
        /* Accepted and ignored: an integer. */
        case 405: case 1103: case 4001:
            read_int_option(value, length, &ok);
            break;
        /* Accepted and ignored: a string or bytes. */
        case 401: case 402: case 403: case 900: case 2000:
            break;
        default:
            return kInvalidOption;
    }
    if (!ok) defer_error(kInvalidOptionValue);
    return 0;
}

/* ------------------------------------------------------------------------------------
 * Reads
 * ---------------------------------------------------------------------------------- */

std::string Transaction::max_read_key() const {
    return options_.read_system_keys || options_.access_system_keys ? kSpecialPrefix : kSystemPrefix;
}

std::string Transaction::max_write_key() const {
    return options_.access_system_keys ? kSpecialPrefix : kSystemPrefix;
}

bool Transaction::ryw_for(bool snapshot) const {
    if (options_.read_your_writes_disabled) return false;
    if (snapshot && options_.snapshot_ryw_disables > 0) return false;
    return true;
}

void Transaction::add_read_range(std::string begin, std::string end) {
    if (!(begin < end)) return;
    approximate_size_ += (int64_t)(begin.size() + end.size()) + kConflictRangeOverhead;
    if (read_ranges_.capacity() == 0) read_ranges_.reserve(16); /* not 1, 2, 4, 8, 16 */
    read_ranges_.push_back({std::move(begin), std::move(end)});
}

void Transaction::add_write_range(std::string begin, std::string end) {
    if (!(begin < end)) return;
    approximate_size_ += (int64_t)(begin.size() + end.size()) + kConflictRangeOverhead;
    write_ranges_.push_back({std::move(begin), std::move(end)});
}

/* Counted as the range [key, key + \0) would be. */
void Transaction::add_read_point(std::string_view key) {
    approximate_size_ += (int64_t)(2 * key.size() + 1) + kConflictRangeOverhead;
    read_points_.add(key);
}

void Transaction::add_write_point(std::string_view key) {
    approximate_size_ += (int64_t)(2 * key.size() + 1) + kConflictRangeOverhead;
    write_points_.add(key);
}

int Transaction::ensure_read_version() {
    if (read_version_ == 0) {
        if (engine_->unavailable()) return kWait;
        read_version_ = engine_->read_version(&reader_pin_);
    }
    if (engine_->unavailable()) return kWait;
    int rc = engine_->check_read_version(read_version_);
    return rc < 0 ? kWait : rc;
}

template <class Op>
Future* Transaction::read(FutureKind kind, Op&& op) {
    std::unique_lock<std::recursive_mutex> lock(mutex_);
    if (int rc = check_deferred_or_state()) return Future::failed(kind, rc);
    ensure_ryw_index();
    Future* future = new Future(kind);
    int rc = ensure_read_version();
    if (rc == 0) rc = op(*future);
    if (rc == kWait) {
        defer_read(future, std::function<int(Future&)>(std::forward<Op>(op)));
        return future;
    }
    future->mark_ready(rc);
    return future;
}

/* Parks a read that must wait (future version, commit in flight, unavailable store) and
 * finishes it on the network thread. The future is also in pending_ so reset, cancel and
 * timeouts can fail it. */
void Transaction::defer_read(Future* future, std::function<int(Future&)> op) {
    future->retain();
    pending_.push_back(future);
    if (engine_->unavailable()) return; /* answers never come: only a timeout or cancel ends it */
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(knobs().future_version_wait_ms);
    future->retain();
    retain();
    Network::instance().post_at(std::chrono::steady_clock::now() + std::chrono::microseconds(200),
                                [this, future, op, deadline] {
                                    poll_deferred(future, op, deadline);
                                });
}

void Transaction::poll_deferred(Future* future, std::function<int(Future&)> op,
                                std::chrono::steady_clock::time_point deadline) {
    int rc;
    {
        std::lock_guard<std::recursive_mutex> lock(mutex_);
        if (future->is_ready()) {
            rc = 0;
        } else {
            rc = engine_->check_read_version(read_version_);
            if (rc < 0 && std::chrono::steady_clock::now() < deadline) {
                Network::instance().post_at(
                    std::chrono::steady_clock::now() + std::chrono::milliseconds(1),
                    [this, future, op, deadline] { poll_deferred(future, op, deadline); });
                return;
            }
            if (rc < 0) rc = kFutureVersion;
            if (rc == 0) rc = op(*future);
            auto it = std::find(pending_.begin(), pending_.end(), future);
            if (it != pending_.end()) {
                pending_.erase(it);
                future->release();
            }
        }
    }
    release();
    if (!future->is_ready()) future->complete(rc, [](Future&) {});
    future->release();
}

void Transaction::set_read_version(int64_t version) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    if (check_deferred_or_state()) return;
    if (read_version_ != 0) return defer_error(kReadVersionAlreadySet);
    if (version <= 0) return defer_error(kVersionInvalid);
    read_version_ = version;
    reader_pin_.hold(engine_, version);
}

Future* Transaction::get_read_version() {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    if (cancelled_) return Future::failed(FutureKind::kInt64, kTransactionCancelled);
    if (timed_out_) return Future::failed(FutureKind::kInt64, kTransactionTimedOut);
    if (deferred_error_) return Future::failed(FutureKind::kInt64, deferred_error_);
    if (read_version_ == 0) {
        if (engine_->unavailable()) {
            Future* f = new Future(FutureKind::kInt64);
            f->retain();
            pending_.push_back(f);
            return f;
        }
        read_version_ = engine_->read_version(&reader_pin_);
    }
    Future* f = new Future(FutureKind::kInt64);
    f->int64_value = read_version_;
    f->mark_ready();
    return f;
}

Future* Transaction::get(std::string key, bool snapshot) {
    if (key.size() >= 2 && key.compare(0, 2, kSpecialPrefix) == 0) return special_get(key);
    const size_t limit = (!key.empty() && (uint8_t)key[0] == 0xff) ? kSystemKeySizeLimit : kKeySizeLimit;
    /* The key moves into the read, and its conflict range is the key alone (read_points_):
     * a point read is on every transaction's hot path, and each copy of a key over 15
     * bytes is a malloc. */
    return read(FutureKind::kValue, [this, key = std::move(key), snapshot, limit](Future& f) mutable -> int {
        if (key.size() > limit) {
            f.present = false;
            return 0;
        }
        if (key >= max_read_key() && key != kMetadataVersionKey) return kKeyOutsideLegalRange;
        const bool ryw = ryw_for(snapshot);
        if (ryw && !options_.bypass_unreadable) {
            auto it = writes_.find(key);
            if (it != writes_.end() && it->second.unreadable) return kAccessedUnreadable;
            for (const KeyRange& r : unreadable_ranges_)
                if (key >= r.begin && key < r.end) return kAccessedUnreadable;
        }
        bool read_store;
        std::optional<std::string> value;
        {
            std::shared_lock<std::shared_mutex> data(engine_->data_mutex());
            View view(*this, engine_->store(), ryw, read_version_, max_read_key());
            value = view.lookup(key, &read_store);
        }
        total_cost_ += (int64_t)key.size() + (value ? (int64_t)value->size() : 0) + 1;
        f.present = value.has_value();
        if (value) f.bytes = std::move(*value);
        if (!snapshot && read_store) {
            add_read_point(key);
        }
        return 0;
    });
}

Future* Transaction::get_key(const std::string& key, bool or_equal, int offset, bool snapshot) {
    return read(FutureKind::kKey, [this, key, or_equal, offset, snapshot](Future& f) -> int {
        const std::string max_key = max_read_key();
        if (key > max_key) return kKeyOutsideLegalRange;
        std::string result;
        {
            std::shared_lock<std::shared_mutex> data(engine_->data_mutex());
            View view(*this, engine_->store(), ryw_for(snapshot), read_version_, max_key);
            result = view.resolve(key, or_equal, offset);
        }
        if (!snapshot) {
            const std::string edge = or_equal ? key_after(key) : key;
            if (offset <= 0) add_read_range(result, edge);
            else add_read_range(edge, key_after(result));
        }
        total_cost_ += (int64_t)result.size() + 1;
        f.bytes = std::move(result);
        return 0;
    });
}

Future* Transaction::get_range(const std::string& begin_key, bool begin_or_equal, int begin_offset,
                               const std::string& end_key, bool end_or_equal, int end_offset,
                               int limit, int target_bytes, int mode, int iteration,
                               bool snapshot, bool reverse) {
    int error = 0;
    if (limit < -1 || target_bytes < -1) error = kRangeLimitsInvalid;
    const bool no_row_limit = limit == 0 || limit == -1;
    const bool no_byte_limit = target_bytes == 0 || target_bytes == -1;
    if (!error && mode == 0 && no_row_limit && no_byte_limit) error = kExactModeWithoutLimits;
    int budget = error ? 0 : byte_budget(mode, iteration, &error);
    if (error) return Future::failed(FutureKind::kKeyValueArray, error);
    int64_t byte_limit = 0;
    if (!no_byte_limit) byte_limit = target_bytes;
    if (budget > 0) byte_limit = byte_limit > 0 ? std::min<int64_t>(byte_limit, budget) : budget;
    const int64_t row_limit = no_row_limit ? 0 : limit;

    if (begin_key.size() >= 2 && begin_key.compare(0, 2, kSpecialPrefix) == 0) {
        if (end_key.size() < 2 || end_key.compare(0, 2, kSpecialPrefix) < 0)
            return Future::failed(FutureKind::kKeyValueArray, kInvertedRange);
        auto plain = [](const std::string& key, bool or_equal, int offset) {
            /* first_greater_or_equal / first_greater_than are what range bounds use here */
            return (or_equal && offset == 1) ? key_after(key) : key;
        };
        return special_get_range(plain(begin_key, begin_or_equal, begin_offset),
                                 plain(end_key, end_or_equal, end_offset), row_limit > 0 ? (int)row_limit : 0,
                                 reverse);
    }

    return read(FutureKind::kKeyValueArray, [=, this](Future& f) -> int {
        const std::string max_key = max_read_key();
        if (begin_key > max_key || end_key > max_key) return kKeyOutsideLegalRange;
        /* Rows go straight into the future's arena; spans say where each one is. */
        struct Span {
            size_t key, key_length, value, value_length;
        };
        std::vector<Span> spans;
        std::string begin, end, last_key;
        bool more = false;
        auto append = [&f, &spans](std::string_view key, std::string_view value) {
            Span span{f.arena.size(), key.size(), f.arena.size() + key.size(), value.size()};
            f.arena.append(key);
            f.arena.append(value);
            spans.push_back(span);
        };
        auto full = [&](int64_t bytes) {
            return (row_limit > 0 && (int64_t)spans.size() >= row_limit) ||
                   (byte_limit > 0 && bytes >= byte_limit);
        };
        const bool ryw = ryw_for(snapshot);
        {
            std::shared_lock<std::shared_mutex> data(engine_->data_mutex());
            const Store& store = engine_->store();
            View view(*this, store, ryw, read_version_, max_key);
            begin = view.resolve(begin_key, begin_or_equal, begin_offset);
            end = view.resolve(end_key, end_or_equal, end_offset);
            /* Nothing of this transaction's own in the range: walk the store directly. */
            bool own_writes = false;
            if (ryw && begin < end) {
                auto w = writes_.lower_bound(begin);
                own_writes = w != writes_.end() && w->first < end;
                auto c = cleared_.upper_bound(end);
                if (!own_writes && c != cleared_.begin()) own_writes = std::prev(c)->second > begin;
            }
            int64_t bytes = 0;
            /* Takes one row; false (with `more` set) once the limits are reached. */
            auto take = [&](const std::string& key, const std::string& value) {
                if (full(bytes)) {
                    more = true;
                    return false;
                }
                bytes += (int64_t)(key.size() + value.size() + 8);
                append(key, value);
                last_key = key;
                return true;
            };
            if (begin < end && !own_writes) {
                if (!reverse) {
                    auto it = store.next_present(begin, true, read_version_);
                    for (; it != store.end() && it->key < end; ++it) {
                        const std::string* value = Store::value_at(it, read_version_);
                        if (value && !take(it->key, *value)) break;
                    }
                } else {
                    auto it = store.prev_present(end, false, read_version_);
                    while (it != store.end() && it->key >= begin) {
                        const std::string* value = Store::value_at(it, read_version_);
                        if (value && !take(it->key, *value)) break;
                        if (it == store.begin()) break;
                        --it;
                    }
                }
            } else if (begin < end) {
                std::string k, v;
                bool found = reverse ? view.prev(end, false, &k, &v) : view.next(begin, true, &k, &v);
                while (found && (reverse ? k >= begin : k < end)) {
                    if (!take(k, v)) break;
                    found = reverse ? view.prev(k, false, &k, &v) : view.next(k, false, &k, &v);
                }
            }
        }
        if (ryw && !options_.bypass_unreadable) {
            if (!writes_.empty()) {
                for (const Span& span : spans) {
                    auto it = writes_.find(std::string_view(f.arena).substr(span.key, span.key_length));
                    if (it != writes_.end() && it->second.unreadable) return kAccessedUnreadable;
                }
            }
            /* Where this transaction's versionstamped keys will land is unknown until commit. */
            const std::string& low = std::min(begin_key, begin);
            const std::string& high = std::max(end_key, end);
            for (const KeyRange& r : unreadable_ranges_)
                if (low < high && r.begin < high && low < r.end) return kAccessedUnreadable;
        }
        if (!snapshot) {
            /* What the reads depended on: from the begin selector's edge (or the resolved
             * begin, if earlier) to the end selector's edge (or the resolved end, if
             * later); a read stopped by a limit depends only on what it returned. */
            const std::string begin_edge = begin_or_equal ? key_after(begin_key) : begin_key;
            const std::string end_edge = end_or_equal ? key_after(end_key) : end_key;
            /* first_greater_or_equal / first_greater_than bounds depend on their edge only */
            std::string conflict_begin = begin_offset == 1 ? begin_edge : std::min(begin_edge, begin);
            std::string conflict_end = end_offset == 1 ? end_edge : std::max(end_edge, end);
            if (more && !reverse) conflict_end = key_after(last_key);
            if (more && reverse) conflict_begin = last_key;
            if (conflict_end > max_key) conflict_end = max_key;
            add_read_range(conflict_begin, conflict_end);
        }
        total_cost_ += (int64_t)f.arena.size() + 1;
        const uint8_t* base = reinterpret_cast<const uint8_t*>(f.arena.data());
        f.kvs.reserve(spans.size());
        for (const Span& span : spans)
            f.kvs.push_back(FDBKeyValue{base + span.key, (int)span.key_length, base + span.value,
                                        (int)span.value_length});
        f.more = more;
        return 0;
    });
}

/* ------------------------------------------------------------------------------------
 * Writes
 * ---------------------------------------------------------------------------------- */

int Transaction::check_write_key(const std::string& key, bool versionstamped) {
    const bool system = !key.empty() && (uint8_t)key[0] == 0xff;
    if (key.size() > (system ? kSystemKeySizeLimit : kKeySizeLimit)) return kKeyTooLarge;
    if (key.compare(0, 2, kSpecialPrefix) == 0 && key.size() >= 2)
        return options_.special_key_space_enable_writes ? kUnsupportedOperation
                                                        : kSpecialKeysWriteDisabled;
    if (key >= max_write_key() && !(versionstamped && key == kMetadataVersionKey))
        return kKeyOutsideLegalRange;
    return 0;
}

void Transaction::ensure_ryw_index() {
    if (ryw_index_live_) return;
    ryw_index_live_ = true;
    /* Only sets and clears are ever left unindexed: clear_range and atomic ops index first. */
    for (size_t i = ryw_indexed_; i < mutations_.size(); i++) {
        const Mutation& m = mutations_[i];
        if (m.kind == Mutation::kSet) writes_[m.key] = WriteEntry{true, m.param, {}, false};
        else if (m.kind == Mutation::kClear) writes_[m.key] = WriteEntry{true, std::nullopt, {}, false};
    }
    ryw_indexed_ = mutations_.size();
}

/* Fires this transaction's own watches on `key` when its value no longer matches. */
void Transaction::note_write(const std::string& key, std::vector<Future*>* fire) {
    if (watches_.empty()) return;
    auto it = writes_.find(key);
    for (auto w = watches_.begin(); w != watches_.end();) {
        bool changed = false;
        if (w->key == key) {
            if (it == writes_.end() || !it->second.known) changed = true;
            else changed = it->second.value != w->initial;
        }
        if (changed) {
            fire->push_back(w->future);
            w = watches_.erase(w);
        } else {
            ++w;
        }
    }
}

static void fire_all(std::vector<Future*>& futures) {
    for (Future* f : futures) {
        f->succeed();
        f->release();
    }
}

void Transaction::index_or_defer_last_write() {
    if (!ryw_index_live_) return; /* the next read indexes it with the others */
    if (watches_.empty()) {
        ryw_index_live_ = false;
        return;
    }
    const Mutation& m = mutations_.back();
    if (m.kind == Mutation::kSet) writes_[m.key] = WriteEntry{true, m.param, {}, false};
    else writes_[m.key] = WriteEntry{true, std::nullopt, {}, false};
    ryw_indexed_ = mutations_.size();
}

/* Takes its key and value: they move into the mutation, and a point write's copies are
 * only its conflict range's. */
void Transaction::set(std::string key, std::string value) {
    std::vector<Future*> fire;
    {
        std::lock_guard<std::recursive_mutex> lock(mutex_);
        if (check_deferred_or_state()) return;
        if (key.size() >= 2 && key.compare(0, 2, kSpecialPrefix) == 0) return special_set(key, value);
        if (int rc = check_write_key(key, false)) return defer_error(rc);
        if (value.size() > kValueSizeLimit) return defer_error(kValueTooLarge);
        approximate_size_ += (int64_t)(key.size() + value.size()) + kMutationOverhead;
        if (options_.next_write_no_conflict) options_.next_write_no_conflict = false;
        else add_write_point(key);
        mutations_.push_back({Mutation::kSet, 0, std::move(key), std::move(value)});
        index_or_defer_last_write();
        note_write(mutations_.back().key, &fire);
    }
    fire_all(fire);
}

void Transaction::clear(std::string key) {
    std::vector<Future*> fire;
    {
        std::lock_guard<std::recursive_mutex> lock(mutex_);
        if (check_deferred_or_state()) return;
        int rc = check_write_key(key, false);
        if (rc == kKeyTooLarge) return; /* such a key cannot exist: nothing to clear */
        if (rc) return defer_error(rc);
        approximate_size_ += (int64_t)key.size() + kMutationOverhead;
        if (options_.next_write_no_conflict) options_.next_write_no_conflict = false;
        else add_write_point(key);
        mutations_.push_back({Mutation::kClear, 0, std::move(key), std::string()});
        index_or_defer_last_write();
        note_write(mutations_.back().key, &fire);
    }
    fire_all(fire);
}

void Transaction::clear_range(const std::string& begin_in, const std::string& end_in) {
    std::vector<Future*> fire;
    {
        std::lock_guard<std::recursive_mutex> lock(mutex_);
        if (check_deferred_or_state()) return;
        ensure_ryw_index();
        std::string begin = begin_in.substr(0, kSystemKeySizeLimit + 1);
        std::string end = end_in.substr(0, kSystemKeySizeLimit + 1);
        if (begin > end) return defer_error(kInvertedRange);
        if (end > max_write_key() || begin > max_write_key()) return defer_error(kKeyOutsideLegalRange);
        if (begin == end) return;
        std::vector<std::string> touched;
        for (auto it = writes_.lower_bound(begin); it != writes_.end() && it->first < end;) {
            touched.push_back(it->first);
            it = writes_.erase(it);
        }
        /* Merge [begin, end) into the disjoint cleared set. */
        std::string new_begin = begin, new_end = end;
        auto it = cleared_.upper_bound(begin);
        if (it != cleared_.begin()) {
            auto before = std::prev(it);
            if (before->second >= begin) it = before;
        }
        while (it != cleared_.end() && it->first <= new_end) {
            new_begin = std::min(new_begin, it->first);
            new_end = std::max(new_end, it->second);
            it = cleared_.erase(it);
        }
        cleared_[new_begin] = new_end;
        mutations_.push_back({Mutation::kClearRange, 0, begin, end});
        ryw_indexed_ = mutations_.size();
        approximate_size_ += (int64_t)(begin.size() + end.size()) + kMutationOverhead;
        if (options_.next_write_no_conflict) options_.next_write_no_conflict = false;
        else add_write_range(begin, end);
        for (auto w = watches_.begin(); w != watches_.end();) {
            if (w->key >= begin && w->key < end && w->initial.has_value()) {
                fire.push_back(w->future);
                w = watches_.erase(w);
            } else {
                ++w;
            }
        }
    }
    fire_all(fire);
}

void Transaction::atomic_op(const std::string& key, const std::string& param, int op) {
    std::vector<Future*> fire;
    {
        std::lock_guard<std::recursive_mutex> lock(mutex_);
        if (check_deferred_or_state()) return;
        if (!is_valid_mutation(op)) return defer_error(kInvalidMutationType);
        ensure_ryw_index();
        const bool stamped_key = op == kOpSetVersionstampedKey;
        const bool stamped_value = op == kOpSetVersionstampedValue;
        if (param.size() > kValueSizeLimit + (stamped_value ? 4 : 0)) return defer_error(kValueTooLarge);
        if (stamped_key) {
            if (key.size() < 4) return defer_error(kClientInvalidOperation);
            uint32_t offset;
            memcpy(&offset, key.data() + key.size() - 4, 4);
            const size_t body = key.size() - 4;
            if ((int32_t)offset < 0 || (size_t)offset + 10 > body) return defer_error(kClientInvalidOperation);
            std::string target = key.substr(0, body);
            if (int rc = check_write_key(target, true)) return defer_error(rc);
            mutations_.push_back({Mutation::kAtomic, op, key, param});
            ryw_indexed_ = mutations_.size();
            approximate_size_ += (int64_t)(key.size() + param.size()) + kMutationOverhead;
            std::string low = target, high = target;
            memset(&low[offset], 0, 10);
            memset(&high[offset], 0xff, 10);
            unreadable_ranges_.push_back({low, key_after(high)});
            if (options_.next_write_no_conflict) options_.next_write_no_conflict = false;
            return;
        }
        if (int rc = check_write_key(key, stamped_value)) return defer_error(rc);
        if (stamped_value) {
            if (param.size() < 4) return defer_error(kClientInvalidOperation);
            uint32_t offset;
            memcpy(&offset, param.data() + param.size() - 4, 4);
            if ((int32_t)offset < 0 || (size_t)offset + 10 > param.size() - 4)
                return defer_error(kClientInvalidOperation);
            WriteEntry& entry = writes_[key];
            entry = WriteEntry{true, param.substr(0, param.size() - 4), {}, true};
        } else {
            auto it = writes_.find(key);
            if (it == writes_.end()) {
                auto cleared = cleared_.upper_bound(key);
                bool in_cleared = false;
                if (cleared != cleared_.begin()) in_cleared = key < std::prev(cleared)->second;
                WriteEntry entry;
                if (in_cleared) {
                    entry.known = true;
                    entry.value = apply_atomic(op, std::nullopt, param, 730);
                } else {
                    entry.known = false;
                    entry.ops.emplace_back(op, param);
                }
                writes_[key] = std::move(entry);
            } else if (it->second.known) {
                it->second.value = apply_atomic(op, it->second.value, param, 730);
            } else {
                it->second.ops.emplace_back(op, param);
            }
        }
        mutations_.push_back({Mutation::kAtomic, op, key, param});
        ryw_indexed_ = mutations_.size();
        approximate_size_ += (int64_t)(key.size() + param.size()) + kMutationOverhead;
        if (options_.next_write_no_conflict) options_.next_write_no_conflict = false;
        else add_write_point(key);
        /* An atomic op always counts as a change for this transaction's own watches. */
        for (auto w = watches_.begin(); w != watches_.end();) {
            if (w->key == key) {
                fire.push_back(w->future);
                w = watches_.erase(w);
            } else {
                ++w;
            }
        }
    }
    fire_all(fire);
}

int Transaction::add_conflict_range(const std::string& begin, const std::string& end, int type) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    if (begin > end) return kInvertedRange;
    if (type != 0 && type != 1) return kClientInvalidOperation;
    if (check_deferred_or_state()) return 0;
    const std::string limit = type == 0 ? max_read_key() : max_write_key();
    if (end > limit) {
        defer_error(kKeyOutsideLegalRange);
        return 0;
    }
    if (type == 0) add_read_range(begin, end);
    else add_write_range(begin, end);
    return 0;
}

/* ------------------------------------------------------------------------------------
 * Watches, commit, on_error
 * ---------------------------------------------------------------------------------- */

Future* Transaction::watch(const std::string& key) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    if (int rc = check_deferred_or_state()) return Future::failed(FutureKind::kVoid, rc);
    if (options_.read_your_writes_disabled) return Future::failed(FutureKind::kVoid, kWatchesDisabled);
    ensure_ryw_index(); /* own later writes must see this watch (note_write) */
    if (key.size() > kSystemKeySizeLimit ||
        (key.size() > kKeySizeLimit && (key.empty() || (uint8_t)key[0] != 0xff)))
        return Future::failed(FutureKind::kVoid, kKeyTooLarge);
    if ((key >= kSpecialPrefix || key >= max_read_key()) && key != kMetadataVersionKey)
        return Future::failed(FutureKind::kVoid, kKeyOutsideLegalRange);
    int64_t max_watches;
    {
        std::lock_guard<std::mutex> db_lock(database_->mutex);
        max_watches = database_->max_watches;
    }
    auto counter = database_->outstanding_watches;
    if (counter->fetch_add(1) >= max_watches) {
        counter->fetch_sub(1);
        return Future::failed(FutureKind::kVoid, kTooManyWatches);
    }
    int rc = ensure_read_version();
    std::optional<std::string> initial;
    if (rc == 0) {
        bool read_store;
        std::shared_lock<std::shared_mutex> data(engine_->data_mutex());
        View view(*this, engine_->store(), ryw_for(false), read_version_, kSpecialPrefix);
        initial = view.lookup(key, &read_store);
        if (read_store) add_read_point(key);
    } else if (rc != kWait) {
        counter->fetch_sub(1);
        return Future::failed(FutureKind::kVoid, rc);
    }
    Future* future = new Future(FutureKind::kVoid);
    /* The watch stops counting against max_watches once it is no longer pending. */
    future->add_settle_hook([counter] { counter->fetch_sub(1); });
    future->retain();
    watches_.push_back({key, std::move(initial), future});
    return future;
}

Future* Transaction::commit() {
    std::unique_lock<std::recursive_mutex> lock(mutex_);
    if (commit_state_ != CommitState::kIdle) {
        if (!options_.used_during_commit_protection_disabled) poisoned_ = true;
        return Future::failed(FutureKind::kVoid, kUsedDuringCommit);
    }
    if (int rc = check_deferred_or_state()) return Future::failed(FutureKind::kVoid, rc);
    if (tracing_set_late_) return Future::failed(FutureKind::kVoid, 2117);
    std::vector<PendingWatch> watches;
    watches.swap(watches_);
    if (mutations_.empty() && write_ranges_.empty() && write_points_.empty()) {
        /* Read-only: nothing to resolve or log. */
        commit_state_ = CommitState::kDone;
        committed_version_ = -1;
        Future* stamp = versionstamp_future_;
        versionstamp_future_ = nullptr;
        lock.unlock();
        if (stamp) {
            stamp->fail(kNoCommitVersion);
            stamp->release();
        }
        for (PendingWatch& w : watches) engine_->add_watch(w.key, w.initial, w.future);
        Future* f = new Future(FutureKind::kVoid);
        f->mark_ready();
        return f;
    }
    if (approximate_size_ > options_.size_limit) {
        watches_.swap(watches);
        return Future::failed(FutureKind::kVoid, kTransactionTooLarge);
    }
    if (read_version_ == 0) read_version_ = engine_->read_version(&reader_pin_);
    std::unique_ptr<CommitRequest> request =
        spare_request_ ? std::move(spare_request_) : std::make_unique<CommitRequest>();
    request->read_version = read_version_;
    request->reader_pin = std::move(reader_pin_); /* until the commit is resolved */
    request->api_version = 730;
    /* Nothing reads these after commit (later operations fail 2017; on_error and reset
     * clear them), so they go into the request. A reused request leaves its vectors from
     * the last commit here, emptied on this thread (they were filled on it). */
    request->read_ranges.swap(read_ranges_);
    request->write_ranges.swap(write_ranges_);
    std::swap(request->read_points, read_points_);
    std::swap(request->write_points, write_points_);
    request->mutations.swap(mutations_);
    read_ranges_.clear();
    write_ranges_.clear();
    read_points_.clear();
    write_points_.clear();
    mutations_.clear();
    request->durability_risky = options_.durability_risky;
    commit_state_ = CommitState::kCommitting;
    Future* future = new Future(FutureKind::kVoid);
    future->retain(); /* the engine's reference */
    future->retain(); /* pending_'s reference */
    pending_.push_back(future);
    retain();
    std::shared_ptr<std::vector<PendingWatch>> shared_watches; /* (none: no allocation) */
    if (!watches.empty()) shared_watches = std::make_shared<std::vector<PendingWatch>>(std::move(watches));
    request->done = [this, future, shared_watches](std::unique_ptr<CommitRequest> spent, int error,
                                                   Version version, const std::string& versionstamp) {
        Future* stamp;
        {
            std::lock_guard<std::recursive_mutex> tx_lock(mutex_);
            spare_request_ = std::move(spent); /* emptied by the next commit, on its thread */
            stamp = versionstamp_future_;
            versionstamp_future_ = nullptr;
            auto it = std::find(pending_.begin(), pending_.end(), future);
            if (it != pending_.end()) {
                pending_.erase(it);
                future->release();
            }
            if (commit_state_ == CommitState::kCommitting) commit_state_ = CommitState::kDone;
            if (error == 0 || error == kCommitUnknownResult) {
                if (error == 0) committed_version_ = version;
            }
        }
        if (stamp) {
            if (error == 0) stamp->complete(0, [&](Future& f) { f.bytes = versionstamp; });
            else stamp->fail(kTransactionInvalidVersion);
            stamp->release();
        }
        if (shared_watches) {
            for (PendingWatch& w : *shared_watches) {
                if (error == 0) engine_->add_watch(w.key, w.initial, w.future);
                else {
                    w.future->fail(error);
                    w.future->release();
                }
            }
        }
        /* Drop this reference before the client hears back: if it then destroys the
         * transaction and its database, the store really closes. */
        release();
        future->fail(error);
        future->release();
    };
    lock.unlock();
    engine_->submit(std::move(request));
    return future;
}

Future* Transaction::on_error(int code) {
    std::vector<Future*> to_fail;
    Future* future = nullptr;
    double delay = 0;
    int fail_with = 0;
    {
        std::lock_guard<std::recursive_mutex> lock(mutex_);
        if (cancelled_) return Future::failed(FutureKind::kVoid, kTransactionCancelled);
        if (timed_out_ || (has_deadline_ && std::chrono::steady_clock::now() >= deadline_)) {
            timed_out_ = true;
            return Future::failed(FutureKind::kVoid, kTransactionTimedOut);
        }
        const bool limited = options_.retry_limit != -1 && retries_ >= options_.retry_limit;
        retries_++;
        const bool retried = error_retried_by_on_error(code);
        const bool fixed_wait = code == kTransactionTooOld || code == kFutureVersion;
        if (limited) fail_with = code;
        else if (code == 0) fail_with = kClientInvalidOperation;
        else if (!retried && !fixed_wait) fail_with = (code < 0 || code > 30000) ? kUnknownError : code;
        if (fail_with) {
            cancelled_ = true;
            take_pending(&to_fail);
        } else {
            const double max_delay = options_.max_retry_delay_ms / 1000.0;
            if (fixed_wait) {
                delay = std::min(0.01, max_delay);
            } else {
                delay = backoff_seconds_ * uniform01();
                const double cap = (code == 1042 || code == 1078) ? 30.0 : max_delay;
                backoff_seconds_ = std::min(backoff_seconds_ * 2, cap);
            }
            soft_reset(&to_fail);
            future = new Future(FutureKind::kVoid);
            future->retain();
            pending_.push_back(future);
        }
    }
    for (Future* f : to_fail) {
        f->fail(kTransactionCancelled);
        f->release();
    }
    if (fail_with) return Future::failed(FutureKind::kVoid, fail_with);
    future->retain();
    retain();
    Network::instance().post_at(
        std::chrono::steady_clock::now() + std::chrono::microseconds((int64_t)(delay * 1e6)),
        [this, future] {
            {
                std::lock_guard<std::recursive_mutex> lock(mutex_);
                auto it = std::find(pending_.begin(), pending_.end(), future);
                if (it != pending_.end()) {
                    pending_.erase(it);
                    future->release();
                }
            }
            release();
            future->succeed();
            future->release();
        });
    return future;
}

int Transaction::get_committed_version(int64_t* out) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    *out = committed_version_;
    return 0;
}

Future* Transaction::get_versionstamp() {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    if (cancelled_) return Future::failed(FutureKind::kKey, kTransactionCancelled);
    if (commit_state_ != CommitState::kIdle) return Future::failed(FutureKind::kKey, kUsedDuringCommit);
    if (deferred_error_) return Future::failed(FutureKind::kKey, deferred_error_);
    if (!versionstamp_future_) versionstamp_future_ = new Future(FutureKind::kKey);
    versionstamp_future_->retain();
    return versionstamp_future_;
}

Future* Transaction::get_approximate_size() {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    if (int rc = check_deferred_or_state()) return Future::failed(FutureKind::kInt64, rc);
    Future* f = new Future(FutureKind::kInt64);
    f->int64_value = approximate_size_;
    f->mark_ready();
    return f;
}

Future* Transaction::get_total_cost() {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    if (int rc = check_deferred_or_state()) return Future::failed(FutureKind::kInt64, rc);
    Future* f = new Future(FutureKind::kInt64);
    f->int64_value = total_cost_;
    f->mark_ready();
    return f;
}

Future* Transaction::get_estimated_range_size_bytes(const std::string& begin, const std::string& end) {
    if (begin > end) return Future::failed(FutureKind::kInt64, kInvertedRange);
    return read(FutureKind::kInt64, [this, begin, end](Future& f) -> int {
        std::shared_lock<std::shared_mutex> data(engine_->data_mutex());
        f.int64_value = engine_->store().range_bytes(begin, end, read_version_);
        return 0;
    });
}

Future* Transaction::get_range_split_points(const std::string& begin, const std::string& end,
                                            int64_t chunk_size, int limit) {
    if (begin > end) return Future::failed(FutureKind::kKeyArray, kInvertedRange);
    if (chunk_size <= 0) return Future::failed(FutureKind::kKeyArray, kInvalidOptionValue);
    return read(FutureKind::kKeyArray, [this, begin, end, chunk_size, limit](Future& f) -> int {
        std::vector<std::string> points{begin};
        {
            std::shared_lock<std::shared_mutex> data(engine_->data_mutex());
            const Store& store = engine_->store();
            int64_t bytes = 0;
            for (auto it = store.next_present(begin, true, read_version_);
                 it != store.end() && it->key < end; it = store.next_present_after(it, read_version_)) {
                if (bytes >= chunk_size && it->key != begin) {
                    if (limit >= 0 && (int)points.size() - 1 >= limit) break;
                    points.push_back(it->key);
                    bytes = 0;
                }
                bytes += (int64_t)(it->key.size() + Store::value_at(it, read_version_)->size());
            }
        }
        points.push_back(end);
        size_t total = 0;
        for (const auto& p : points) total += p.size();
        f.arena.reserve(total);
        for (const auto& p : points) f.arena.append(p);
        const uint8_t* base = reinterpret_cast<const uint8_t*>(f.arena.data());
        size_t at = 0;
        for (const auto& p : points) {
            f.keys.push_back(FDBKey{base + at, (int)p.size()});
            at += p.size();
        }
        return 0;
    });
}

/* ------------------------------------------------------------------------------------
 * The special-key space
 * ---------------------------------------------------------------------------------- */

namespace {

const char* const kSpecialModules[] = {
    "\xff\xff/cluster_file_path",          /* single keys */
    "\xff\xff/connection_string",
    "\xff\xff/status/json",
    "\xff\xff/tracing/",                   /* prefixes */
    "\xff\xff/transaction/",
};
const int kSingleKeyModules = 3;

std::string random_nonzero_hex64() {
    static thread_local std::mt19937_64 random(std::random_device{}());
    uint64_t v = 0;
    while (v == 0) v = random();
    char text[17];
    snprintf(text, sizeof text, "%016llx", (unsigned long long)v);
    return text;
}

std::string random_token() {
    static thread_local std::mt19937_64 random(std::random_device{}());
    uint64_t v = 0;
    while (v == 0) v = random();
    return std::to_string(v);
}

}  // namespace

const std::string& Transaction::tracing_id() {
    if (tracing_id_.empty()) tracing_id_ = random_nonzero_hex64() + random_nonzero_hex64();
    if (tracing_token_.empty()) tracing_token_ = random_token();
    return tracing_id_;
}

/* Index of the module holding `key`, or -1. */
int Transaction::special_module_of(const std::string& key) const {
    for (int i = 0; i < (int)(sizeof kSpecialModules / sizeof *kSpecialModules); i++) {
        const std::string module = kSpecialModules[i];
        if (i < kSingleKeyModules ? key == module : key.compare(0, module.size(), module) == 0)
            return i;
    }
    return -1;
}

std::map<std::string, std::string> Transaction::special_rows() {
    std::map<std::string, std::string> rows;
    rows["\xff\xff/cluster_file_path"] = database_->connection;
    rows["\xff\xff/connection_string"] = database_->connection;
    rows["\xff\xff/status/json"] = engine_->status_json();
    rows["\xff\xff/tracing/transaction_id"] = tracing_id();
    rows["\xff\xff/tracing/token"] = tracing_token_;
    auto add_ranges = [&rows](const std::string& prefix, std::vector<KeyRange> ranges,
                              const PointKeys& points) {
        for (size_t i = 0; i < points.size(); i++) {
            std::string key(points[i]);
            ranges.push_back({key, key_after(key)});
        }
        std::sort(ranges.begin(), ranges.end(),
                  [](const KeyRange& a, const KeyRange& b) { return a.begin < b.begin; });
        std::vector<KeyRange> merged;
        for (KeyRange& r : ranges) {
            if (!merged.empty() && r.begin <= merged.back().end) {
                if (r.end > merged.back().end) merged.back().end = r.end;
            } else {
                merged.push_back(r);
            }
        }
        for (const KeyRange& r : merged) {
            rows[prefix + r.begin] = "1";
            rows[prefix + r.end] = "0";
        }
    };
    add_ranges("\xff\xff/transaction/read_conflict_range/", read_ranges_, read_points_);
    add_ranges("\xff\xff/transaction/write_conflict_range/", write_ranges_, write_points_);
    return rows;
}

Future* Transaction::special_get(const std::string& key) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    if (int rc = check_deferred_or_state()) return Future::failed(FutureKind::kValue, rc);
    if (special_module_of(key) < 0 && !options_.special_key_space_relaxed)
        return Future::failed(FutureKind::kValue, kSpecialKeysNoModuleFound);
    std::map<std::string, std::string> rows = special_rows();
    Future* f = new Future(FutureKind::kValue);
    auto it = rows.find(key);
    f->present = it != rows.end();
    if (f->present) f->bytes = it->second;
    f->mark_ready();
    return f;
}

Future* Transaction::special_get_range(const std::string& begin, const std::string& end, int limit,
                                       bool reverse) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    if (int rc = check_deferred_or_state()) return Future::failed(FutureKind::kKeyValueArray, rc);
    if (begin > end) return Future::failed(FutureKind::kKeyValueArray, kInvertedRange);
    /* Which modules does [begin, end) touch? */
    int touched = 0;
    for (int i = 0; i < (int)(sizeof kSpecialModules / sizeof *kSpecialModules); i++) {
        const std::string module = kSpecialModules[i];
        const std::string module_end =
            i < kSingleKeyModules ? key_after(module) : module.substr(0, module.size() - 1) + "0";
        if (begin < module_end && module < end) touched++;
    }
    if (!options_.special_key_space_relaxed) {
        if (touched == 0) return Future::failed(FutureKind::kKeyValueArray, kSpecialKeysNoModuleFound);
        if (touched > 1) return Future::failed(FutureKind::kKeyValueArray, kSpecialKeysCrossModuleRead);
    }
    std::map<std::string, std::string> all = special_rows();
    std::vector<std::pair<std::string, std::string>> rows;
    for (auto it = all.lower_bound(begin); it != all.end() && it->first < end; ++it) rows.push_back(*it);
    if (reverse) std::reverse(rows.begin(), rows.end());
    bool more = false;
    if (limit > 0 && (int)rows.size() > limit) {
        rows.resize((size_t)limit);
        more = true;
    }
    Future* f = new Future(FutureKind::kKeyValueArray);
    size_t total = 0;
    for (const auto& row : rows) total += row.first.size() + row.second.size();
    f->arena.reserve(total);
    for (const auto& row : rows) {
        f->arena.append(row.first);
        f->arena.append(row.second);
    }
    const uint8_t* base = reinterpret_cast<const uint8_t*>(f->arena.data());
    size_t at = 0;
    for (const auto& row : rows) {
        FDBKeyValue kv;
        kv.key = base + at;
        kv.key_length = (int)row.first.size();
        at += row.first.size();
        kv.value = base + at;
        kv.value_length = (int)row.second.size();
        at += row.second.size();
        f->kvs.push_back(kv);
    }
    f->more = more;
    f->mark_ready();
    return f;
}

/* Writes to special keys: only the tracing module is writable (with
 * special_key_space_enable_writes). Called with the lock held. */
void Transaction::special_set(const std::string& key, const std::string& value) {
    if (!options_.special_key_space_enable_writes) return defer_error(kSpecialKeysWriteDisabled);
    if (special_module_of(key) == 3 && approximate_size_ > 0) {
        tracing_set_late_ = true; /* too late to change tracing: ignored, and commit fails */
        return;
    }
    if (key == "\xff\xff/tracing/transaction_id") {
        tracing_id();
        tracing_id_ = value;
    } else if (key == "\xff\xff/tracing/token") {
        tracing_id();
        if (value == "false") tracing_token_ = "0";
        else if (value == "true") tracing_token_ = random_token();
        else return defer_error(2117);
    } else {
        return defer_error(2115);
    }
}

}  // namespace found


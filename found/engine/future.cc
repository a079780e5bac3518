/* future.cc — future state machine: pending → ready (value or error), then read through
 * typed getters until destroyed. release_memory is counted against successful gets, as
 * FDB does, so a getter after the last release reports 1102. */
#include "future.h"

#include "errors.h"
#include "network.h"

namespace found {

Future* Future::failed(FutureKind kind, int error) {
    Future* f = new Future(kind);
    f->mark_ready(error);
    return f;
}

void Future::add_settle_hook(std::function<void()> hook) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!ready_.load(std::memory_order_relaxed)) {
            settle_hooks_.push_back(std::move(hook));
            return;
        }
    }
    hook(); /* already settled */
}

int Future::block_until_ready() {
    if (is_ready()) return 0;
    if (Network::instance().on_network_thread()) return kBlockedFromNetworkThread;
    std::unique_lock<std::mutex> lock(mutex_);
    waiters_++;
    ready_cv_.wait(lock, [this] { return ready_.load(std::memory_order_acquire); });
    waiters_--;
    return 0;
}

int Future::set_callback(FDBCallback callback, void* parameter) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!ready_.load(std::memory_order_relaxed)) {
            callbacks_.emplace_back(callback, parameter);
            return 0;
        }
    }
    callback(this, parameter);
    return 0;
}

void Future::cancel() { fail(kOperationCancelled); }

void Future::destroy() {
    /* A ready future nobody else holds (a read answered at once): nothing to cancel, and
     * no other thread can be looking, so no lock. */
    if (ready_.load(std::memory_order_acquire) && refs_.load(std::memory_order_acquire) == 1) {
        release();
        return;
    }
    std::vector<std::function<void()>> hooks;
    bool was_pending;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        destroyed_ = true;
        callbacks_.clear();
        was_pending = !ready_.load(std::memory_order_relaxed);
        if (was_pending) {
            error_ = kOperationCancelled;
            ready_.store(true, std::memory_order_release);
            if (waiters_) ready_cv_.notify_all();
            hooks.swap(settle_hooks_);
        }
    }
    for (auto& hook : hooks) hook();
    release();
}

void Future::release_memory() {
    std::lock_guard<std::mutex> lock(mutex_);
    releases_++;
    if (releases_ >= gets_) released_ = true;
}

int Future::check_get(FutureKind expected) {
    if (!is_ready()) return kFutureNotSet;
    if (error_) return error_;
    if (kind_ != expected) return kClientInvalidOperation;
    if (released_) return kFutureReleased;
    gets_++;
    return 0;
}

int Future::get_error() {
    if (!is_ready()) return kFutureNotSet;
    return error_;
}

int Future::get_int64(int64_t* out) {
    int rc = check_get(FutureKind::kInt64);
    if (rc == 0) *out = int64_value;
    return rc;
}

int Future::get_uint64(uint64_t* out) {
    int rc = check_get(FutureKind::kUint64);
    if (rc == 0) *out = uint64_value;
    return rc;
}

int Future::get_double(double* out) {
    int rc = check_get(FutureKind::kDouble);
    if (rc == 0) *out = double_value;
    return rc;
}

int Future::get_bool(fdb_bool_t* out) {
    int rc = check_get(FutureKind::kBool);
    if (rc == 0) *out = present ? 1 : 0;
    return rc;
}

int Future::get_key(const uint8_t** key, int* length) {
    int rc = check_get(FutureKind::kKey);
    if (rc == 0) {
        *key = reinterpret_cast<const uint8_t*>(bytes.data());
        *length = (int)bytes.size();
    }
    return rc;
}

int Future::get_value(fdb_bool_t* out_present, const uint8_t** value, int* length) {
    int rc = check_get(FutureKind::kValue);
    if (rc == 0) {
        *out_present = present ? 1 : 0;
        *value = reinterpret_cast<const uint8_t*>(bytes.data());
        *length = present ? (int)bytes.size() : 0;
    }
    return rc;
}

int Future::get_keyvalue_array(const FDBKeyValue** out, int* count, fdb_bool_t* out_more) {
    int rc = check_get(FutureKind::kKeyValueArray);
    if (rc == 0) {
        *out = kvs.empty() ? nullptr : kvs.data();
        *count = (int)kvs.size();
        *out_more = more ? 1 : 0;
    }
    return rc;
}

int Future::get_key_array(const FDBKey** out, int* count) {
    int rc = check_get(FutureKind::kKeyArray);
    if (rc == 0) {
        *out = keys.empty() ? nullptr : keys.data();
        *count = (int)keys.size();
    }
    return rc;
}

int Future::get_string_array(const char*** out, int* count) {
    int rc = check_get(FutureKind::kStringArray);
    if (rc == 0) {
        string_pointers.clear();
        for (const std::string& s : strings) string_pointers.push_back(s.c_str());
        *out = string_pointers.empty() ? nullptr : string_pointers.data();
        *count = (int)strings.size();
    }
    return rc;
}

int Future::get_keyrange_array(const FDBKeyRange** out, int* count) {
    int rc = check_get(FutureKind::kKeyRangeArray);
    if (rc == 0) {
        *out = ranges.empty() ? nullptr : ranges.data();
        *count = (int)ranges.size();
    }
    return rc;
}

int Future::get_mappedkeyvalue_array(const FDBMappedKeyValue** out, int* count,
                                     fdb_bool_t* out_more) {
    int rc = check_get(FutureKind::kMappedKeyValueArray);
    if (rc == 0) {
        *out = nullptr;
        *count = 0;
        *out_more = 0;
    }
    return rc;
}

}  // namespace found

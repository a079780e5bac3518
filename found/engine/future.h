/* future.h — FDBFuture: a one-shot result slot shared by the engine (which completes it)
 * and the client (which reads, waits on, or destroys it). Reference-counted: the client
 * holds one reference until fdb_future_destroy, the engine one while it may complete it.
 * Callbacks run exactly once, never under the future's lock (they re-enter the API). */
#ifndef FOUND_FUTURE_H
#define FOUND_FUTURE_H

#include <stdint.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "fdb_c_abi.h"
#include "live_objects.h"

struct FDBFuture {};

namespace found {

enum class FutureKind {
    kVoid, kInt64, kUint64, kDouble, kBool, kKey, kValue,
    kKeyValueArray, kKeyArray, kStringArray, kKeyRangeArray, kMappedKeyValueArray
};

class Future : public FDBFuture {
public:
    explicit Future(FutureKind kind) : kind_(kind) {
        live_objects().futures.fetch_add(1, std::memory_order_relaxed);
    }

    /* A future that is already ready with `error` (argument errors found at call time). */
    static Future* failed(FutureKind kind, int error);

    static Future* from(FDBFuture* f) { return static_cast<Future*>(f); }

    void retain() { refs_.fetch_add(1, std::memory_order_relaxed); }
    void release() {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }

    /* --- completion (any thread). `fill` writes the result fields under the lock. Returns
     *     false (and does nothing) when the future was already ready or destroyed. --- */
    template <class Fill>
    bool complete(int error, Fill&& fill) {
        std::vector<std::pair<FDBCallback, void*>> callbacks;
        std::vector<std::function<void()>> hooks;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (ready_.load(std::memory_order_relaxed)) return false;
            error_ = error;
            if (error == 0) fill(*this);
            ready_.store(true, std::memory_order_release);
            callbacks.swap(callbacks_);
            hooks.swap(settle_hooks_);
            if (waiters_) ready_cv_.notify_all();
        }
        for (auto& [callback, parameter] : callbacks) callback(this, parameter);
        for (auto& hook : hooks) hook();
        return true;
    }
    bool fail(int error) { return complete(error, [](Future&) {}); }
    bool succeed() { return complete(0, [](Future&) {}); }
    /* Marks a freshly built future ready without locking: only before it is handed out. */
    void mark_ready(int error = 0) {
        error_ = error;
        ready_.store(true, std::memory_order_release);
    }

    /* Called once (outside locks) when the future stops being pending for any reason —
     * completed, cancelled or destroyed — so a watch frees its max_watches slot. */
    void add_settle_hook(std::function<void()> hook);

    /* --- the C API --- */
    bool is_ready() const { return ready_.load(std::memory_order_acquire); }
    int block_until_ready();
    int set_callback(FDBCallback callback, void* parameter);
    void cancel();
    void destroy();
    void release_memory();
    int get_error();
    int get_int64(int64_t* out);
    int get_uint64(uint64_t* out);
    int get_double(double* out);
    int get_bool(fdb_bool_t* out);
    int get_key(const uint8_t** key, int* length);
    int get_value(fdb_bool_t* present, const uint8_t** value, int* length);
    int get_keyvalue_array(const FDBKeyValue** kvs, int* count, fdb_bool_t* more);
    int get_key_array(const FDBKey** keys, int* count);
    int get_string_array(const char*** strings, int* count);
    int get_keyrange_array(const FDBKeyRange** ranges, int* count);
    int get_mappedkeyvalue_array(const FDBMappedKeyValue** kvs, int* count, fdb_bool_t* more);

    /* --- result fields, written by `fill` or before the future is handed out --- */
    int64_t int64_value = 0;
    uint64_t uint64_value = 0;
    double double_value = 0;
    bool present = false;
    std::string bytes;          /* key or value */
    std::string arena;          /* backing bytes of the arrays below */
    std::vector<FDBKeyValue> kvs;
    bool more = false;
    std::vector<FDBKey> keys;
    std::vector<std::string> strings;
    std::vector<const char*> string_pointers;
    std::vector<FDBKeyRange> ranges;

    FutureKind kind() const { return kind_; }

private:
    ~Future() { live_objects().futures.fetch_sub(1, std::memory_order_relaxed); }
    /* Shared checks of every getter: pending, error, wrong kind, released. */
    int check_get(FutureKind expected);

    const FutureKind kind_;
    std::atomic<int> refs_{1};
    std::atomic<bool> ready_{false};
    int error_ = 0;
    bool destroyed_ = false;
    int gets_ = 0;
    int releases_ = 0;
    bool released_ = false;
    int waiters_ = 0;
    std::mutex mutex_;
    std::condition_variable ready_cv_;
    std::vector<std::pair<FDBCallback, void*>> callbacks_;
    std::vector<std::function<void()>> settle_hooks_;
};

}  // namespace found

#endif

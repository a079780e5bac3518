/* engine.h — one store instance: the MVCC map, its version clock, the resolver, the log
 * and the watches. Every FDBDatabase handle naming the same data directory (or the same
 * found:memory:NAME) shares one Engine; it closes with the last handle. Commits are
 * resolved, logged, synced and applied in batches on the network thread (group commit).
 *
 * Several processes may open one data directory: each has its own Engine (its own copy of
 * the store), they take turns appending to the shared log under the commit lock (synced
 * outside it), and each follows the others' records (see shared_state.h) before handing
 * out a read version, before resolving a batch, and on a timer for watches. */
#ifndef FOUND_ENGINE_H
#define FOUND_ENGINE_H

#include <stdint.h>

#include <atomic>
#include <thread>
#include <condition_variable>
#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <shared_mutex>
#include <string>
#include <vector>

#include "conflicts.h"
#include "future.h"
#include "shared_state.h"
#include "store.h"
#include "wal.h"

namespace found {

/* A mutation as the client issued it; atomic ops are resolved against the latest state
 * at commit time. */
struct Mutation {
    enum Kind : uint8_t { kSet, kClear, kClearRange, kAtomic };
    Kind kind;
    int op = 0; /* atomic op code for kAtomic */
    std::string key;
    std::string param; /* value, end key or atomic operand */
};

class Engine;

/* A live transaction's read version, held so the resolver keeps the conflict history it
 * may still need (older history is forgotten; see Engine::forget_old_conflicts). */
class ReaderPin {
public:
    ReaderPin() = default;
    ReaderPin(const ReaderPin&) = delete;
    ReaderPin& operator=(const ReaderPin&) = delete;
    ReaderPin(ReaderPin&& other) noexcept { *this = std::move(other); }
    ReaderPin& operator=(ReaderPin&& other) noexcept;
    ~ReaderPin() { reset(); }
    void hold(Engine* engine, Version version);
    void reset();

private:
    Engine* engine_ = nullptr;
    std::multiset<Version>::iterator at_;
};

struct CommitRequest {
    Version read_version = 0;
    ReaderPin reader_pin; /* released once the request is resolved and done */
    int api_version = 0;
    std::vector<KeyRange> read_ranges;
    std::vector<KeyRange> write_ranges;
    /* Single-key conflict ranges [key, key + \0), kept as keys (see point_keys.h). */
    PointKeys read_points;
    PointKeys write_points;
    std::vector<Mutation> mutations;
    /* FDB's durability_risky option: acknowledged before the log is synced (a background
     * sync follows within found_relaxed_sync_ms). */
    bool durability_risky = false;
    /* Runs on the network thread once the outcome is known (error 0 = durable), given the
     * spent request back: its buffers were allocated on the client's thread, and the
     * transaction reuses them or frees them there (freeing them on the network thread
     * made it wait for the client thread's allocator lock). */
    std::function<void(std::unique_ptr<CommitRequest> spent, int error, Version commit_version,
                       const std::string& versionstamp)>
        done;

    /* Unpins the read version (before done: done may release the engine), then hands the
     * request to its own `done`. */
    static void finish(std::unique_ptr<CommitRequest> request, int error, Version commit_version,
                       const std::string& versionstamp) {
        request->reader_pin.reset();
        auto call = std::move(request->done);
        request->done = nullptr;
        call(std::move(request), error, commit_version, versionstamp);
    }
};

struct Knobs {
    int64_t mvcc_window_versions = 5000000;
    int64_t future_version_wait_ms = 1000;
    bool sync = true;
    /* Log size that starts a checkpoint, and the background sync period of relaxed commits. */
    int64_t checkpoint_bytes = 64LL << 20;
    int64_t relaxed_sync_ms = 100;
    /* Fault injection: fraction of commits failed with a retryable error, and its seed. */
    double fault_probability = 0.0;
    uint64_t fault_seed = 0;
};

/* Process-wide knobs, set by the knob network option or FOUND_* environment variables. */
Knobs& knobs();

class Engine {
public:
    /* Opens or shares the engine for `location`: a data directory, "memory" (fresh),
     * "memory:NAME" (shared by name) or "unavailable". Returns 0 or an FDB error, with a
     * reason in `message`. */
    static int open(const std::string& location, Engine** out, std::string* message);
    void retain();
    void release();

    /* --- versions --- */
    /* A read version that sees every acknowledged commit (never blocks); held in `pin`
     * (when given) before this process follows the log. */
    Version read_version(ReaderPin* pin = nullptr);
    /* 0 when reads at `version` may proceed now, 1007 when too old, or -1 when they must
     * wait (a future version, or a commit at that version still in flight). */
    int check_read_version(Version version);
    /* The newest version the clock or a commit has reached. */
    Version current_version();

    /* --- reads: hold data_mutex() shared while using store() --- */
    std::shared_mutex& data_mutex() { return data_mutex_; }
    const Store& store() const { return store_; }

    /* --- read versions held by live transactions (see ReaderPin) --- */
    std::multiset<Version>::iterator pin_reader(Version version);
    void unpin_reader(std::multiset<Version>::iterator at);

    /* --- commits --- */
    void submit(std::unique_ptr<CommitRequest> request);

    /* --- watches --- */
    /* Fires `future` once the committed value of `key` differs from `initial`. */
    void add_watch(const std::string& key, std::optional<std::string> initial, Future* future);

    /* A small JSON document: key count, bytes, log size, last checkpoint… */
    std::string status_json();

    /* Brings this process's store up to the published end of the shared log (what other
     * processes committed), firing watches on what changed. 0 or an FDB error. */
    int catch_up();

    bool unavailable() const { return unavailable_; }
    bool in_memory() const { return memory_; }
    const std::string& location() const { return location_; }
    int64_t wal_bytes() const { return wal_.size(); }

private:
    Engine() = default;
    ~Engine();
    int load(std::string* message);
    /* Opening as the only process: recover the files, then initialise the shared state. */
    int recover_alone(std::string* message);
    /* Loads the latest checkpoint and the log up to its published end into a fresh store:
     * opening beside other processes, or after falling behind more than one rotation. */
    int reload(std::string* message);
    /* Under follow_mutex_: reads and applies what others published; collects fired watches. */
    int follow(std::vector<Future*>* fired);
    void apply_followed(std::vector<LoggedCommit>& commits, std::vector<Future*>* fired);
    void complete_watches(std::vector<Future*> fired);
    /* A version for the next commit (above every read version handed out); the first of a
     * batch also announces the batch so read versions stay below it. */
    Version next_commit_version(bool first_of_batch);
    /* Under the commit lock and follow_mutex_: follows the log, then repairs what a process
     * that died holding the lock left — a rotation renamed but not published (finished),
     * a torn write past the appended end (cut off), a batch announced but never listed
     * (read versions freed from it). */
    int recover_dead_holder(std::vector<Future*>* fired);
    void finish_dead_rotation();
    int repair_dead_append();
    /* Under follow_mutex_: now and then drops the conflict history no live transaction
     * of this process can need (older than its oldest read version). */
    void forget_old_conflicts();
    /* The network-thread timer: follows other processes' commits (for watches) and cuts
     * off the batch of a committer that died. */
    void schedule_poll();
    void poll();
    void recheck_watches();
    /* Under neither lock: moves the watches whose key now differs (at the visible
     * version) from their initial value into `fired`. */
    void collect_changed_watches(std::vector<Future*>* fired);
    /* With the store not being written (data_mutex_ or follow_mutex_ held): whether `key`
     * still holds `initial` at version `visible`. */
    bool watch_unchanged(const std::string& key, const std::optional<std::string>& initial,
                         Version visible) const;
    /* The newest version read versions may reach now (below the oldest unsynced batch). */
    Version visible_version();
    /* The list of appended batches not yet durable (shared_state.h), under the commit lock. */
    void push_unsynced(int64_t end_position, Version version);
    void publish_unsynced(int64_t up_to);
    void clear_unsynced();
    int sync_and_publish_all();
    /* Resolves, logs and applies the queued commits; returns the completions to run once
     * the pipeline's own reference is dropped (so closing the last handle right after a
     * commit really closes the store). */
    struct Outcome {
        int error = 0;
        Version version = 0;
        std::string versionstamp;
    };
    std::vector<std::function<void()>> process_commits(
        std::vector<std::unique_ptr<CommitRequest>> batch);
    /* After the batch was appended and the commit lock released: sync (when it must),
     * publish, and return the completions. */
    std::vector<std::function<void()>> finish_commits(
        bool wait_for_sync, int dup_fd, int64_t batch_end, std::vector<Outcome> outcomes,
        std::vector<std::unique_ptr<CommitRequest>> batch, std::vector<LoggedCommit> accepted,
        std::vector<Future*> fired_by_others);
    /* What applying a record may move into the store instead of copying: its values
     * (the caller still needs the keys: watches are checked against them), or its keys
     * too (a replay, whose records are dropped right after). A commit's strings were
     * made on the client's thread: copying them here and freeing the originals made
     * this thread contend for the client thread's allocator lock. */
    enum class Taking { kValues, kKeysAndValues };
    static void apply_to(Store& store, LoggedCommit& commit, Version oldest, Taking taking);
    void apply(LoggedCommit& commit, Version oldest) { apply_to(store_, commit, oldest, Taking::kValues); }
    /* data_mutex_, exclusively, announced in appliers_waiting_ while waiting for it. */
    std::unique_lock<std::shared_mutex> lock_store_for_apply() {
        appliers_waiting_.fetch_add(1, std::memory_order_relaxed);
        std::unique_lock<std::shared_mutex> lock(data_mutex_);
        appliers_waiting_.fetch_sub(1, std::memory_order_relaxed);
        return lock;
    }
    /* Removes and returns the watches these commits fire (the caller completes them). */
    std::vector<Future*> fire_watches(const std::vector<LoggedCommit>& commits);
    void forget_watch(const std::string& key, Future* future);
    int injected_fault();
    Version clock_version() const;
    /* The oldest version a reader may still use: the MVCC window, or a running
     * checkpoint's version if older. */
    Version oldest_readable();
    void maybe_checkpoint();
    static void yield_to_commits();
    void write_checkpoint(Version version, int64_t log_position, int log_fd);
    void finish_checkpoint(int error, Version version, int64_t log_position, int64_t bytes,
                           const std::string& message, Wal::RotationCopy copy);
    void schedule_relaxed_sync();

    std::string location_;
    std::string directory_;
    bool memory_ = false;
    bool unavailable_ = false;
    uint64_t id_ = 0;        /* distinguishes engines reopened at one location */
    int lock_fd_ = -1;       /* held shared while open: the first opener knows it is alone */
    int checkpoint_fd_ = -1; /* held exclusive by the process writing a checkpoint */
    std::atomic<int> refs_{1};

    /* Versions, the published log end and the batch in flight, shared between processes. */
    SharedState shared_;
    /* How far this process has applied the shared log (a position, see shared_state.h). */
    std::atomic<int64_t> local_position_{0};
    /* Reads below this version are too old: the store was reloaded from a checkpoint. */
    std::atomic<Version> reload_floor_{0};
    /* Serialises following the log with the pipeline's resolve and apply (which also
     * touch the conflict map, the store and the log position). */
    std::mutex follow_mutex_;
    std::string follow_error_;
    /* Commits reading below this version fail 1020: their conflict history was forgotten
     * or skipped. */
    Version conflict_floor_ = 0;

    int64_t last_unsynced_seen_ = 0;  /* poll: the oldest unsynced batch last time, */
    std::chrono::steady_clock::time_point last_unsynced_since_; /* and since when */
    int64_t last_committing_seen_ = 0; /* poll: `committing` at the last watch recheck */

    std::mutex readers_mutex_;
    std::multiset<Version> readers_;

    std::shared_mutex data_mutex_;
    /* Appliers waiting for data_mutex_ exclusively: a checkpoint copying rows under the
     * shared lock lets go at the next row instead of finishing its chunk (at nice 19 on
     * a busy machine, a chunk could hold a commit up for milliseconds). */
    std::atomic<int> appliers_waiting_{0};
    Store store_;

    Version last_version_ = 0; /* while loading: the highest version replayed */

    /* The commit pipeline: everything below is touched only under pipeline_mutex_ (by the
     * network thread, or by a caller committing inline), except the queue. */
    std::mutex pipeline_mutex_;
    std::mutex queue_mutex_;
    std::vector<std::unique_ptr<CommitRequest>> queue_;
    std::string wal_buffer_; /* process_commits' log records, reused (see there) */
    bool processing_scheduled_ = false;
    ConflictMap conflicts_;
    Wal wal_;
    std::mt19937_64 fault_random_;

    size_t conflicts_size_after_forget_ = 0;

    /* Checkpoints (the version pinned while one runs; INT64_MAX when none). */
    std::atomic<bool> checkpoint_running_{false};
    std::atomic<Version> checkpoint_pin_{INT64_MAX};
    Version applied_version_ = 0;
    Version snapshot_version_ = 0;
    int64_t snapshot_bytes_ = 0;
    int64_t checkpoints_ = 0;
    int64_t last_checkpoint_unix_ = 0;
    std::string last_checkpoint_error_;
    bool relaxed_unsynced_ = false;
    bool relaxed_sync_scheduled_ = false;

    std::mutex watch_mutex_;
    std::multimap<std::string, std::pair<std::optional<std::string>, Future*>> watches_;
};

}  // namespace found

#endif

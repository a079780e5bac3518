/* shared_state.h — what the processes sharing one data directory agree on.
 *
 * A small file, <dir>/shared, mapped into every process that has the directory open. It
 * holds the published end of the log, the version clock and the commit in flight; the
 * commit lock is an advisory lock (flock) on the same file, held only while a process
 * appends a batch. The kernel drops the lock of a process that dies, so a SIGKILLed
 * committer never blocks the others; what it may have half-written lies past the
 * published end and is cut off by the next committer.
 *
 * The mapping is trusted only within the boot that wrote it (the boot id is recorded):
 * its stores reach other processes through the page cache, not through the disk. After a
 * reboot the first process to open the directory recovers from the files alone.
 *
 * An in-memory store uses the same layout on the heap, without files or locks. */
#ifndef FOUND_SHARED_STATE_H
#define FOUND_SHARED_STATE_H

#include <stdint.h>

#include <atomic>
#include <mutex>
#include <string>

namespace found {

constexpr int kUnsyncedBatches = 64;

struct SharedLayout {
    char magic[8];  /* "FOUNDSHM" */
    uint32_t format;
    uint32_t reserved;
    char boot_id[48];
    /* (log generation << 40) | byte offset where the appended records end: whole records
     * that processes follow (a batch not yet synced and published among them is invisible
     * to read versions, which stay below `committing`). */
    std::atomic<int64_t> log_position;
    /* The highest version handed out as a read version or taken by a commit. */
    std::atomic<int64_t> max_version;
    /* While batches are appended but not yet durable: a lower bound of the versions of the
     * oldest (read versions stay below it); 0 otherwise. */
    std::atomic<int64_t> committing;
    /* The latest rotation, as a position: (its new generation, where in the previous log
     * the new log's records begin). A process still reading the previous log finishes it
     * up to there and continues after the new log's header. */
    std::atomic<int64_t> rotation;
    /* While a rotation renames the new log into place: the position the new log will be
     * published at; 0 otherwise. Left set by a process that died rotating: the next
     * holder of the commit lock finishes (or abandons) the rotation before appending. */
    std::atomic<int64_t> rotating;
    /* 1 while a process writes records past log_position (under the commit lock): left
     * set by one that died mid-write, whose torn bytes the next holder cuts off. */
    std::atomic<int64_t> appending;
    /* The appended batches not yet durable, oldest first (a ring, changed under the
     * commit lock): where each ends (a position) and its lower version bound. A process
     * appends under the lock, syncs without it, then publishes every batch up to its own
     * end (one fdatasync covers all the records before it): processes overlap syncs. */
    std::atomic<int64_t> unsynced_first;
    std::atomic<int64_t> unsynced_count;
    std::atomic<int64_t> unsynced_end[kUnsyncedBatches];
    std::atomic<int64_t> unsynced_version[kUnsyncedBatches];
};

static_assert(std::atomic<int64_t>::is_always_lock_free,
              "the shared state needs address-free 64-bit atomics");

constexpr int kPositionShift = 40;
constexpr int64_t kPositionOffsetMask = (1LL << kPositionShift) - 1;
inline int64_t make_position(int64_t generation, int64_t offset) {
    return (generation << kPositionShift) | offset;
}
inline int64_t position_generation(int64_t position) { return position >> kPositionShift; }
inline int64_t position_offset(int64_t position) { return position & kPositionOffsetMask; }

/* Raises `target` to at least `value`; returns the resulting maximum. */
int64_t fetch_max(std::atomic<int64_t>& target, int64_t value);

class SharedState {
public:
    ~SharedState();

    /* Maps <dir>/shared (creating it); 0 or an FDB error with a reason. */
    int open(const std::string& dir, std::string* message);
    /* A private, zeroed layout for an in-memory store. */
    void open_private();

    SharedLayout& layout() { return *layout_; }
    bool is_private() const { return fd_ < 0; }

    /* Whether the mapping was initialised by a process of this boot (its contents can be
     * trusted: another process of the same boot wrote them). */
    bool valid_for_this_boot() const;
    /* Resets every field; only the first process to open the directory calls it. */
    void initialise(int64_t log_position, int64_t max_version);

    /* The commit lock (blocking); false with a reason when the filesystem cannot lock.
     * An flock belongs to the open file, not to a thread, so a recursive mutex keeps the
     * threads of this process out of each other's way too (a thread may take it again). */
    bool lock_commit(std::string* message);
    /* Without waiting; false when another thread or process holds it. */
    bool try_lock_commit();
    void unlock_commit();

private:
    SharedLayout* layout_ = nullptr;
    int fd_ = -1;
    std::recursive_mutex thread_lock_;
    int depth_ = 0; /* how many times the holding thread took the lock */
};

/* This machine's boot id ("" when unknown). */
std::string boot_id();

}  // namespace found

#endif

/* wal.h — the write-ahead log: every committed transaction's resolved mutations and write
 * conflict ranges, one checksummed record each, appended and synced before the commit is
 * acknowledged. Processes sharing a directory append to it in turn (under the commit
 * lock) and follow each other's records (conflict ranges included) by reading it. */
#ifndef FOUND_WAL_H
#define FOUND_WAL_H

#include <fcntl.h>
#include <stdint.h>

#include <functional>
#include <string>
#include <vector>

#include "key_range.h"
#include "point_keys.h"

namespace found {

struct LoggedMutation {
    enum Type : uint8_t { kSet = 0, kClear = 1, kClearRange = 2 };
    Type type;
    std::string key;
    std::string param; /* the value for kSet, the end key for kClearRange */
};

struct LoggedCommit {
    int64_t version = 0;
    std::vector<LoggedMutation> mutations;
    /* What other processes record in their conflict maps (empty in format-1 records). */
    std::vector<KeyRange> write_ranges;
    /* Single-key write ranges [key, key + \0); a decoded record has here those that
     * name a mutation's key, and the others as write_ranges. */
    PointKeys write_points;
};

class Wal {
public:
    ~Wal();

    static constexpr int64_t kHeaderSize = 16;

    /* Recovery by the first process to open the directory: opens (creating if needed)
     * `<dir>/wal.log` and replays each whole record through `replay`. A torn tail (the
     * crash case) is truncated away; a bad checksum before the last record, a bad header
     * or a newer format fails with 1522, unwritable with 1514. `message` receives a
     * human-readable reason on failure. */
    int open(const std::string& dir, const std::function<void(LoggedCommit&&)>& replay,
             std::string* message);

    /* Opens the current `<dir>/wal.log` without reading or changing it (a process joining
     * others, or following a rotation); generation() tells which log it is. */
    int attach(const std::string& dir, std::string* message);

    /* Decodes the published records in [from, to); any damage there is corruption (1522). */
    int read(int64_t from, int64_t to, std::vector<LoggedCommit>* out, std::string* message) const;

    /* Replacing the log by a new one of generation `generation` holding only the records
     * from byte `offset` on (those a checkpoint does not cover), in three steps.
     * copy_for_rotation, on any thread and under no lock: copies the records in
     * [offset, end) from `source` (a descriptor of the log) into `<dir>/wal.next`, paced
     * (see writeback.h) and synced, where `end` is a published end of the log; this is
     * nearly all of the copying, done while commits go on. Then, under the commit lock:
     * prepare_rotation adds what was appended since `end` and syncs (returning the new
     * log's size), and, once the processes sharing the log can be told, finish_rotation
     * renames wal.next over wal.log (the caller syncs the directory: should the rename be
     * lost in a power failure, the old log holds every record of the new one). 0 or 1510. */
    struct RotationCopy {
        int fd = -1;
        int64_t offset = 0, end = 0, generation = 0;
    };
    /* `<dir>/wal.next`: the next log while a rotation builds it. */
    static std::string next_path(const std::string& dir) { return dir + "/wal.next"; }
    static int copy_for_rotation(const std::string& dir, int source, int64_t offset, int64_t end,
                                 int64_t generation, RotationCopy* copy, std::string* message);
    int prepare_rotation(RotationCopy&& copy, int64_t* new_size, std::string* message);
    int finish_rotation(std::string* message);
    void abandon_rotation();

    /* The generation in the header of `<dir>/wal.log` (-1 when unreadable). */
    static int64_t generation_on_disk(const std::string& dir);
    static int sync_directory(const std::string& dir);

    /* Where the next append goes (the published end, after following other processes). */
    void set_size(int64_t size) { size_ = size; }
    /* Cuts the file back to `size` (records a dead committer left unpublished). */
    int truncate(int64_t size);
    /* Drops the zeros written ahead of the end (the last process closing the log). */
    int trim();

    /* Appends the encoded records (see encode) with one write; 1510 on I/O failure. */
    int append(const std::string& records);
    /* Makes everything appended so far durable (fdatasync); 1510 on failure. */
    int sync();

    /* Encodes one commit as a record (length, CRC-32C, payload) appended to `out`. */
    static void encode(const LoggedCommit& commit, std::string* out);
    /* Decodes a record's payload (what follows its length and checksum); false when its
     * structure is inconsistent. */
    static bool decode(const char* payload, size_t length, LoggedCommit* commit);

    /* A second descriptor of the current log (to sync it without holding the engine's
     * locks while the log may be rotated); -1 on failure. */
    int duplicate_fd() const { return fcntl(fd_, F_DUPFD_CLOEXEC, 0); }

    int64_t size() const { return size_; }
    int64_t generation() const { return generation_; }
    bool is_open() const { return fd_ >= 0; }

private:
    int read_header(int fd, const std::string& path, std::string* message);
    /* Writes zeros ahead so the file holds at least `end` bytes (and some room). */
    int preallocate(int64_t end);

    std::string dir_;
    int fd_ = -1;
    int64_t size_ = 0;      /* where the records end */
    int64_t allocated_ = 0; /* the file's size: zeros from size_ on */
    int64_t generation_ = 0;
    uint32_t format_ = 0;
    int pending_fd_ = -1; /* wal.tmp between prepare_rotation and finish_rotation */
    int64_t pending_generation_ = 0;
};

}  // namespace found

#endif

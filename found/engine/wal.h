/* wal.h — the write-ahead log: every committed transaction's resolved mutations, one
 * checksummed record each, appended and synced before the commit is acknowledged. */
#ifndef FOUND_WAL_H
#define FOUND_WAL_H

#include <stdint.h>

#include <functional>
#include <string>
#include <vector>

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
};

class Wal {
public:
    ~Wal();

    /* Opens (creating if needed) `<dir>/wal.log` and replays each whole record through
     * `replay`. A torn tail (the crash case) is truncated away; a bad checksum before the
     * last record, a bad header or a newer format fails with 1522, unwritable with 1514.
     * `message` receives a human-readable reason on failure. */
    int open(const std::string& dir, const std::function<void(LoggedCommit&&)>& replay,
             std::string* message);

    /* Replaces the log by a new one holding only the records from byte `offset` on (those
     * a checkpoint does not cover): written to wal.tmp, synced, renamed. 0 or 1510. */
    int rotate(int64_t offset, std::string* message);

    /* Appends the encoded records (see encode) with one write; 1510 on I/O failure. */
    int append(const std::string& records);
    /* Makes everything appended so far durable (fdatasync); 1510 on failure. */
    int sync();

    /* Encodes one commit as a record (length, CRC-32C, payload) appended to `out`. */
    static void encode(const LoggedCommit& commit, std::string* out);

    int64_t size() const { return size_; }
    bool is_open() const { return fd_ >= 0; }

private:
    std::string dir_;
    int fd_ = -1;
    int64_t size_ = 0;
};

}  // namespace found

#endif

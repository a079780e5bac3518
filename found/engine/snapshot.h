/* snapshot.h — checkpoint files: the whole store at one version, so opening a database
 * loads live data instead of replaying its whole history. */
#ifndef FOUND_SNAPSHOT_H
#define FOUND_SNAPSHOT_H

#include <stdint.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "writeback.h"

namespace found {

class SnapshotWriter {
public:
    /* Starts `<dir>/snapshot.tmp` for the store at `version`; 0 or an FDB error. */
    int begin(const std::string& dir, int64_t version, std::string* message);
    /* Appends a chunk of (key, value) pairs in key order. */
    int write(const std::vector<std::pair<std::string, std::string>>& rows);
    /* Writes the trailer, syncs, renames to `<dir>/snapshot.dat` and syncs the directory. */
    int finish(std::string* message);
    void abandon();
    int64_t bytes() const { return bytes_; }

private:
    int fd_ = -1;
    std::string dir_;
    uint32_t running_crc_ = 0;
    uint64_t keys_ = 0;
    int64_t bytes_ = 0;
    PacedWriteback writeback_; /* so that commits' syncs never queue behind it */
    int append(const std::string& data);
};

/* Loads `<dir>/snapshot.dat` if present: calls `row` for every pair in order and sets
 * `*version` (0 when there is no snapshot). A damaged file fails with 1522 and a message
 * naming the byte offset. */
int load_snapshot(const std::string& dir,
                  const std::function<void(std::string&&, std::string&&)>& row, int64_t* version,
                  int64_t* bytes, std::string* message);

}  // namespace found

#endif

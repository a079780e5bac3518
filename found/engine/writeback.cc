/* writeback.cc — see writeback.h. */
#include "writeback.h"

#include <fcntl.h> /* sync_file_range (Linux, _GNU_SOURCE) */

namespace found {

void write_back(int fd, int64_t from, int64_t to) {
#if defined(__linux__)
    if (to <= from) return;
    const unsigned flags = SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER;
    (void)sync_file_range(fd, (off64_t)from, (off64_t)(to - from), flags);
#else
    (void)fd;
    (void)from;
    (void)to;
#endif
}

}  // namespace found

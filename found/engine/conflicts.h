/* conflicts.h — the resolver's memory: for every key range, the last version that wrote
 * it. A commit conflicts when a range it read was written after its read version. */
#ifndef FOUND_CONFLICTS_H
#define FOUND_CONFLICTS_H

#include <stdint.h>

#include <map>
#include <string>

namespace found {

class ConflictMap {
public:
    ConflictMap() { last_write_[std::string()] = 0; }

    /* Newest version that wrote any key in [begin, end); 0 when none is remembered. */
    int64_t last_write(const std::string& begin, const std::string& end) const;

    /* Records that [begin, end) was written at `version` (versions only grow). */
    void record_write(const std::string& begin, const std::string& end, int64_t version);

    /* Forgets writes older than `oldest`: no transaction that could conflict with them can
     * still commit (it would fail 1007 first). Keeps the map proportional to recent writes. */
    void forget_before(int64_t oldest);

    size_t size() const { return last_write_.size(); }

private:
    /* Boundary key → version of the interval [key, next boundary). */
    std::map<std::string, int64_t> last_write_;
};

}  // namespace found

#endif

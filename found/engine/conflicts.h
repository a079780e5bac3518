/* conflicts.h — the resolver's memory: for every key range, the last version that wrote
 * it. A commit conflicts when a range it read was written after its read version.
 *
 * Two parts: an interval map (boundary key → version of the interval it starts), where
 * each written range costs two map insertions; and a few recent "runs", each the sorted
 * ranges of one commit that wrote many, kept whole and searched by bisection. A bulk
 * commit of thousands of keys thus records its ranges by moving one vector, and most runs
 * are forgotten (every reader has moved past them) before they are ever folded into the
 * map. */
#ifndef FOUND_CONFLICTS_H
#define FOUND_CONFLICTS_H

#include <stdint.h>

#include <map>
#include <string>
#include <vector>

#include "key_range.h"

namespace found {

class ConflictMap {
public:
    ConflictMap() { last_write_[std::string()] = 0; }

    /* Newest version that wrote any key in [begin, end); 0 when none is remembered. */
    int64_t last_write(const std::string& begin, const std::string& end) const;

    /* Records that [begin, end) was written at `version` (versions only grow). */
    void record_write(const std::string& begin, const std::string& end, int64_t version);

    /* Records every range of `ranges` (in any order, overlapping or not) as written at
     * `version`, taking the vector; versions only grow. */
    void record_writes(std::vector<KeyRange>&& ranges, int64_t version);

    /* Forgets writes older than `oldest`: no transaction that could conflict with them can
     * still commit (it would fail 1007 first). Keeps the map proportional to recent writes. */
    void forget_before(int64_t oldest);

    /* Boundaries and run ranges remembered: what forgetting would shrink. */
    size_t size() const { return last_write_.size() + run_ranges_; }

    /* A commit with fewer ranges goes into the map; more make a run. */
    static constexpr size_t kRunMinimum = 64;
    /* Past this many runs, the oldest is folded into the map. */
    static constexpr size_t kMaxRuns = 8;

private:
    struct Run {
        int64_t version;
        std::vector<KeyRange> ranges; /* sorted, disjoint, none empty */
    };

    /* Raises every interval of [begin, end) to at least `version` (folding an old run
     * must not lower what newer commits wrote). */
    void raise_to(const std::string& begin, const std::string& end, int64_t version);
    static bool intersects(const Run& run, const std::string& begin, const std::string& end);

    /* Boundary key → version of the interval [key, next boundary). */
    std::map<std::string, int64_t> last_write_;
    std::vector<Run> runs_; /* oldest first */
    size_t run_ranges_ = 0;
};

}  // namespace found

#endif

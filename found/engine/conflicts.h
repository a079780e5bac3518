/* conflicts.h — the resolver's memory: for every key range, the last version that wrote
 * it. A commit conflicts when a range it read was written after its read version.
 *
 * Two parts: recent "runs", each the sorted write ranges of one commit, kept whole (the
 * commit's own vector, moved in) with its single-key writes as sorted keys (PointKeys,
 * one buffer rather than two strings a key), and searched by bisection;
 * and an interval map (boundary key → version of the interval it starts) into which the
 * oldest run is folded when too many are kept. Most runs are forgotten, once every live
 * reader has moved past them, before they are ever folded. A check looks only at runs
 * newer than the reader's version, so a lone writer checks none. */
#ifndef FOUND_CONFLICTS_H
#define FOUND_CONFLICTS_H

#include <stdint.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "key_range.h"
#include "point_keys.h"

namespace found {

class ConflictMap {
public:
    ConflictMap() { last_write_[std::string()] = 0; }

    /* Newest version that wrote any key in [begin, end); 0 when none is remembered. */
    int64_t last_write(const std::string& begin, const std::string& end) const;

    /* Whether a write newer than `version` is remembered in [begin, end): the commit
     * check, which skips every run at or below `version`. */
    bool written_after(const std::string& begin, const std::string& end, int64_t version) const;

    /* The same for the single key `key` ([key, key + \0)), with no range built. */
    bool point_written_after(std::string_view key, int64_t version) const;

    /* Records that [begin, end) was written at `version` (versions only grow). */
    void record_write(const std::string& begin, const std::string& end, int64_t version);

    /* Records every range of `ranges` and every key of `points` (in any order, overlapping
     * or repeated) as written at `version`, taking the vector and copying the points;
     * versions only grow. */
    void record_writes(std::vector<KeyRange>&& ranges, const PointKeys& points, int64_t version);
    void record_writes(std::vector<KeyRange>&& ranges, int64_t version) {
        record_writes(std::move(ranges), PointKeys(), version);
    }

    /* Forgets writes older than `oldest`: no transaction that could conflict with them can
     * still commit (it would fail 1007 first). Keeps the map proportional to recent writes. */
    void forget_before(int64_t oldest);
    /* The same for the runs only: cheap, as it never walks the map. */
    void forget_runs_before(int64_t oldest);

    /* Boundaries in the map, and runs kept: what the two kinds of forgetting shrink. */
    size_t map_size() const { return last_write_.size(); }
    size_t runs() const { return runs_.size(); }

    /* Past this many runs, the oldest is folded into the map. */
    static constexpr size_t kMaxRuns = 32;

private:
    /* Boundary key → version of the interval [key, next boundary); transparent, so a
     * point is looked up by its view. */
    using LastWrite = std::map<std::string, int64_t, std::less<>>;

    struct Run {
        int64_t version;
        std::vector<KeyRange> ranges; /* sorted, disjoint, none empty */
        PointKeys points;             /* single keys, sorted, each once */
    };

    /* Raises every interval of [begin, end) to at least `version` (folding an old run
     * must not lower what newer commits wrote). */
    void raise_to(const std::string& begin, const std::string& end, int64_t version);
    /* Makes `key` a boundary (keeping the version of the interval it splits). */
    LastWrite::iterator boundary_at(const std::string& key);
    static bool intersects(const Run& run, const std::string& begin, const std::string& end);
    static bool holds(const Run& run, std::string_view key);

    LastWrite last_write_;
    std::vector<Run> runs_; /* oldest first */
};

}  // namespace found

#endif

/* conflicts.cc — an interval map keyed by range starts, plus recent runs. Because commit
 * versions only grow, recording a write simply overwrites the covered intervals with the
 * new version; folding an older run into the map instead raises intervals to it. */
#include "conflicts.h"

#include <algorithm>

namespace found {

int64_t ConflictMap::last_write(const std::string& begin, const std::string& end) const {
    if (!(begin < end)) return 0;
    auto it = last_write_.upper_bound(begin);
    --it; /* the interval containing `begin`; "" is always a boundary */
    int64_t newest = 0;
    for (; it != last_write_.end() && it->first < end; ++it) newest = std::max(newest, it->second);
    /* Newest run first: once a run is no newer than what was found, none after it is. */
    for (auto run = runs_.rbegin(); run != runs_.rend() && run->version > newest; ++run)
        if (intersects(*run, begin, end)) newest = run->version;
    return newest;
}

bool ConflictMap::written_after(const std::string& begin, const std::string& end,
                                int64_t version) const {
    if (!(begin < end)) return false;
    for (auto run = runs_.rbegin(); run != runs_.rend() && run->version > version; ++run)
        if (intersects(*run, begin, end)) return true;
    auto it = last_write_.upper_bound(begin);
    --it; /* the interval containing `begin`; "" is always a boundary */
    for (; it != last_write_.end() && it->first < end; ++it)
        if (it->second > version) return true;
    return false;
}

bool ConflictMap::point_written_after(std::string_view key, int64_t version) const {
    for (auto run = runs_.rbegin(); run != runs_.rend() && run->version > version; ++run)
        if (holds(*run, key)) return true;
    auto it = last_write_.upper_bound(key);
    --it; /* the interval containing `key`; "" is always a boundary */
    return it->second > version;
}

bool ConflictMap::intersects(const Run& run, const std::string& begin, const std::string& end) {
    /* Disjoint and sorted, the ranges' ends are sorted too: the first range ending after
     * `begin` is the only candidate. */
    auto first = std::upper_bound(run.ranges.begin(), run.ranges.end(), begin,
                                  [](const std::string& key, const KeyRange& r) { return key < r.end; });
    return (first != run.ranges.end() && first->begin < end) || run.points.any_in(begin, end);
}

bool ConflictMap::holds(const Run& run, std::string_view key) {
    auto first = std::upper_bound(run.ranges.begin(), run.ranges.end(), key,
                                  [](std::string_view k, const KeyRange& r) { return k < r.end; });
    return (first != run.ranges.end() && first->begin <= key) || run.points.contains(key);
}

void ConflictMap::record_writes(std::vector<KeyRange>&& ranges, const PointKeys& points,
                                int64_t version) {
    if (ranges.empty() && points.empty()) return;
    auto by_begin = [](const KeyRange& a, const KeyRange& b) { return a.begin < b.begin; };
    if (!std::is_sorted(ranges.begin(), ranges.end(), by_begin))
        std::sort(ranges.begin(), ranges.end(), by_begin);
    /* Merge overlapping and touching ranges, drop empty ones, in place. */
    size_t kept = 0;
    for (size_t i = 0; i < ranges.size(); i++) {
        KeyRange& r = ranges[i];
        if (!(r.begin < r.end)) continue;
        if (kept > 0 && r.begin <= ranges[kept - 1].end) {
            if (ranges[kept - 1].end < r.end) ranges[kept - 1].end = std::move(r.end);
            continue;
        }
        if (kept != i) ranges[kept] = std::move(r);
        kept++;
    }
    ranges.resize(kept);
    if (kept == 0 && points.empty()) return;
    runs_.push_back(Run{version, std::move(ranges), points.sorted_unique()});
    if (runs_.size() > kMaxRuns) {
        const Run& oldest = runs_.front();
        for (const KeyRange& r : oldest.ranges) raise_to(r.begin, r.end, oldest.version);
        for (size_t i = 0; i < oldest.points.size(); i++) {
            const std::string key(oldest.points[i]);
            raise_to(key, key + std::string(1, '\0'), oldest.version);
        }
        runs_.erase(runs_.begin());
    }
}

ConflictMap::LastWrite::iterator ConflictMap::boundary_at(const std::string& key) {
    auto at = last_write_.lower_bound(key);
    if (at == last_write_.end() || at->first != key)
        at = last_write_.emplace_hint(at, key, std::prev(at)->second); /* "" is always there */
    return at;
}

void ConflictMap::raise_to(const std::string& begin, const std::string& end, int64_t version) {
    /* Boundaries at `end` (keeping what follows) and at `begin` (keeping what it splits). */
    auto at_end = boundary_at(end);
    auto at_begin = boundary_at(begin);
    for (auto it = at_begin; it != at_end; ++it) it->second = std::max(it->second, version);
}

void ConflictMap::record_write(const std::string& begin, const std::string& end,
                               int64_t version) {
    if (!(begin < end)) return;
    /* Make `end` a boundary that keeps the version of what follows the range. */
    auto at_end = boundary_at(end);
    /* Every boundary inside [begin, end) goes; `begin` starts the written interval. */
    auto at_begin = last_write_.lower_bound(begin);
    if (at_begin != at_end && at_begin->first == begin) {
        at_begin->second = version;
        last_write_.erase(std::next(at_begin), at_end);
    } else {
        last_write_.erase(at_begin, at_end);
        last_write_.emplace_hint(at_end, begin, version);
    }
}

void ConflictMap::forget_runs_before(int64_t oldest) {
    size_t dropped = 0;
    while (dropped < runs_.size() && runs_[dropped].version < oldest) dropped++;
    runs_.erase(runs_.begin(), runs_.begin() + (std::ptrdiff_t)dropped);
}

void ConflictMap::forget_before(int64_t oldest) {
    forget_runs_before(oldest);
    int64_t previous = -1;
    for (auto it = last_write_.begin(); it != last_write_.end();) {
        if (it->second < oldest) it->second = 0;
        if (it != last_write_.begin() && it->second == previous) {
            it = last_write_.erase(it);
            continue;
        }
        previous = it->second;
        ++it;
    }
}

}  // namespace found

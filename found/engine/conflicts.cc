/* conflicts.cc — an interval map keyed by range starts. Because commit versions only
 * grow, recording a write simply overwrites the covered intervals with the new version. */
#include "conflicts.h"

#include <algorithm>

namespace found {

int64_t ConflictMap::last_write(const std::string& begin, const std::string& end) const {
    if (!(begin < end)) return 0;
    auto it = last_write_.upper_bound(begin);
    --it; /* the interval containing `begin`; "" is always a boundary */
    int64_t newest = 0;
    for (; it != last_write_.end() && it->first < end; ++it) newest = std::max(newest, it->second);
    return newest;
}

void ConflictMap::record_write(const std::string& begin, const std::string& end,
                               int64_t version) {
    if (!(begin < end)) return;
    /* Make `end` a boundary that keeps the version of what follows the range. */
    auto at_end = last_write_.lower_bound(end);
    if (at_end == last_write_.end() || at_end->first != end)
        at_end = last_write_.emplace_hint(at_end, end, std::prev(at_end)->second);
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

void ConflictMap::forget_before(int64_t oldest) {
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

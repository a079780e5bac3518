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
    auto at_end = last_write_.upper_bound(end);
    --at_end;
    const int64_t version_after = at_end->second; /* the interval that continues past `end` */
    auto first = last_write_.lower_bound(begin);
    auto last = last_write_.lower_bound(end);
    last_write_.erase(first, last);
    last_write_[begin] = version;
    if (last_write_.find(end) == last_write_.end()) last_write_[end] = version_after;
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

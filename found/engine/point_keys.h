/* point_keys.h — single keys packed end to end in one buffer: the point conflict ranges
 * [key, key + \0) of a transaction's gets and sets, and of a commit's conflict run.
 *
 * Why not a KeyRange each: a range holds two strings, and a 16-byte key is one byte past
 * std::string's inline capacity, so every point read or write cost two allocations (the
 * key's copy and key + \0), freed again at commit: ~30 of the ~90 allocations of a
 * 10-read, 10-write transaction. Here the keys share one buffer that grows by doubling. */
#ifndef FOUND_POINT_KEYS_H
#define FOUND_POINT_KEYS_H

#include <stddef.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace found {

class PointKeys {
public:
    void add(std::string_view key) {
        if (ends_.capacity() == 0) { /* one allocation each for a typical transaction */
            ends_.reserve(16);
            bytes_.reserve(16 * 24);
        }
        bytes_.append(key);
        ends_.push_back(bytes_.size());
    }
    size_t size() const { return ends_.size(); }
    bool empty() const { return ends_.empty(); }
    std::string_view operator[](size_t i) const {
        const size_t begin = i == 0 ? 0 : ends_[i - 1];
        return std::string_view(bytes_.data() + begin, ends_[i] - begin);
    }
    /* Empties them, keeping the buffers for reuse. */
    void clear() {
        bytes_.clear();
        ends_.clear();
    }

    /* The same keys in order, each once: what a conflict run bisects. */
    PointKeys sorted_unique() const {
        std::vector<size_t> order(size());
        for (size_t i = 0; i < order.size(); i++) order[i] = i;
        std::sort(order.begin(), order.end(),
                  [this](size_t a, size_t b) { return (*this)[a] < (*this)[b]; });
        PointKeys out;
        out.bytes_.reserve(bytes_.size());
        out.ends_.reserve(ends_.size());
        for (size_t i : order)
            if (out.empty() || out[out.size() - 1] != (*this)[i]) out.add_unreserved((*this)[i]);
        return out;
    }
    /* On sorted keys: the index of the first key >= `key` (size() when none is). */
    size_t lower_bound(std::string_view key) const {
        size_t low = 0, high = size();
        while (low < high) {
            const size_t middle = low + (high - low) / 2;
            if ((*this)[middle] < key) low = middle + 1;
            else high = middle;
        }
        return low;
    }
    /* On sorted keys: whether any lies in [begin, end). */
    bool any_in(std::string_view begin, std::string_view end) const {
        const size_t i = lower_bound(begin);
        return i < size() && (*this)[i] < end;
    }
    /* On sorted keys: whether `key` is one of them. */
    bool contains(std::string_view key) const {
        const size_t i = lower_bound(key);
        return i < size() && (*this)[i] == key;
    }

private:
    void add_unreserved(std::string_view key) {
        bytes_.append(key);
        ends_.push_back(bytes_.size());
    }

    std::string bytes_;
    std::vector<size_t> ends_; /* one past each key's last byte */
};

}  // namespace found

#endif

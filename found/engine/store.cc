/* store.cc — MVCC ordered map over std::map. Each key's versions are kept oldest first;
 * a read at version v takes the newest entry with version <= v. Old versions are pruned
 * when a key is written again, so a key that is rarely written costs one entry. */
#include "store.h"

#include <algorithm>

namespace found {

const std::string* Store::value_at(Iterator it, Version read_version) {
    const Versions& versions = it->second;
    if (versions.empty()) return nullptr;
    const VersionedValue& newest = versions.back();
    if (newest.version <= read_version) return newest.present ? &newest.value : nullptr;
    /* An older read version: the last entry with version <= read_version. */
    auto after = std::upper_bound(versions.begin(), versions.end(), read_version,
                                  [](Version v, const VersionedValue& e) { return v < e.version; });
    if (after == versions.begin()) return nullptr;
    const VersionedValue& entry = *std::prev(after);
    return entry.present ? &entry.value : nullptr;
}

const std::string* Store::get(const std::string& key, Version read_version) const {
    const Map::iterator* found = index_.find(key);
    if (!found) return nullptr;
    return value_at(*found, read_version);
}

Store::Iterator Store::next_present(const std::string& key, bool inclusive,
                                    Version read_version) const {
    auto it = inclusive ? map_.lower_bound(key) : map_.upper_bound(key);
    for (; it != map_.end(); ++it)
        if (value_at(it, read_version)) return it;
    return map_.end();
}

Store::Iterator Store::prev_present(const std::string& key, bool inclusive,
                                    Version read_version) const {
    auto it = inclusive ? map_.upper_bound(key) : map_.lower_bound(key);
    while (it != map_.begin()) {
        --it;
        if (value_at(it, read_version)) return it;
    }
    return map_.end();
}

void Store::prune(Map::iterator it, Version oldest) {
    Versions& versions = it->second;
    /* Keep the newest version <= oldest (readers at `oldest` still need it) and all after;
     * each version is dropped once, so this is O(1) per write amortized. */
    while (versions.size() >= 2 && versions[1].version <= oldest) versions.pop_front();
    if (versions.size() == 1 && !versions[0].present && versions[0].version <= oldest) {
        index_.erase(it->first);
        map_.erase(it);
    }
}

void Store::put(const std::string& key, const std::string* value, Version version,
                Version oldest) {
    const uint64_t hash = index_.hash_of(key);
    const Map::iterator* found = index_.find(key, hash);
    Map::iterator it;
    if (!found) {
        if (!value) return;
        it = map_.emplace(key, Versions()).first;
        index_.insert(hash, it);
    } else {
        it = *found;
    }
    Versions& versions = it->second;
    const bool was_present = !versions.empty() && versions.back().present;
    if (was_present) {
        live_keys_--;
        live_bytes_ -= key.size() + versions.back().value.size();
    }
    if (!versions.empty() && versions.back().version == version) {
        versions.back().present = value != nullptr;
        versions.back().value = value ? *value : std::string();
    } else {
        versions.push_back(VersionedValue{version, value != nullptr, value ? *value : std::string()});
    }
    if (value) {
        live_keys_++;
        live_bytes_ += key.size() + value->size();
    }
    prune(it, oldest);
}

void Store::load_sorted(std::string&& key, std::string&& value) {
    const size_t size = key.size() + value.size();
    const size_t before = map_.size();
    auto it = map_.emplace_hint(map_.end(), std::move(key),
                                Versions(VersionedValue{1, true, std::move(value)}));
    if (map_.size() == before) return; /* not a new key: a snapshot holds each key once */
    index_.insert(index_.hash_of(it->first), it);
    live_keys_++;
    live_bytes_ += size;
}

void Store::clear_range(const std::string& begin, const std::string& end, Version version,
                        Version oldest) {
    if (!(begin < end)) return;
    auto it = map_.lower_bound(begin);
    while (it != map_.end() && it->first < end) {
        auto next = std::next(it);
        if (!it->second.empty() && it->second.back().present) {
            std::string key = it->first;
            put(key, nullptr, version, oldest);
        }
        it = next;
    }
}

int64_t Store::range_bytes(const std::string& begin, const std::string& end,
                           Version read_version) const {
    int64_t total = 0;
    for (auto it = map_.lower_bound(begin); it != map_.end() && it->first < end; ++it)
        if (const std::string* value = value_at(it, read_version))
            total += (int64_t)(it->first.size() + value->size());
    return total;
}

}  // namespace found

/* store.cc — MVCC ordered map over std::map. Each key's versions are kept oldest first;
 * a read at version v takes the newest entry with version <= v. Old versions are pruned
 * when a key is written again, so a key that is rarely written costs one entry. */
#include "store.h"

namespace found {

const std::string* Store::value_at(Iterator it, Version read_version) {
    const std::vector<VersionedValue>& versions = it->second;
    for (size_t i = versions.size(); i-- > 0;) {
        const VersionedValue& entry = versions[i];
        if (entry.version <= read_version) return entry.present ? &entry.value : nullptr;
    }
    return nullptr;
}

const std::string* Store::get(const std::string& key, Version read_version) const {
    auto found = index_.find(std::string_view(key));
    if (found == index_.end()) return nullptr;
    return value_at(found->second, read_version);
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
    std::vector<VersionedValue>& versions = it->second;
    /* Keep the newest version <= oldest (readers at `oldest` still need it) and all after. */
    size_t keep_from = 0;
    for (size_t i = 0; i < versions.size(); i++)
        if (versions[i].version <= oldest) keep_from = i;
    if (keep_from > 0) versions.erase(versions.begin(), versions.begin() + keep_from);
    if (versions.size() == 1 && !versions[0].present && versions[0].version <= oldest) {
        index_.erase(std::string_view(it->first));
        map_.erase(it);
    }
}

void Store::put(const std::string& key, const std::string* value, Version version,
                Version oldest) {
    auto found = index_.find(std::string_view(key));
    Map::iterator it;
    if (found == index_.end()) {
        if (!value) return;
        it = map_.emplace(key, std::vector<VersionedValue>()).first;
        index_.emplace(std::string_view(it->first), it);
    } else {
        it = found->second;
    }
    std::vector<VersionedValue>& versions = it->second;
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
    std::vector<VersionedValue> versions;
    versions.push_back(VersionedValue{1, true, std::move(value)});
    auto it = map_.emplace_hint(map_.end(), std::move(key), std::move(versions));
    index_.emplace(std::string_view(it->first), it);
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

/* store.cc — the MVCC ordered map over a B+tree of entries and a hash index of them.
 * Each key's versions are kept oldest first; a read at version v takes the newest entry
 * with version <= v. Old versions are pruned when a key is written again, so a key that
 * is rarely written costs one entry. */
#include "store.h"

#include <algorithm>

namespace found {

const std::string* Store::value_at(const StoreEntry& entry, Version read_version) {
    const Versions& versions = entry.versions;
    if (versions.empty()) return nullptr;
    const VersionedValue& newest = versions.back();
    if (newest.version <= read_version) return newest.present ? &newest.value : nullptr;
    /* An older read version: the last entry with version <= read_version. */
    auto after = std::upper_bound(versions.begin(), versions.end(), read_version,
                                  [](Version v, const VersionedValue& e) { return v < e.version; });
    if (after == versions.begin()) return nullptr;
    const VersionedValue& entry_at = *std::prev(after);
    return entry_at.present ? &entry_at.value : nullptr;
}

const std::string* Store::get(const std::string& key, Version read_version) const {
    StoreEntry* const* found = index_.find(key);
    if (!found) return nullptr;
    return value_at(**found, read_version);
}

Store::Iterator Store::next_present(const std::string& key, bool inclusive,
                                    Version read_version) const {
    for (auto it = tree_.seek(key, inclusive); it != tree_.end(); ++it)
        if (value_at(it, read_version)) return it;
    return tree_.end();
}

Store::Iterator Store::prev_present(const std::string& key, bool inclusive,
                                    Version read_version) const {
    /* the first entry past the candidates, then step back */
    auto it = tree_.seek(key, !inclusive);
    while (it != tree_.begin()) {
        --it;
        if (value_at(it, read_version)) return it;
    }
    return tree_.end();
}

void Store::prune(StoreEntry* entry, Version oldest) {
    Versions& versions = entry->versions;
    /* Keep the newest version <= oldest (readers at `oldest` still need it) and all after;
     * each version is dropped once, so this is O(1) per write amortized. */
    while (versions.size() >= 2 && versions[1].version <= oldest) versions.pop_front();
    if (versions.size() == 1 && !versions[0].present && versions[0].version <= oldest) {
        index_.erase(entry->key);
        tree_.erase(entry->key);
        delete entry;
    }
}

void Store::put(const std::string& key, const std::string* value, Version version,
                Version oldest) {
    write(key, value, nullptr, version, oldest);
}

void Store::put_taking(std::string&& key, std::string* value, Version version, Version oldest) {
    write(std::move(key), value, value, version, oldest);
}

/* `value` is the value (nullptr: a clear); when `value_to_take` is that same string, its
 * bytes are moved into the store, as the key's are when `key` is an rvalue. */
template <class Key>
void Store::write(Key&& key, const std::string* value, std::string* value_to_take,
                  Version version, Version oldest) {
    const size_t key_size = key.size();
    const uint64_t hash = index_.hash_of(key);
    StoreEntry* const* found = index_.find(key, hash);
    StoreEntry* entry;
    if (!found) {
        if (!value) return;
        entry = new StoreEntry{std::string(std::forward<Key>(key)), Versions()};
        tree_.insert(entry);
        index_.insert(hash, entry);
    } else {
        entry = *found;
    }
    Versions& versions = entry->versions;
    const bool was_present = !versions.empty() && versions.back().present;
    if (was_present) {
        live_keys_--;
        live_bytes_ -= key_size + versions.back().value.size();
    }
    const size_t value_size = value ? value->size() : 0;
    std::string bytes;
    if (value_to_take) bytes = std::move(*value_to_take);
    else if (value) bytes = *value;
    if (!versions.empty() && versions.back().version == version) {
        versions.back().present = value != nullptr;
        versions.back().value = std::move(bytes);
    } else {
        versions.push_back(VersionedValue{version, value != nullptr, std::move(bytes)});
    }
    if (value) {
        live_keys_++;
        live_bytes_ += key_size + value_size;
    }
    prune(entry, oldest);
}

void Store::load_sorted(std::string&& key, std::string&& value) {
    const uint64_t hash = index_.hash_of(key);
    if (index_.find(key, hash)) return; /* a snapshot holds each key once */
    const size_t size = key.size() + value.size();
    StoreEntry* entry =
        new StoreEntry{std::move(key), Versions(VersionedValue{1, true, std::move(value)})};
    auto last = tree_.end();
    if (tree_.size() == 0 || (--last)->key < entry->key) tree_.push_back(entry);
    else tree_.insert(entry); /* out of order: still correct, just searched */
    index_.insert(hash, entry);
    live_keys_++;
    live_bytes_ += size;
}

void Store::clear_range(const std::string& begin, const std::string& end, Version version,
                        Version oldest) {
    if (!(begin < end)) return;
    /* Collected first: clearing may erase entries from the tree, moving its iterators. */
    std::vector<std::string> present;
    for (auto it = tree_.lower_bound(begin); it != tree_.end() && it->key < end; ++it)
        if (!it->versions.empty() && it->versions.back().present) present.push_back(it->key);
    for (const std::string& key : present) put(key, nullptr, version, oldest);
}

int64_t Store::range_bytes(const std::string& begin, const std::string& end,
                           Version read_version) const {
    int64_t total = 0;
    for (auto it = tree_.lower_bound(begin); it != tree_.end() && it->key < end; ++it)
        if (const std::string* value = value_at(it, read_version))
            total += (int64_t)(it->key.size() + value->size());
    return total;
}

void Store::release() {
    for (auto it = tree_.begin(); it != tree_.end(); ++it) delete &*it;
    tree_ = EntryTree<StoreEntry>();
    index_ = KeyIndex<StoreEntry*, EntryKey>();
    live_keys_ = live_bytes_ = 0;
}

void Store::take(Store& other) {
    tree_ = std::move(other.tree_);
    index_ = std::move(other.index_);
    live_keys_ = other.live_keys_;
    live_bytes_ = other.live_bytes_;
    other.index_ = KeyIndex<StoreEntry*, EntryKey>();
    other.live_keys_ = other.live_bytes_ = 0;
}

}  // namespace found

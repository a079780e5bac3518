/* store.cc — the MVCC ordered map over a B+tree of entries and a hash index of them.
 * Each key's versions are kept oldest first; a read at version v takes the newest entry
 * with version <= v. Old versions are pruned when a key is written again, so a key that
 * is rarely written costs one entry. */
#include "store.h"

#include <algorithm>
#include <utility>

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

Store::Iterator Store::first_present_from(Iterator it, Version read_version) const {
    while (it != tree_.end() && !value_at(it, read_version)) ++it;
    return it;
}

Store::Iterator Store::next_present(const std::string& key, bool inclusive,
                                    Version read_version) const {
    return first_present_from(tree_.seek(key, inclusive), read_version);
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
        /* Under defer_order an entry missing from the tree is listed in unordered_: it
         * stays (absent to get) until settle_order drops it. */
        if (!tree_.erase(entry->key) && order_deferred_) return;
        index_.erase(entry->key);
        delete entry;
    }
}

namespace {
using Ranked = std::pair<uint64_t, StoreEntry*>;

/* Sorts by rank, least significant byte first (stable), skipping the bytes every rank
 * shares: a few linear passes instead of a comparison sort's n log n steps. */
void sort_by_rank(Ranked* begin, Ranked* end) {
    const size_t count = (size_t)(end - begin);
    if (count < 256) {
        std::sort(begin, end, [](const Ranked& a, const Ranked& b) { return a.first < b.first; });
        return;
    }
    std::vector<size_t> counts(8 * 256, 0);
    for (const Ranked* it = begin; it != end; ++it)
        for (int byte = 0; byte < 8; byte++) counts[byte * 256 + ((it->first >> (8 * byte)) & 0xff)]++;
    std::vector<Ranked> spare(count);
    Ranked* from = begin;
    Ranked* to = spare.data();
    for (int byte = 0; byte < 8; byte++) {
        size_t* bucket = &counts[byte * 256];
        if (bucket[(begin->first >> (8 * byte)) & 0xff] == count) continue; /* all alike */
        size_t total = 0;
        for (int b = 0; b < 256; b++) total += std::exchange(bucket[b], total);
        for (size_t i = 0; i < count; i++) to[bucket[(from[i].first >> (8 * byte)) & 0xff]++] = from[i];
        std::swap(from, to);
    }
    if (from != begin) std::copy(from, from + count, begin);
}

/* Sorts [begin, end), whose keys all share their first `depth` bytes, by key. Keys of one
 * store share long prefixes (a subspace, a table), so the run's own common prefix is found
 * first and each key ranked by the 8 bytes after it: most comparisons are then one
 * integer's, touching no key. Keys that tie go the same way, 8 bytes further on. */
void sort_ranked(Ranked* begin, Ranked* end, size_t depth) {
    const auto by_key = [](const Ranked& a, const Ranked& b) { return a.second->key < b.second->key; };
    if (end - begin < 16) {
        std::sort(begin, end, by_key);
        return;
    }
    /* The prefix shared by a sample of the keys (a few keys without it, like the
     * "\xff/..." system keys beside a table, would leave none shared by all). Keys below
     * it rank 0 and keys above it the largest rank, tying with any key that has the
     * prefix and such a window: those runs are sorted by whole keys. */
    const size_t count = (size_t)(end - begin);
    const std::string& first = begin->second->key;
    size_t shared = first.size();
    for (size_t sample = 1; sample < 64 && shared > depth; sample++) {
        const std::string& key = begin[sample * (count - 1) / 63].second->key;
        const size_t limit = std::min(shared, key.size());
        size_t i = depth;
        while (i < limit && key[i] == first[i]) i++;
        shared = i;
    }
    const std::string_view prefix(first.data() + depth, shared - depth);
    for (Ranked* it = begin; it != end; ++it) {
        const std::string& key = it->second->key;
        const int order = std::string_view(key).substr(depth, shared - depth).compare(prefix);
        uint64_t rank = 0;
        if (order < 0) {
            rank = 0;
        } else if (order > 0) {
            rank = UINT64_MAX;
        } else {
            for (size_t at = shared; at < shared + 8; at++)
                rank = (rank << 8) | (at < key.size() ? (uint8_t)key[at] : 0);
        }
        it->first = rank;
    }
    sort_by_rank(begin, end);
    const size_t next = shared + 8;
    for (Ranked* run = begin; run != end;) {
        Ranked* after = run + 1;
        while (after != end && after->first == run->first) ++after;
        if (after - run > 1) { /* only ties read their keys again */
            /* A key that ends inside the 8 bytes ties with its zero-padded neighbours:
             * those runs (rare) are sorted by whole keys. */
            bool all_longer = run->first != 0 && run->first != UINT64_MAX;
            for (Ranked* it = run; it != after && all_longer; ++it)
                all_longer = it->second->key.size() > next;
            if (all_longer) sort_ranked(run, after, next);
            else std::sort(run, after, by_key);
        }
        run = after;
    }
}

void sort_by_key(std::vector<StoreEntry*>& entries) {
    std::vector<Ranked> ranked;
    ranked.reserve(entries.size());
    for (StoreEntry* entry : entries) ranked.emplace_back(0, entry);
    sort_ranked(ranked.data(), ranked.data() + ranked.size(), 0);
    for (size_t i = 0; i < ranked.size(); i++) entries[i] = ranked[i].second;
}
}  // namespace

void Store::defer_order() { order_deferred_ = true; }

void Store::settle_order(Version oldest) {
    order_pending(oldest);
    order_deferred_ = false;
    std::vector<StoreEntry*>().swap(unordered_);
}

void Store::order_pending(Version oldest) {
    if (unordered_.empty()) return;
    /* Entries that came and went while deferred are dropped, as prune would have. */
    size_t kept = 0;
    for (StoreEntry* entry : unordered_) {
        const Versions& versions = entry->versions;
        if (versions.size() == 1 && !versions[0].present && versions[0].version <= oldest) {
            index_.erase(entry->key);
            delete entry;
        } else {
            unordered_[kept++] = entry;
        }
    }
    unordered_.resize(kept);
    if (unordered_.size() * 16 < tree_.size()) {
        /* A few new keys in a big store: searched in, as put does. */
        for (StoreEntry* entry : unordered_) tree_.insert(entry);
    } else {
        /* Sorted, then merged with the tree (if any) into a tree built in order. */
        sort_by_key(unordered_);
        EntryTree<StoreEntry> merged;
        auto old = tree_.begin();
        const size_t count = unordered_.size();
        for (size_t i = 0; i < count; i++) {
            StoreEntry* entry = unordered_[i];
            for (; old != tree_.end() && old->key < entry->key; ++old) merged.push_back(&*old);
            merged.push_back(entry);
        }
        for (; old != tree_.end(); ++old) merged.push_back(&*old);
        tree_ = std::move(merged);
    }
    unordered_.clear();
}

void Store::put(const std::string& key, const std::string* value, Version version,
                Version oldest) {
    write(key, value, nullptr, version, oldest);
}

void Store::put_value_taking(const std::string& key, std::string* value, Version version,
                             Version oldest) {
    write(key, value, value, version, oldest);
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
        if (order_deferred_) {
            unordered_.push_back(entry);
        } else {
            tree_.insert(entry);
        }
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
    auto last = tree_.end();
    const bool in_order = tree_.size() == 0 || (--last)->key < key;
    /* A snapshot holds each key once, in order: only a key out of order can be one seen
     * before, so only such a key is looked up before it is inserted. */
    if (!in_order && index_.find(key, hash)) return;
    const size_t size = key.size() + value.size();
    StoreEntry* entry =
        new StoreEntry{std::move(key), Versions(VersionedValue{1, true, std::move(value)})};
    if (in_order) tree_.push_back(entry);
    else tree_.insert(entry); /* out of order: still correct, just searched */
    index_.insert(hash, entry);
    live_keys_++;
    live_bytes_ += size;
}

void Store::clear_range(const std::string& begin, const std::string& end, Version version,
                        Version oldest) {
    if (!(begin < end)) return;
    if (order_deferred_) order_pending(oldest); /* it walks the tree */
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
    for (StoreEntry* entry : unordered_) delete entry;
    unordered_.clear();
    order_deferred_ = false;
    tree_ = EntryTree<StoreEntry>();
    index_ = KeyIndex<StoreEntry*, EntryKey>();
    live_keys_ = live_bytes_ = 0;
}

void Store::take(Store& other) {
    tree_ = std::move(other.tree_);
    index_ = std::move(other.index_);
    unordered_ = std::move(other.unordered_);
    order_deferred_ = other.order_deferred_;
    live_keys_ = other.live_keys_;
    live_bytes_ = other.live_bytes_;
    other.unordered_.clear();
    other.order_deferred_ = false;
    other.index_ = KeyIndex<StoreEntry*, EntryKey>();
    other.live_keys_ = other.live_bytes_ = 0;
}

}  // namespace found

/* store.h — the MVCC ordered map: every key keeps the versions of its value that a
 * transaction inside the MVCC window may still read. Ranges walk a B+tree of the entries;
 * point reads and writes go through a hash index over the same entries. Not thread-safe
 * by itself: the engine guards it with a shared mutex (readers shared, the commit apply
 * exclusive). */
#ifndef FOUND_STORE_H
#define FOUND_STORE_H

#include <stdint.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "entry_tree.h"
#include "key_index.h"

namespace found {

using Version = int64_t;

struct VersionedValue {
    Version version;
    bool present;
    std::string value;
};

/* A key's versions, oldest first. Up to two live in the entry itself: most keys hold
 * one, a key written again inside the MVCC window holds two, and neither then costs an
 * allocation or a cache miss of its own (a read goes from the index to the entry to the
 * value). Hot keys collect a version per write for the whole window: past two they move
 * to the heap, pruned from the front in O(1) each, the dead prefix dropped once it is
 * half the array, and they come back in place once two or fewer remain. */
class VersionChain {
public:
    using const_iterator = const VersionedValue*;

    VersionChain() = default;
    /* Exactly one (a row loaded from a snapshot). */
    explicit VersionChain(VersionedValue&& only) { push_back(std::move(only)); }
    VersionChain(const VersionChain&) = delete;
    VersionChain& operator=(const VersionChain&) = delete;
    ~VersionChain() { delete[] heap_; }

    bool empty() const { return head_ == size_; }
    size_t size() const { return size_ - head_; }
    VersionedValue& back() { return data()[size_ - 1]; }
    const VersionedValue& back() const { return data()[size_ - 1]; }
    const VersionedValue& operator[](size_t i) const { return data()[head_ + i]; }
    const_iterator begin() const { return data() + head_; }
    const_iterator end() const { return data() + size_; }

    void push_back(VersionedValue&& entry) {
        if (size_ == capacity()) grow();
        data()[size_++] = std::move(entry);
    }
    void pop_front() {
        VersionedValue* values = data();
        values[head_].value = std::string();
        if (++head_ * 2 < size_) return;
        /* The dead prefix is half: move the live versions to the front (into the entry
         * itself when they fit there). */
        const uint32_t live = size_ - head_;
        VersionedValue* to = (heap_ && live <= kInPlace) ? in_place_ : values;
        for (uint32_t i = 0; i < live; i++) to[i] = std::move(values[head_ + i]);
        if (to == in_place_ && heap_) {
            delete[] heap_;
            heap_ = nullptr;
            heap_capacity_ = 0;
        }
        size_ = live;
        head_ = 0;
    }

private:
    static constexpr uint32_t kInPlace = 2;
    VersionedValue* data() { return heap_ ? heap_ : in_place_; }
    const VersionedValue* data() const { return heap_ ? heap_ : in_place_; }
    uint32_t capacity() const { return heap_ ? heap_capacity_ : kInPlace; }
    void grow() {
        const uint32_t live = size_ - head_;
        const uint32_t capacity = std::max<uint32_t>(4, live * 2);
        VersionedValue* grown = new VersionedValue[capacity];
        VersionedValue* values = data();
        for (uint32_t i = 0; i < live; i++) grown[i] = std::move(values[head_ + i]);
        for (uint32_t i = 0; i < kInPlace; i++) in_place_[i].value = std::string();
        delete[] heap_;
        heap_ = grown;
        heap_capacity_ = capacity;
        size_ = live;
        head_ = 0;
    }

    /* The counts first: with the entry's key they share its first cache line. */
    VersionedValue* heap_ = nullptr; /* when more than kInPlace are live */
    uint32_t heap_capacity_ = 0;
    uint32_t size_ = 0; /* one past the newest, from the start of data() */
    uint32_t head_ = 0; /* the oldest live one */
    VersionedValue in_place_[kInPlace];
};

/* One key of the store and its versions: allocated once, at one address while the key
 * exists (the ordered tree and the hash index both point at it). */
struct StoreEntry {
    std::string key;
    VersionChain versions;
};

class Store {
public:
    using Versions = VersionChain;
    using Iterator = EntryTree<StoreEntry>::Iterator;

    Store() = default;
    ~Store() { release(); }
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;
    Store(Store&& other) noexcept { take(other); }
    Store& operator=(Store&& other) noexcept {
        if (this != &other) {
            release();
            take(other);
        }
        return *this;
    }

    /* The value of `key` visible at `read_version`; nullptr when absent. */
    const std::string* get(const std::string& key, Version read_version) const;

    /* First key >= `key` (> when `inclusive` is false) present at `read_version`, or end(). */
    Iterator next_present(const std::string& key, bool inclusive, Version read_version) const;
    /* The next entry after `it` present at `read_version`, or end(): a walk in key order
     * that steps along the tree instead of searching it from the top for each key. */
    Iterator next_present_after(Iterator it, Version read_version) const {
        return first_present_from(++it, read_version);
    }
    /* Last key <= `key` (< when `inclusive` is false) present at `read_version`, or end(). */
    Iterator prev_present(const std::string& key, bool inclusive, Version read_version) const;
    /* The value of the entry `it` at `read_version` (nullptr when absent). */
    static const std::string* value_at(Iterator it, Version read_version) {
        return value_at(*it, read_version);
    }
    static const std::string* value_at(const StoreEntry& entry, Version read_version);

    Iterator begin() const { return tree_.begin(); }
    Iterator end() const { return tree_.end(); }

    /* Reads what writing `key` will touch (its index slot, entry and versions), to have
     * it in the cache when the write holds the store exclusively. */
    void warm(const std::string& key) const {
        StoreEntry* const* found = index_.find(key);
        if (found && !(*found)->versions.empty()) {
            const std::string& newest = (*found)->versions.back().value;
            __builtin_prefetch(newest.data());
        }
    }
    /* A hint that `key` is read or written next (see KeyIndex::prefetch). */
    void prefetch(std::string_view key) const { index_.prefetch(index_.hash_of(key)); }

    /* Writes `value` (nullptr = clear) at `version`; drops versions older than `oldest`
     * that no reader can see any more. */
    void put(const std::string& key, const std::string* value, Version version, Version oldest);
    /* The same, taking the value's bytes instead of copying them. */
    void put_value_taking(const std::string& key, std::string* value, Version version, Version oldest);
    /* The same, taking the key's and the value's bytes instead of copying them (replaying
     * a log record, whose strings are not needed after): no allocation for the key or the
     * value, and none of the frees that made replay consolidate malloc's free lists. */
    void put_taking(std::string&& key, std::string* value, Version version, Version oldest);
    /* Adds a key at version 1, loading a snapshot: its rows come in key order, so each
     * goes at the end of the tree with no search. */
    void load_sorted(std::string&& key, std::string&& value);

    /* Replaying a log: keys new to the store go into the hash index at once, and into the
     * ordered tree only at settle_order, sorted in one go and appended (or merged) —
     * instead of a tree search per key in random order, which was most of a log replay's
     * time. In between, only get, put, put_taking and clear_range (which orders what is
     * pending first) may be called. */
    void defer_order();
    /* Puts the pending keys in the tree and ends defer_order; `oldest` as in put. */
    void settle_order(Version oldest);

    /* Clears every key in [begin, end) at `version`. */
    void clear_range(const std::string& begin, const std::string& end, Version version,
                     Version oldest);

    /* Number of keys present at the latest version, and their key+value bytes. */
    size_t live_keys() const { return live_keys_; }
    size_t live_bytes() const { return live_bytes_; }

    /* Visits every key present at the latest version, in order. */
    template <class F>
    void for_each_latest(F&& visit) const {
        for (auto it = tree_.begin(); it != tree_.end(); ++it)
            if (!it->versions.empty() && it->versions.back().present)
                visit(it->key, it->versions.back().value);
    }

    /* Sum of key+value bytes present at `read_version` in [begin, end). */
    int64_t range_bytes(const std::string& begin, const std::string& end,
                        Version read_version) const;

private:
    /* `it`, or the first entry after it, present at `read_version`; or end(). */
    Iterator first_present_from(Iterator it, Version read_version) const;
    template <class Key>
    void write(Key&& key, const std::string* value, std::string* value_to_take, Version version,
               Version oldest);
    void prune(StoreEntry* entry, Version oldest);
    void order_pending(Version oldest);
    void release();
    void take(Store& other);

    struct EntryKey {
        std::string_view operator()(const StoreEntry* entry) const { return entry->key; }
    };

    /* The keys in order, for ranges and selectors. */
    EntryTree<StoreEntry> tree_;
    /* The same entries by hash, for point reads and writes. */
    KeyIndex<StoreEntry*, EntryKey> index_;
    /* Under defer_order: entries in the index but not yet in the tree. */
    std::vector<StoreEntry*> unordered_;
    bool order_deferred_ = false;
    size_t live_keys_ = 0;
    size_t live_bytes_ = 0;
};

}  // namespace found

#endif

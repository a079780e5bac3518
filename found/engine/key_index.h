/* key_index.h — the store's point-lookup table: keys to handles (the ordered map's
 * nodes), by open addressing with linear probing over (hash, handle) slots.
 *
 * Why not std::unordered_map: its lookups walk a chain of separately allocated nodes, and
 * a miss (every new key a commit writes) costs several cache misses before the insertion
 * allocates another node. Here a slot holds the full 64-bit hash next to the handle, so a
 * probe touches one or two cache lines and reads a key only when the hashes are equal;
 * inserting allocates nothing but the occasional doubling. Deletion shifts the following
 * slots back (no tombstones), so probe sequences stay as short as the load allows (≤ ½).
 *
 * `KeyOf` maps a handle to its key; the key's bytes must stay put while it is indexed. */
#ifndef FOUND_KEY_INDEX_H
#define FOUND_KEY_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include <functional>
#include <string_view>
#include <utility>
#include <vector>

namespace found {

template <class Handle, class KeyOf>
class KeyIndex {
public:
    /* Never 0: a zero hash marks an empty slot. */
    static uint64_t hash_of(std::string_view key) {
        return (uint64_t)std::hash<std::string_view>{}(key) | 1;
    }

    /* The handle indexed under `key` (whose hash_of is `hash`), or nullptr. */
    const Handle* find(std::string_view key, uint64_t hash) const {
        if (slots_.empty()) return nullptr;
        const size_t mask = slots_.size() - 1;
        for (size_t i = hash & mask;; i = (i + 1) & mask) {
            const Slot& slot = slots_[i];
            if (slot.hash == 0) return nullptr;
            if (slot.hash == hash && KeyOf{}(slot.handle) == key) return &slot.handle;
        }
    }
    const Handle* find(std::string_view key) const { return find(key, hash_of(key)); }

    /* Starts loading the slot where a lookup of `hash` begins: a caller that knows its
     * next keys (a commit's writes) overlaps their cache misses instead of taking them
     * one after the other. */
    void prefetch(uint64_t hash) const {
        /* No branch (GCC 12 drops a prefetch under one once inlined) and integer
         * arithmetic: with no slots, a prefetch of a wild address, which never faults. */
        const uintptr_t slots = (uintptr_t)slots_.data();
        __builtin_prefetch((const void*)(slots + (hash & (slots_.size() - 1)) * sizeof(Slot)));
    }
    /* Indexes `handle` under its key, whose hash_of is `hash`; the key must be absent. */
    void insert(uint64_t hash, Handle handle) {
        if ((size_ + 1) * 2 > slots_.size()) grow();
        place(hash, std::move(handle));
        size_++;
    }

    /* Removes `key`; returns whether it was there. */
    bool erase(std::string_view key) {
        if (slots_.empty()) return false;
        const uint64_t hash = hash_of(key);
        const size_t mask = slots_.size() - 1;
        size_t hole = hash & mask;
        for (;; hole = (hole + 1) & mask) {
            const Slot& slot = slots_[hole];
            if (slot.hash == 0) return false;
            if (slot.hash == hash && KeyOf{}(slot.handle) == key) break;
        }
        /* Close the hole: walk the run after it and move back each slot whose home is not
         * between the hole and where it sits (it would be unreachable past the hole). */
        for (size_t next = (hole + 1) & mask; slots_[next].hash != 0; next = (next + 1) & mask) {
            const size_t home = slots_[next].hash & mask;
            const bool stays = hole <= next ? (hole < home && home <= next)
                                            : (hole < home || home <= next);
            if (!stays) {
                slots_[hole] = std::move(slots_[next]);
                hole = next;
            }
        }
        slots_[hole] = Slot{};
        size_--;
        return true;
    }

    size_t size() const { return size_; }

private:
    struct Slot {
        uint64_t hash = 0;
        Handle handle{};
    };

    void place(uint64_t hash, Handle handle) {
        const size_t mask = slots_.size() - 1;
        size_t i = hash & mask;
        while (slots_[i].hash != 0) i = (i + 1) & mask;
        slots_[i] = Slot{hash, std::move(handle)};
    }

    void grow() {
        std::vector<Slot> old = std::move(slots_);
        slots_.assign(old.empty() ? 16 : old.size() * 2, Slot{});
        for (Slot& slot : old)
            if (slot.hash != 0) place(slot.hash, std::move(slot.handle));
    }

    std::vector<Slot> slots_;
    size_t size_ = 0;
};

}  // namespace found

#endif

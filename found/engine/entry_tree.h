/* entry_tree.h — the store's ordered map: a B+tree of pointers to entries, by key.
 *
 * Why not std::map: a lookup in a red-black tree of a million keys visits about twenty
 * nodes scattered over the heap, and compares the key at each (another pointer to chase
 * for keys longer than 15 bytes), so inserting a random key cost ~1 µs of cache misses
 * and was most of a bulk load's commit time. Here a node holds up to 64 keys, and keeps
 * each as an 8-byte integer after a prefix its keys share (see Heads): a search bisects
 * integers, node by node, and reads a key only where two integers tie.
 *
 * The tree owns its nodes, not the entries: the caller allocates each entry, keeps it at
 * one address for as long as it is in the tree (the store's hash index points at it), and
 * frees it after erasing it. `Entry` must have a `std::string key` member.
 *
 * Iterators are (leaf, position) pairs: any insert or erase invalidates them. Leaves that
 * become empty are removed; partly empty ones are not merged (after many deletes a leaf
 * may hold a single entry, until it fills again or empties). */
#ifndef FOUND_ENTRY_TREE_H
#define FOUND_ENTRY_TREE_H

#include <stddef.h>
#include <stdint.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace found {

/* The search keys of one node — a leaf's entries' keys, an inner node's separators — as
 * integers: every key of the node starts with the same `prefix` bytes, and at[i] holds
 * the 8 bytes of key i after them, big-endian and padded with zeros. A search compares
 * the sought key with the prefix once (its first kInline bytes are kept here, so no key
 * is read for that), then bisects the heads, reading a key only when two heads tie.
 *
 * The prefix may be shorter than what the keys share: it is set by the first key, shrinks
 * when a key sharing less comes in, and is recomputed for both halves of a split.
 * Functions that need the keys themselves take `key_at(i)`, giving key i as a string_view. */
template <int N>
struct Heads {
    static constexpr size_t kInline = 32;

    size_t prefix = 0;
    char start[kInline]; /* the prefix's first min(prefix, kInline) bytes */
    uint64_t at[N];

    /* The 8 bytes of `key` from `from`, big-endian, zeros past its end: for keys that
     * share their first `from` bytes, a smaller window means a smaller key (equal ones
     * tell nothing: "a" and "a\0" have the same window). */
    static uint64_t window(std::string_view key, size_t from) {
        uint64_t head = 0;
        for (size_t i = from; i < from + 8; i++)
            head = (head << 8) | (i < key.size() ? (unsigned char)key[i] : 0u);
        return head;
    }

    /* The prefix's bytes (from key 0 when longer than what is kept inline). */
    template <class KeyAt>
    std::string_view prefix_bytes(KeyAt key_at) const {
        return prefix <= kInline ? std::string_view(start, prefix) : key_at(0).substr(0, prefix);
    }

    /* The first of `count` keys that is >= `key` (> when not inclusive). */
    template <class KeyAt>
    int position(std::string_view key, bool inclusive, int count, KeyAt key_at) const {
        if (count == 0) return 0;
        if (prefix > 0) {
            /* A key that does not start with the prefix is before or after all. */
            const std::string_view shared = prefix_bytes(key_at);
            const int order = key.substr(0, prefix).compare(shared);
            if (order < 0) return 0; /* includes a key that is a proper prefix of it */
            if (order > 0) return count;
        }
        const uint64_t head = window(key, prefix);
        int low = 0, high = count;
        while (low < high) {
            const int middle = (low + high) / 2;
            bool before; /* key `middle` comes before the position sought */
            if (at[middle] != head) {
                before = at[middle] < head;
            } else {
                const std::string_view here = key_at(middle);
                before = inclusive ? here < key : here <= key;
            }
            if (before) low = middle + 1;
            else high = middle;
        }
        return low;
    }

    /* Puts `key` at `position` among `count` keys, shortening the prefix to what the key
     * shares with it first (every head moves to the new window). */
    template <class KeyAt>
    void insert(int position, int count, std::string_view key, KeyAt key_at) {
        if (count == 0) {
            prefix = key.size();
            key.copy(start, std::min(prefix, kInline));
        } else {
            const std::string_view old = prefix_bytes(key_at);
            size_t shared = 0;
            while (shared < prefix && shared < key.size() && key[shared] == old[shared]) shared++;
            if (shared < prefix) {
                /* new window = the old prefix's bytes [shared, prefix), then the old window */
                const size_t moved = prefix - shared;
                const uint64_t lead = window(old, shared);
                for (int i = 0; i < count; i++) at[i] = moved >= 8 ? lead : lead | (at[i] >> (8 * moved));
                prefix = shared; /* `start` still holds its first bytes */
            }
        }
        std::copy_backward(at + position, at + count, at + count + 1);
        at[position] = window(key, prefix);
    }

    void erase(int position, int count) { std::copy(at + position + 1, at + count, at + position); }

    /* The heads of keys [from, from + count) of a node that was split (`whole`, which may
     * be this node itself), for one of its halves. A prefix only shrinks between splits,
     * so a half whose keys share at least 4 bytes more than it (for sorted keys, what the
     * first and the last share) gets it recomputed, reading each of its keys: a leaf that
     * once held "\xff/..." and "0000..." would otherwise pass prefix 0 to all the leaves
     * split from it, whose heads would all tie on the keys' leading zeros. Otherwise the
     * heads are copied, reading two keys. */
    template <class KeyAt>
    void split_from(const Heads& whole, int from, int count, KeyAt key_at) {
        size_t shared = 0;
        if (count > 0) {
            const std::string_view first = key_at(0), last = key_at(count - 1);
            while (shared < first.size() && shared < last.size() && first[shared] == last[shared])
                shared++;
        }
        if (count > 0 && shared >= whole.prefix + 4) {
            prefix = shared;
            key_at(0).copy(start, std::min(prefix, kInline));
            for (int i = 0; i < count; i++) at[i] = window(key_at(i), prefix);
            return;
        }
        if (this == &whole) { /* the left half keeps its place */
            if (from > 0) std::copy(at + from, at + from + count, at);
            return;
        }
        prefix = whole.prefix;
        std::copy(whole.start, whole.start + kInline, start);
        std::copy(whole.at + from, whole.at + from + count, at);
    }
};

template <class Entry>
class EntryTree {
    static constexpr int kLeafCapacity = 64;
    static constexpr int kInnerCapacity = 64; /* children */

    struct Node {
        bool leaf;
        int count; /* entries of a leaf, children of an inner node */
    };
    struct Leaf : Node {
        Leaf* prev = nullptr;
        Leaf* next = nullptr;
        Heads<kLeafCapacity> heads; /* of the entries' keys */
        Entry* entries[kLeafCapacity];
        Leaf() : Node{true, 0} {}
        std::string_view key(int i) const { return entries[i]->key; }
        auto key_at() const {
            return [this](int i) { return key(i); };
        }
    };
    /* children[i] holds the keys in [keys[i-1], keys[i]) (unbounded at either end). */
    struct Inner : Node {
        Heads<kInnerCapacity - 1> heads; /* of the separators */
        std::string keys[kInnerCapacity - 1];
        Node* children[kInnerCapacity];
        Inner() : Node{false, 0} {}
        auto key_at() const {
            return [this](int i) { return std::string_view(keys[i]); };
        }
    };
    struct Step {
        Inner* node;
        int child;
    };

public:
    class Iterator {
    public:
        Iterator() = default;
        Entry& operator*() const { return *leaf_->entries[index_]; }
        Entry* operator->() const { return leaf_->entries[index_]; }
        Iterator& operator++() {
            if (++index_ == leaf_->count) {
                leaf_ = leaf_->next;
                index_ = 0;
            }
            return *this;
        }
        /* Decrementing end() gives the last entry; decrementing begin() is undefined. */
        Iterator& operator--() {
            if (!leaf_) {
                leaf_ = tree_->last_;
                index_ = leaf_->count - 1;
            } else if (index_ == 0) {
                leaf_ = leaf_->prev;
                index_ = leaf_->count - 1;
            } else {
                --index_;
            }
            return *this;
        }
        bool operator==(const Iterator& other) const {
            return leaf_ == other.leaf_ && index_ == other.index_;
        }
        bool operator!=(const Iterator& other) const { return !(*this == other); }

    private:
        friend class EntryTree;
        Iterator(const EntryTree* tree, Leaf* leaf, int index) : tree_(tree), leaf_(leaf), index_(index) {}
        const EntryTree* tree_ = nullptr;
        Leaf* leaf_ = nullptr; /* nullptr: end() */
        int index_ = 0;
    };

    EntryTree() { reset(); }
    ~EntryTree() { free_node(root_); }
    EntryTree(const EntryTree&) = delete;
    EntryTree& operator=(const EntryTree&) = delete;
    EntryTree(EntryTree&& other) noexcept { take(other); }
    EntryTree& operator=(EntryTree&& other) noexcept {
        if (this != &other) {
            free_node(root_);
            take(other);
        }
        return *this;
    }

    size_t size() const { return size_; }
    Iterator begin() const { return first_->count ? Iterator(this, first_, 0) : end(); }
    Iterator end() const { return Iterator(this, nullptr, 0); }

    /* The first entry whose key is >= `key` (> when `inclusive` is false), or end(). */
    Iterator seek(std::string_view key, bool inclusive) const {
        Leaf* leaf = descend(key, nullptr);
        const int position = leaf_position(leaf, key, inclusive);
        if (position < leaf->count) return Iterator(this, leaf, position);
        return leaf->next ? Iterator(this, leaf->next, 0) : end();
    }
    Iterator lower_bound(std::string_view key) const { return seek(key, true); }
    Iterator upper_bound(std::string_view key) const { return seek(key, false); }

    /* Adds `entry`, whose key must not be in the tree. */
    void insert(Entry* entry) {
        std::vector<Step>& path = path_scratch();
        Leaf* leaf = descend(entry->key, &path);
        insert_at(leaf, leaf_position(leaf, entry->key, true), entry, path);
    }

    /* Adds `entry`, whose key must be greater than every key in the tree (a snapshot's
     * rows, loaded in order): no comparisons on the way down. */
    void push_back(Entry* entry) {
        std::vector<Step>& path = path_scratch();
        Node* node = root_;
        while (!node->leaf) {
            Inner* inner = static_cast<Inner*>(node);
            path.push_back({inner, inner->count - 1});
            node = inner->children[inner->count - 1];
        }
        Leaf* leaf = static_cast<Leaf*>(node);
        insert_at(leaf, leaf->count, entry, path);
    }

    /* Takes the entry with `key` out of the tree and returns it (nullptr if absent); the
     * caller frees it. */
    Entry* erase(std::string_view key) {
        std::vector<Step>& path = path_scratch();
        Leaf* leaf = descend(key, &path);
        const int position = leaf_position(leaf, key, true);
        if (position == leaf->count || leaf->entries[position]->key != key) return nullptr;
        Entry* entry = leaf->entries[position];
        std::copy(leaf->entries + position + 1, leaf->entries + leaf->count, leaf->entries + position);
        leaf->heads.erase(position, leaf->count);
        leaf->count--;
        size_--;
        if (leaf->count == 0 && leaf != root_) remove_leaf(leaf, path);
        return entry;
    }

private:
    /* The path of the insert or erase under way, kept between calls: a vector made afresh
     * each time cost an allocation per key of a bulk load. */
    std::vector<Step>& path_scratch() {
        path_.clear();
        return path_;
    }

    void reset() {
        Leaf* leaf = new Leaf();
        root_ = leaf;
        first_ = last_ = leaf;
        size_ = 0;
    }

    void take(EntryTree& other) {
        root_ = other.root_;
        first_ = other.first_;
        last_ = other.last_;
        size_ = other.size_;
        other.reset();
    }

    static void free_node(Node* node) {
        if (node->leaf) {
            delete static_cast<Leaf*>(node);
            return;
        }
        Inner* inner = static_cast<Inner*>(node);
        for (int i = 0; i < inner->count; i++) free_node(inner->children[i]);
        delete inner;
    }

    /* The leaf whose range holds `key`, recording the inner nodes passed in `path`. */
    Leaf* descend(std::string_view key, std::vector<Step>* path) const {
        Node* node = root_;
        while (!node->leaf) {
            Inner* inner = static_cast<Inner*>(node);
            /* the first separator > key picks the child */
            const int child = inner->heads.position(key, false, inner->count - 1, inner->key_at());
            if (path) path->push_back({inner, child});
            node = inner->children[child];
        }
        return static_cast<Leaf*>(node);
    }

    /* The position of the first entry of `leaf` >= key (> key unless inclusive). */
    static int leaf_position(const Leaf* leaf, std::string_view key, bool inclusive) {
        return leaf->heads.position(key, inclusive, leaf->count, leaf->key_at());
    }

    /* Puts `entry` at `position` of a leaf with room. */
    static void put_in_leaf(Leaf* leaf, int position, Entry* entry) {
        leaf->heads.insert(position, leaf->count, entry->key, leaf->key_at());
        std::copy_backward(leaf->entries + position, leaf->entries + leaf->count,
                           leaf->entries + leaf->count + 1);
        leaf->entries[position] = entry;
        leaf->count++;
    }

    void insert_at(Leaf* leaf, int position, Entry* entry, std::vector<Step>& path) {
        size_++;
        if (leaf->count < kLeafCapacity) {
            put_in_leaf(leaf, position, entry);
            return;
        }
        /* Split. Appending past the last leaf's end (a load in key order) keeps the full
         * leaf whole and starts a new one; otherwise each half takes half. */
        Leaf* right = new Leaf();
        const bool appending = leaf == last_ && position == leaf->count;
        const int keep = appending ? kLeafCapacity : kLeafCapacity / 2;
        right->count = leaf->count - keep;
        std::copy(leaf->entries + keep, leaf->entries + leaf->count, right->entries);
        leaf->count = keep;
        right->heads.split_from(leaf->heads, keep, right->count, right->key_at());
        leaf->heads.split_from(leaf->heads, 0, leaf->count, leaf->key_at());
        right->next = leaf->next;
        right->prev = leaf;
        if (leaf->next) leaf->next->prev = right;
        else last_ = right;
        leaf->next = right;
        Leaf* target = leaf;
        if (position > keep || (position == keep && appending)) {
            target = right;
            position -= keep;
        }
        put_in_leaf(target, position, entry);
        add_child(path, std::string(right->entries[0]->key), right, appending);
    }

    /* Puts `child`, whose keys are all >= `separator`, right after the node at the end of
     * `path` in its parent, splitting inner nodes up the path as they fill. */
    void add_child(std::vector<Step>& path, std::string separator, Node* child, bool appending) {
        while (!path.empty()) {
            const Step step = path.back();
            path.pop_back();
            Inner* inner = step.node;
            const int at = step.child + 1; /* the new child's index */
            if (inner->count < kInnerCapacity) {
                insert_child(inner, at, std::move(separator), child);
                return;
            }
            /* Split the full inner node; the separator between the halves moves up. */
            Inner* right = new Inner();
            const int keep = appending && at == inner->count ? kInnerCapacity : kInnerCapacity / 2;
            /* children [0, keep) stay; keys[keep - 1] goes up; the rest move right */
            std::string up;
            if (keep == kInnerCapacity) {
                up = std::move(separator);
                right->children[0] = child;
                right->count = 1;
                inner->count = kInnerCapacity;
            } else {
                right->count = inner->count - keep;
                for (int i = 0; i < right->count; i++) right->children[i] = inner->children[keep + i];
                for (int i = 0; i + 1 < right->count; i++) right->keys[i] = std::move(inner->keys[keep + i]);
                up = std::move(inner->keys[keep - 1]);
                inner->count = keep;
                right->heads.split_from(inner->heads, keep, right->count - 1, right->key_at());
                inner->heads.split_from(inner->heads, 0, inner->count - 1, inner->key_at());
                if (at <= keep) insert_child(inner, at, std::move(separator), child);
                else insert_child(right, at - keep, std::move(separator), child);
            }
            separator = std::move(up);
            child = right;
        }
        /* The root split: a new root above the two halves. */
        Inner* root = new Inner();
        root->children[0] = root_;
        root->children[1] = child;
        root->heads.insert(0, 0, separator, root->key_at());
        root->keys[0] = std::move(separator);
        root->count = 2;
        root_ = root;
    }

    static void insert_child(Inner* inner, int at, std::string separator, Node* child) {
        inner->heads.insert(at - 1, inner->count - 1, separator, inner->key_at()); /* keys intact */
        for (int i = inner->count; i > at; i--) inner->children[i] = inner->children[i - 1];
        for (int i = inner->count - 1; i > at - 1; i--) inner->keys[i] = std::move(inner->keys[i - 1]);
        inner->children[at] = child;
        inner->keys[at - 1] = std::move(separator);
        inner->count++;
    }

    /* Unlinks an emptied non-root leaf and takes it out of its parents, removing inner
     * nodes left without children and collapsing a root left with one child. */
    void remove_leaf(Leaf* leaf, std::vector<Step>& path) {
        if (leaf->prev) leaf->prev->next = leaf->next;
        else first_ = leaf->next;
        if (leaf->next) leaf->next->prev = leaf->prev;
        else last_ = leaf->prev;
        delete leaf;
        while (!path.empty()) {
            const Step step = path.back();
            path.pop_back();
            Inner* inner = step.node;
            /* drop children[step.child] and the separator on one side of it */
            const int drop_key = step.child > 0 ? step.child - 1 : 0;
            for (int i = step.child; i + 1 < inner->count; i++) inner->children[i] = inner->children[i + 1];
            for (int i = drop_key; i + 2 < inner->count; i++) inner->keys[i] = std::move(inner->keys[i + 1]);
            if (inner->count >= 2) inner->heads.erase(drop_key, inner->count - 1);
            inner->count--;
            if (inner->count > 0) {
                inner->keys[inner->count - 1].clear(); /* the unused last slot */
                break;
            }
            if (inner == root_) { /* every leaf is gone */
                delete inner;
                reset();
                return;
            }
            delete inner;
        }
        while (!root_->leaf && root_->count == 1) {
            Inner* old = static_cast<Inner*>(root_);
            root_ = old->children[0];
            old->count = 0;
            delete old;
        }
    }

    Node* root_;
    Leaf* first_;
    Leaf* last_;
    size_t size_;
    std::vector<Step> path_;
};

}  // namespace found

#endif

/* entry_tree.h — the store's ordered map: a B+tree of pointers to entries, by key.
 *
 * Why not std::map: a lookup in a red-black tree of a million keys visits about twenty
 * nodes scattered over the heap, and compares the key at each (another pointer to chase
 * for keys longer than 15 bytes), so inserting a random key cost ~1 µs of cache misses
 * and was most of a bulk load's commit time. Here the upper levels are a few hundred
 * compact nodes that stay in cache, and a leaf holds up to 64 entries: a search costs the
 * few comparisons of a binary search in one leaf.
 *
 * The tree owns its nodes, not the entries: the caller allocates each entry, keeps it at
 * one address for as long as it is in the tree (the store's hash index points at it), and
 * frees it after erasing it. `Entry` must have a `std::string key` member.
 *
 * Iterators are (leaf, position) pairs: any insert or erase invalidates them. Leaves that
 * become empty are removed; partly empty leaves are not merged (a tree emptied by deletes
 * keeps at most one leaf per 64 entries it once held, until they fill again or empty). */
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

template <class Entry>
class EntryTree {
    static constexpr int kLeafCapacity = 64;
    static constexpr int kInnerCapacity = 64; /* children */

    struct Node {
        bool leaf;
        int count; /* entries of a leaf, children of an inner node */
    };
    /* Every key of a leaf starts with the same `prefix` bytes (those of entries[0]);
     * heads[i] holds the 8 bytes of entries[i]'s key after them, big-endian and padded
     * with zeros, so a search compares integers in the leaf and reads a key only when two
     * heads tie. The prefix may be shorter than what the keys share: it is set by the first
     * key, shrinks when a key sharing less comes in, and is kept by both halves of a split. */
    struct Leaf : Node {
        Leaf* prev = nullptr;
        Leaf* next = nullptr;
        size_t prefix = 0;
        uint64_t heads[kLeafCapacity];
        Entry* entries[kLeafCapacity];
        Leaf() : Node{true, 0} {}
    };
    /* children[i] holds the keys in [keys[i-1], keys[i]) (unbounded at either end). */
    struct Inner : Node {
        std::string keys[kInnerCapacity - 1];
        Node* children[kInnerCapacity];
        Inner() : Node{false, 0} {}
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
        std::vector<Step> path;
        Leaf* leaf = descend(entry->key, &path);
        insert_at(leaf, leaf_position(leaf, entry->key, true), entry, path);
    }

    /* Adds `entry`, whose key must be greater than every key in the tree (a snapshot's
     * rows, loaded in order): no comparisons on the way down. */
    void push_back(Entry* entry) {
        std::vector<Step> path;
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
        std::vector<Step> path;
        Leaf* leaf = descend(key, &path);
        const int position = leaf_position(leaf, key, true);
        if (position == leaf->count || leaf->entries[position]->key != key) return nullptr;
        Entry* entry = leaf->entries[position];
        std::copy(leaf->entries + position + 1, leaf->entries + leaf->count, leaf->entries + position);
        std::copy(leaf->heads + position + 1, leaf->heads + leaf->count, leaf->heads + position);
        leaf->count--;
        size_--;
        if (leaf->count == 0 && leaf != root_) remove_leaf(leaf, path);
        return entry;
    }

private:
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
            const int child = (int)(std::upper_bound(inner->keys, inner->keys + inner->count - 1, key,
                                                     [](std::string_view k, const std::string& s) {
                                                         return k < std::string_view(s);
                                                     }) -
                                    inner->keys);
            if (path) path->push_back({inner, child});
            node = inner->children[child];
        }
        return static_cast<Leaf*>(node);
    }

    /* The 8 bytes of `key` from `at`, big-endian, zeros past its end: for keys that share
     * their first `at` bytes, a smaller window means a smaller key (equal ones tell
     * nothing: "a" and "a\0" have the same window). */
    static uint64_t window(std::string_view key, size_t at) {
        uint64_t head = 0;
        for (size_t i = at; i < at + 8; i++)
            head = (head << 8) | (i < key.size() ? (unsigned char)key[i] : 0u);
        return head;
    }

    /* The position of the first entry of `leaf` >= key (> key unless inclusive). */
    static int leaf_position(const Leaf* leaf, std::string_view key, bool inclusive) {
        const int count = leaf->count;
        if (count == 0) return 0;
        const size_t prefix = leaf->prefix;
        if (prefix > 0) {
            /* A key that does not start with the leaf's prefix is before or after all. */
            const std::string_view shared = std::string_view(leaf->entries[0]->key).substr(0, prefix);
            const int order = key.substr(0, prefix).compare(shared);
            if (order < 0 || (order == 0 && key.size() < prefix)) return 0;
            if (order > 0) return count;
        }
        const uint64_t head = window(key, prefix);
        int low = 0, high = count;
        while (low < high) {
            const int middle = (low + high) / 2;
            bool before; /* entries[middle] comes before the position sought */
            if (leaf->heads[middle] != head) {
                before = leaf->heads[middle] < head;
            } else {
                const std::string_view here(leaf->entries[middle]->key);
                before = inclusive ? here < key : here <= key;
            }
            if (before) low = middle + 1;
            else high = middle;
        }
        return low;
    }

    /* Makes room for `key` under the leaf's prefix: shortens the prefix to what the key
     * shares with it, shifting every head to the new window. */
    static void fit_prefix(Leaf* leaf, std::string_view key) {
        if (leaf->count == 0) {
            leaf->prefix = key.size();
            return;
        }
        const std::string& first = leaf->entries[0]->key;
        size_t shared = 0;
        while (shared < leaf->prefix && shared < key.size() && key[shared] == first[shared]) shared++;
        if (shared == leaf->prefix) return;
        /* new window = the first key's bytes [shared, prefix) followed by the old window */
        const size_t moved = leaf->prefix - shared;
        const uint64_t lead = window(std::string_view(first).substr(0, leaf->prefix), shared);
        for (int i = 0; i < leaf->count; i++)
            leaf->heads[i] = moved >= 8 ? lead : lead | (leaf->heads[i] >> (8 * moved));
        leaf->prefix = shared;
    }

    /* Puts `entry` at `position` of a leaf with room. */
    static void put_in_leaf(Leaf* leaf, int position, Entry* entry) {
        fit_prefix(leaf, entry->key);
        std::copy_backward(leaf->entries + position, leaf->entries + leaf->count,
                           leaf->entries + leaf->count + 1);
        std::copy_backward(leaf->heads + position, leaf->heads + leaf->count,
                           leaf->heads + leaf->count + 1);
        leaf->entries[position] = entry;
        leaf->heads[position] = window(entry->key, leaf->prefix);
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
        right->prefix = leaf->prefix;
        std::copy(leaf->entries + keep, leaf->entries + leaf->count, right->entries);
        std::copy(leaf->heads + keep, leaf->heads + leaf->count, right->heads);
        leaf->count = keep;
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
        root->keys[0] = std::move(separator);
        root->count = 2;
        root_ = root;
    }

    static void insert_child(Inner* inner, int at, std::string separator, Node* child) {
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
};

}  // namespace found

#endif

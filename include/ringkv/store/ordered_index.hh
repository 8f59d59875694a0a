#pragma once
// The keys of one namespace on one core, in byte-wise order, for prefix
// scans and cursors. A treap threaded through the items themselves (their
// left/right links), with the secret-seeded key hash as heap priority: no
// allocation per key, expected depth O(log n), and a client cannot pick keys
// that unbalance it without knowing the secret.
//
// Nothing here depends on the tree being balanced, though: insert and erase
// are loops (no recursion, so no stack to overflow), and a scan keeps a
// bounded stack of the path it still has to visit; when a path is deeper
// than the stack, the scan forgets the far end of it and finds its way back
// by a fresh descent from the root. A degenerate tree is slow, never fatal.

#include <ringkv/store/item.hh>

#include <cstddef>
#include <cstring>
#include <string_view>

namespace ringkv::store {

class ordered_index {
public:
    void insert(item* i);
    // `fresh` takes the place of `old` (same key, so same priority).
    void replace(item* old, item* fresh);
    void erase(item* i);

    // Calls visit(const item&) for items with key > after (or every key when
    // after is empty) that start with prefix, in order, until visit returns
    // false or the prefix range ends.
    template <typename Visit>
    void scan(std::string_view prefix, std::string_view after, Visit visit) const;

    std::size_t size() const { return _size; }
    item* root() const { return _root; }

private:
    item** link_to(const item* target);

    item* _root = nullptr;
    std::size_t _size = 0;
};

// Entries of a scan's stack (8 bytes each, on the caller's stack). A treap
// of random priorities over 2^32 keys stays far below it; a deeper path is
// handled (see above), only more slowly.
inline constexpr std::size_t ordered_index_depth_max = 256;

namespace detail {

// The nodes a scan still has to visit, smallest on top. Full, it drops its
// bottom half (the largest keys, re-found later by a descent from the root).
class scan_stack {
public:
    void push(const item* node) {
        if (_depth == ordered_index_depth_max) {
            constexpr std::size_t dropped = ordered_index_depth_max / 2;
            std::memmove(_nodes, _nodes + dropped, (_depth - dropped) * sizeof(_nodes[0]));
            _depth -= dropped;
            _forgot = true;
        }
        _nodes[_depth++] = node;
    }
    const item* pop() { return _nodes[--_depth]; }
    bool empty() const { return _depth == 0; }
    // True once if nodes were dropped since the last call.
    bool take_forgotten() {
        const bool forgot = _forgot;
        _forgot = false;
        return forgot;
    }

private:
    const item* _nodes[ordered_index_depth_max];
    std::size_t _depth = 0;
    bool _forgot = false;
};

}  // namespace detail

template <typename Visit>
void ordered_index::scan(std::string_view prefix, std::string_view after, Visit visit) const {
    detail::scan_stack stack;
    // Pushes the path to the first key past the bound: > after, or >= prefix
    // when there is no usable `after`.
    const auto descend = [&](std::string_view bound, bool inclusive) {
        for (const item* node = _root; node != nullptr;) {
            const bool before = inclusive ? node->key() < bound : node->key() <= bound;
            if (before) {
                node = node->right;
            } else {
                stack.push(node);
                node = node->left;
            }
        }
    };
    const bool use_after = !after.empty() && after >= prefix;
    if (use_after) descend(after, false);
    else descend(prefix, true);
    for (;;) {
        if (stack.empty()) return;
        const item* current = stack.pop();
        if (!current->key().starts_with(prefix)) return;
        if (!visit(*current)) return;
        for (const item* node = current->right; node != nullptr; node = node->left) stack.push(node);
        // Out of remembered nodes but some were forgotten: the next key is
        // the first one past `current`, found from the root.
        if (stack.empty() && stack.take_forgotten()) descend(current->key(), false);
    }
}

}  // namespace ringkv::store

#pragma once
// The keys of one namespace on one core, in byte-wise order, for prefix
// scans and cursors. A treap threaded through the items themselves (their
// left/right links), with the key hash as heap priority: no allocation per
// key, expected depth O(log n), and an attacker cannot pick keys that
// unbalance it without knowing the hash.

#include <ringkv/store/item.hh>

#include <cstddef>
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
    static item* insert_below(item* node, item* fresh);
    static item* erase_below(item* node, const item* target);
    item** link_to(const item* target);

    item* _root = nullptr;
    std::size_t _size = 0;
};

// The depth the scan stack allows; a treap of random priorities over 2^32
// keys stays far below it.
inline constexpr std::size_t ordered_index_depth_max = 256;

template <typename Visit>
void ordered_index::scan(std::string_view prefix, std::string_view after, Visit visit) const {
    // Start at the first key > after and >= prefix.
    const bool use_after = !after.empty() && after >= prefix;
    const auto before_start = [&](std::string_view key) { return use_after ? key <= after : key < prefix; };
    const item* stack[ordered_index_depth_max];
    std::size_t depth = 0;
    const item* node = _root;
    while (node != nullptr) {
        if (before_start(node->key())) {
            node = node->right;
        } else {
            RINGKV_ASSERT(depth < ordered_index_depth_max);
            stack[depth++] = node;
            node = node->left;
        }
    }
    while (depth > 0) {
        const item* current = stack[--depth];
        if (!current->key().starts_with(prefix)) return;
        if (!visit(*current)) return;
        for (node = current->right; node != nullptr; node = node->left) {
            RINGKV_ASSERT(depth < ordered_index_depth_max);
            stack[depth++] = node;
        }
    }
}

}  // namespace ringkv::store

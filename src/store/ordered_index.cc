#include <ringkv/store/ordered_index.hh>

#include <ringkv/base/assert.hh>

namespace ringkv::store {

// Top-down insertion, a loop with no stack: walk down while the nodes
// outrank the fresh item, then split the subtree found there by its key and
// hang the halves under it. Heap order holds (every node on the way down
// outranks it, it outranks the split halves) and so does key order.
void ordered_index::insert(item* fresh) {
    item** link = &_root;
    while (*link != nullptr && (*link)->priority() >= fresh->priority()) {
        RINGKV_DEBUG_ASSERT((*link)->key() != fresh->key());
        link = fresh->key() < (*link)->key() ? &(*link)->left : &(*link)->right;
    }
    item** smaller = &fresh->left;
    item** larger = &fresh->right;
    for (item* node = *link; node != nullptr;) {
        RINGKV_DEBUG_ASSERT(node->key() != fresh->key());
        if (node->key() < fresh->key()) {
            *smaller = node;
            smaller = &node->right;
            node = node->right;
        } else {
            *larger = node;
            larger = &node->left;
            node = node->left;
        }
    }
    *smaller = nullptr;
    *larger = nullptr;
    *link = fresh;
    ++_size;
}

item** ordered_index::link_to(const item* target) {
    item** link = &_root;
    while (*link != nullptr && *link != target) {
        link = target->key() < (*link)->key() ? &(*link)->left : &(*link)->right;
    }
    RINGKV_ASSERT(*link == target);  // only a bug can ask for an item the index lacks
    return link;
}

void ordered_index::replace(item* old, item* fresh) {
    RINGKV_DEBUG_ASSERT(old->key() == fresh->key() && old->priority() == fresh->priority());
    item** link = link_to(old);
    fresh->left = old->left;
    fresh->right = old->right;
    *link = fresh;
    old->left = old->right = nullptr;
}

// Replaces the target by the merge of its two subtrees, a loop again: the
// higher-priority root of the two goes up, and the merge continues down its
// inner side (every key on the left is below every key on the right).
void ordered_index::erase(item* target) {
    item** link = link_to(target);
    item* left = target->left;
    item* right = target->right;
    while (left != nullptr && right != nullptr) {
        if (left->priority() > right->priority()) {
            *link = left;
            link = &left->right;
            left = left->right;
        } else {
            *link = right;
            link = &right->left;
            right = right->left;
        }
    }
    *link = left != nullptr ? left : right;
    target->left = target->right = nullptr;
    --_size;
}

}  // namespace ringkv::store

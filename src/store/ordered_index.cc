#include <ringkv/store/ordered_index.hh>

#include <ringkv/base/assert.hh>

namespace ringkv::store {
namespace {

item* rotate_right(item* node) {
    item* up = node->left;
    node->left = up->right;
    up->right = node;
    return up;
}

item* rotate_left(item* node) {
    item* up = node->right;
    node->right = up->left;
    up->left = node;
    return up;
}

}  // namespace

item* ordered_index::insert_below(item* node, item* fresh) {
    if (node == nullptr) return fresh;
    RINGKV_DEBUG_ASSERT(node->key() != fresh->key());
    if (fresh->key() < node->key()) {
        node->left = insert_below(node->left, fresh);
        if (node->left->priority() > node->priority()) node = rotate_right(node);
    } else {
        node->right = insert_below(node->right, fresh);
        if (node->right->priority() > node->priority()) node = rotate_left(node);
    }
    return node;
}

void ordered_index::insert(item* i) {
    i->left = i->right = nullptr;
    _root = insert_below(_root, i);
    ++_size;
}

item** ordered_index::link_to(const item* target) {
    item** link = &_root;
    while (*link != nullptr && *link != target) {
        link = target->key() < (*link)->key() ? &(*link)->left : &(*link)->right;
    }
    RINGKV_ASSERT(*link == target);
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

item* ordered_index::erase_below(item* node, const item* target) {
    RINGKV_ASSERT(node != nullptr);
    if (node != target) {
        if (target->key() < node->key()) node->left = erase_below(node->left, target);
        else node->right = erase_below(node->right, target);
        return node;
    }
    // Rotate the target down until it has at most one child, then splice it out.
    if (node->left == nullptr) return node->right;
    if (node->right == nullptr) return node->left;
    if (node->left->priority() > node->right->priority()) {
        node = rotate_right(node);
        node->right = erase_below(node->right, target);
    } else {
        node = rotate_left(node);
        node->left = erase_below(node->left, target);
    }
    return node;
}

void ordered_index::erase(item* i) {
    _root = erase_below(_root, i);
    i->left = i->right = nullptr;
    --_size;
}

}  // namespace ringkv::store

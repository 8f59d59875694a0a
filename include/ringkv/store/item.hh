#pragma once
// One stored key: a single allocation holding the header, the key bytes and
// the value bytes. Immutable once published (a PUT builds a new item and
// swaps it in), so it can be handed to another core for sending without a
// copy; the atomic reference count says when it may be freed.
//
// Layout (40-byte header, then data): the header is kept small on purpose,
// since at 1M keys of 100 bytes every 16 bytes of header is 16 MB.
// Data: the key, the value, then the Content-Type when it is not one of a
// small fixed table of well-known types (those cost nothing: a 16-bit index
// in the header). Each item carries its own type, so there is no shared
// table of types for a tenant to fill.

#include <ringkv/base/assert.hh>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ringkv::store {

class item {
public:
    static constexpr std::uint32_t value_bytes_max = (1u << 21) - 1;  // 2 MiB - 1 >= 1 MiB values
    static constexpr std::uint32_t key_bytes_max = 511;               // keys are at most 256
    // A Content-Type stored in the item is at most this long (the API refuses
    // longer ones with 415 before they reach the store).
    static constexpr std::size_t content_type_bytes_max = 256;
    // The header's 16-bit Content-Type field: a well-known type's index, or
    // inline_content_type | the length of the type stored inline, in the
    // low bits under inline_type_bytes_mask.
    static constexpr std::uint16_t inline_content_type = 0x8000;
    static constexpr std::uint16_t inline_type_bytes_mask = 0x1ff;
    static_assert(content_type_bytes_max <= inline_type_bytes_mask, "an inline type's length must fit its field");
    static_assert((inline_type_bytes_mask & inline_content_type) == 0, "the length bits and the flag must not overlap");

    // A Content-Type as an item stores it, looked up once in the fixed table
    // of well-known types: a PUT needs it twice (its charge, then the item),
    // so it classifies the type once and passes this to both.
    struct stored_type {
        std::string_view text;
        std::uint16_t field = 0;  // the header's _content_type
        std::size_t inline_bytes() const { return (field & inline_content_type) != 0 ? text.size() : 0; }
    };
    static stored_type classify(std::string_view content_type);

    // Allocates an item with one reference (the table's), or returns nullptr
    // when the allocation fails (the caller answers 507). with_ttl: the item
    // carries an expiry record (below) in front of its header.
    static item* create(std::uint32_t namespace_number, std::string_view key, std::string_view value,
                        const stored_type& content_type, std::uint32_t priority, std::uint32_t updated_at_s,
                        bool with_ttl);
    static item* create(std::uint32_t namespace_number, std::string_view key, std::string_view value,
                        std::string_view content_type, std::uint32_t priority, std::uint32_t updated_at_s,
                        bool with_ttl) {
        return create(namespace_number, key, value, classify(content_type), priority, updated_at_s, with_ttl);
    }
    // The bytes create() allocates for such an item.
    static std::size_t allocation_bytes(std::size_t key_bytes, std::size_t value_bytes, const stored_type& content_type,
                                        bool with_ttl) {
        return (with_ttl ? sizeof(expiry) : 0) + sizeof(item) + key_bytes + value_bytes + content_type.inline_bytes();
    }
    static std::size_t allocation_bytes(std::size_t key_bytes, std::size_t value_bytes, std::string_view content_type,
                                        bool with_ttl) {
        return allocation_bytes(key_bytes, value_bytes, classify(content_type), with_ttl);
    }

    // Only items created with a TTL have one: the timer wheel's links, the
    // list it is on and the deadline; 32 bytes paid by TTL keys alone.
    struct expiry {
        item* next = nullptr;
        item* previous = nullptr;
        std::uint64_t at_ms = 0;  // monotonic
        std::uint32_t list = 0;   // which wheel list holds it (timer_wheel's numbering)
    };
    expiry& ttl() {
        RINGKV_DEBUG_ASSERT(has_ttl());
        return *(reinterpret_cast<expiry*>(this) - 1);
    }
    const expiry& ttl() const { return const_cast<item*>(this)->ttl(); }
    bool expired(std::uint64_t now_ms) const { return has_ttl() && ttl().at_ms <= now_ms; }

    void acquire() { _references.fetch_add(1, std::memory_order_relaxed); }
    // The count; acquire, so that a reader's release before it drops its
    // reference happens before the owner frees (reclaimer.hh).
    std::uint32_t references() const { return _references.load(std::memory_order_acquire); }
    // Drops a reference; frees the item with the last one.
    void release() {
        if (_references.fetch_sub(1, std::memory_order_acq_rel) == 1) destroy();
    }

    std::uint32_t namespace_number() const { return _namespace_number; }
    std::string_view key() const { return {data(), key_bytes()}; }
    std::string_view value() const { return {data() + key_bytes(), value_bytes()}; }
    std::uint32_t value_bytes() const { return _packed & value_bytes_max; }
    std::uint32_t key_bytes() const { return (_packed >> 21) & key_bytes_max; }
    // Valid while the item is (a well-known type: forever).
    std::string_view content_type() const;
    // What the item's single allocation occupies.
    std::size_t allocation_bytes() const;
    std::uint32_t updated_at_s() const { return _updated_at_s; }
    std::uint32_t priority() const { return _priority; }

    bool has_ttl() const { return (_packed >> 30) & 1u; }

    // Links of the ordered index (a treap); owned by store::ordered_index.
    item* left = nullptr;
    item* right = nullptr;

private:
    item() = default;
    void destroy();

    std::atomic<std::uint32_t> _references{1};
    std::uint32_t _namespace_number = 0;
    std::uint32_t _updated_at_s = 0;
    std::uint32_t _priority = 0;
    std::uint32_t _packed = 0;  // value bytes (21 bits) | key bytes (9) | has TTL (1)
    // A well-known type's index, or inline_content_type | its length.
    std::uint16_t _content_type = 0;
    // The key, the value, then an inline Content-Type follow the header.
    const char* data() const { return reinterpret_cast<const char*>(this + 1); }
    char* data() { return reinterpret_cast<char*>(this + 1); }
};
static_assert(sizeof(item) == 40, "the item header is sized for memory per key");

// A counted reference, for passing an item between cores.
class item_ref {
public:
    item_ref() = default;
    explicit item_ref(item* i) : _item(i) {
        if (_item != nullptr) _item->acquire();
    }
    item_ref(item_ref&& other) noexcept : _item(other._item) { other._item = nullptr; }
    item_ref& operator=(item_ref&& other) noexcept {
        if (this != &other) {
            reset();
            _item = other._item;
            other._item = nullptr;
        }
        return *this;
    }
    item_ref(const item_ref&) = delete;
    item_ref& operator=(const item_ref&) = delete;
    ~item_ref() { reset(); }

    void reset() {
        if (_item != nullptr) _item->release();
        _item = nullptr;
    }
    const item* get() const { return _item; }
    // Gives up the reference without dropping it; release_raw() drops it.
    item* leak() {
        item* i = _item;
        _item = nullptr;
        return i;
    }
    static void release_raw(void* i) { static_cast<item*>(i)->release(); }
    const item* operator->() const { return _item; }
    explicit operator bool() const { return _item != nullptr; }

private:
    item* _item = nullptr;
};

}  // namespace ringkv::store

#pragma once
// A set of pointers, for the shard's items born during a snapshot's freeze
// (shard.hh): insert, erase-and-test, and a clear() that costs nothing, so
// that a thaw touches neither the items nor the set's slots.
//
// Open addressing with linear probing over 8-byte slots: the pointer in the
// low 48 bits, and above it the round it was inserted in. A slot holding an
// earlier round counts as empty, so clear() only starts the next round. Round
// numbers are 16 bits: before they wrap, clear() zeroes the slots once (every
// 65,535 rounds). Erase moves the entries after it back into the gap
// (backward shift), so no tombstones build up: a churn of inserts and erases
// that keeps the set small keeps its probes short.
//
// Bounds: capacity a power of two, entries at most 3/4 of it; an insert that
// would pass that doubles the slots first (a rehash of the entries, on the
// owner's thread). The slots are kept across clear(), at the most a round
// needed, so later rounds of the same size allocate nothing. Owner thread
// only; no entry is ever dereferenced.

#include <cstddef>
#include <cstdint>
#include <memory>

namespace ringkv::store {

class pointer_set {
public:
    static constexpr std::size_t capacity_min = 256;  // 2 KiB of slots

    // Adds p, which must not be in the set. False when the slots had to grow
    // and the allocation failed: the set is unchanged then.
    bool insert(const void* p);
    // Removes p; whether it was there.
    bool erase(const void* p);
    bool contains(const void* p) const { return find(p) != not_found; }
    // Empties the set in O(1) (keeping its slots).
    void clear();

    std::size_t size() const { return _size; }
    std::size_t capacity() const { return _capacity; }
    // What the slots take.
    std::size_t bytes() const { return _capacity * sizeof(std::uint64_t); }
    // The slot bytes the next insert allocates (the doubled slots, while
    // the old ones are still held), or 0 when it fits as is.
    std::size_t growth_bytes_on_insert() const {
        return over_load(_size + 1, _capacity) ? grown_capacity() * sizeof(std::uint64_t) : 0;
    }

private:
    static constexpr std::size_t not_found = SIZE_MAX;
    static bool over_load(std::size_t entries, std::size_t capacity) { return entries * 4 > capacity * 3; }
    std::size_t grown_capacity() const { return _capacity == 0 ? capacity_min : _capacity * 2; }
    std::size_t home_of(std::uint64_t pointer_bits) const;
    bool occupied(std::uint64_t slot) const { return (slot >> pointer_bits_count) == _round; }
    std::size_t find(const void* p) const;
    bool grow();

    static constexpr int pointer_bits_count = 48;
    static constexpr std::uint64_t pointer_mask = (std::uint64_t(1) << pointer_bits_count) - 1;

    std::unique_ptr<std::uint64_t[]> _slots;
    std::size_t _capacity = 0;
    std::size_t _size = 0;
    int _shift = 64;              // 64 - log2(capacity): the hash's top bits pick the home slot
    std::uint64_t _round = 1;     // 1..65535; 0 is what zeroed slots hold
};

}  // namespace ringkv::store

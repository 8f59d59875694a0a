#include <ringkv/store/pointer_set.hh>

#include <ringkv/base/assert.hh>

#include <algorithm>
#include <bit>
#include <new>
#include <utility>

namespace ringkv::store {

std::size_t pointer_set::home_of(std::uint64_t pointer_bits) const {
    // Fibonacci hashing: the allocator hands out addresses in strides, and
    // the product's top bits spread any stride over the slots.
    return std::size_t((pointer_bits * 0x9e3779b97f4a7c15ull) >> _shift);
}

std::size_t pointer_set::find(const void* p) const {
    if (_size == 0) return not_found;
    const auto bits = std::uint64_t(reinterpret_cast<std::uintptr_t>(p));
    const std::size_t mask = _capacity - 1;
    for (std::size_t s = home_of(bits);; s = (s + 1) & mask) {
        const std::uint64_t slot = _slots[s];
        if (!occupied(slot)) return not_found;  // the load limit leaves an empty slot on every path
        if ((slot & pointer_mask) == bits) return s;
    }
}

bool pointer_set::insert(const void* p) {
    const auto bits = std::uint64_t(reinterpret_cast<std::uintptr_t>(p));
    RINGKV_ASSERT((bits & ~pointer_mask) == 0);  // x86-64/arm64 user pointers fit in 48 bits
    RINGKV_DEBUG_ASSERT(!contains(p));
    if (over_load(_size + 1, _capacity) && !grow()) return false;
    const std::size_t mask = _capacity - 1;
    std::size_t s = home_of(bits);
    while (occupied(_slots[s])) s = (s + 1) & mask;
    _slots[s] = (_round << pointer_bits_count) | bits;
    ++_size;
    return true;
}

bool pointer_set::erase(const void* p) {
    std::size_t gap = find(p);
    if (gap == not_found) return false;
    // Backward shift: an entry further on the probe path moves into the gap
    // when its home is not between the gap and itself (it probed past the
    // gap to get there), and leaves a gap of its own; an empty slot ends it.
    const std::size_t mask = _capacity - 1;
    for (std::size_t s = (gap + 1) & mask; occupied(_slots[s]); s = (s + 1) & mask) {
        const std::size_t home = home_of(_slots[s] & pointer_mask);
        if (((s - home) & mask) >= ((s - gap) & mask)) {
            _slots[gap] = _slots[s];
            gap = s;
        }
    }
    _slots[gap] = 0;
    --_size;
    return true;
}

void pointer_set::clear() {
    _size = 0;
    if (++_round < (std::uint64_t(1) << (64 - pointer_bits_count))) return;
    // Round numbers would repeat: slots of round 1 from long ago would count
    // as entries again. Zeroed, every slot is empty in every round.
    std::fill_n(_slots.get(), _capacity, std::uint64_t(0));
    _round = 1;
}

bool pointer_set::grow() {
    const std::size_t capacity = grown_capacity();
    std::unique_ptr<std::uint64_t[]> slots(new (std::nothrow) std::uint64_t[capacity]());  // zeroed: empty
    if (!slots) return false;
    std::unique_ptr<std::uint64_t[]> old = std::exchange(_slots, std::move(slots));
    const std::size_t old_capacity = std::exchange(_capacity, capacity);
    _shift = 64 - std::countr_zero(capacity);
    const std::size_t mask = capacity - 1;
    for (std::size_t o = 0; o < old_capacity; ++o) {
        if (!occupied(old[o])) continue;
        std::size_t s = home_of(old[o] & pointer_mask);
        while (occupied(_slots[s])) s = (s + 1) & mask;
        _slots[s] = old[o];
    }
    return true;
}

}  // namespace ringkv::store

#include <ringkv/store/timer_wheel.hh>

#include <ringkv/base/assert.hh>

#include <algorithm>
#include <bit>

namespace ringkv::store {

void timer_wheel::push(std::uint32_t number, item& i) {
    list& l = list_at(number);
    item::expiry& e = i.ttl();
    e.list = number;
    e.next = nullptr;
    e.previous = l.tail;
    if (l.tail != nullptr) l.tail->ttl().next = &i; else l.head = &i;
    l.tail = &i;
    if (number != pending_list) _occupied[number / buckets] |= std::uint64_t(1) << (number % buckets);
}

void timer_wheel::unlink(std::uint32_t number, item& i) {
    list& l = list_at(number);
    item::expiry& e = i.ttl();
    if (e.previous != nullptr) e.previous->ttl().next = e.next; else l.head = e.next;
    if (e.next != nullptr) e.next->ttl().previous = e.previous; else l.tail = e.previous;
    e.next = e.previous = nullptr;
    if (l.head == nullptr && number != pending_list) {
        _occupied[number / buckets] &= ~(std::uint64_t(1) << (number % buckets));
    }
}

void timer_wheel::splice_to_pending(unsigned level, unsigned bucket) {
    // O(1): the items keep the number of the bucket they came from; cancel()
    // copes with that (see there).
    list& from = _wheel[level][bucket];
    if (from.head == nullptr) return;
    _occupied[level] &= ~(std::uint64_t(1) << bucket);
    if (_pending.tail != nullptr) {
        _pending.tail->ttl().next = from.head;
        from.head->ttl().previous = _pending.tail;
    } else {
        _pending.head = from.head;
    }
    _pending.tail = from.tail;
    from = list{};
}

std::uint32_t timer_wheel::list_for(std::uint64_t at_ms) const {
    if (at_ms <= _now_ms) return pending_list;
    const std::uint64_t delta = at_ms - _now_ms;
    unsigned level = 0;
    while (level + 1 < levels && delta >= (std::uint64_t(1) << (bucket_bits * (level + 1)))) ++level;
    // The far future: clamp into the last level; it is re-filed when reached.
    const std::uint64_t span = std::uint64_t(1) << (bucket_bits * level);
    const std::uint64_t horizon = span * (buckets - 1);
    const std::uint64_t when = delta > horizon ? _now_ms + horizon : at_ms;
    // Rounded down: the bucket comes round at or before the deadline, and an
    // item not yet due is filed again, lower (step()), so it fires on time.
    const std::uint64_t bucket = (when >> (bucket_bits * level)) & (buckets - 1);
    return std::uint32_t(level * buckets + bucket);
}

void timer_wheel::insert(item& i) {
    push(list_for(i.ttl().at_ms), i);
    ++_size;
}

void timer_wheel::cancel(item& i) {
    item::expiry& e = i.ttl();
    --_size;
    if (e.previous != nullptr && e.next != nullptr) {  // mid-list: no list needed
        e.previous->ttl().next = e.next;
        e.next->ttl().previous = e.previous;
        e.next = e.previous = nullptr;
        return;
    }
    // A head or a tail: of the list it was filed in, or, if that bucket has
    // been spliced onto the pending list since, of the pending list.
    const list& filed = list_at(e.list);
    if (filed.head == &i || filed.tail == &i) {
        unlink(e.list, i);
    } else {
        RINGKV_ASSERT(_pending.head == &i || _pending.tail == &i);
        unlink(pending_list, i);
    }
}

void timer_wheel::visit() {
    for (unsigned level = 0; level < levels; ++level) {
        const unsigned shift = bucket_bits * level;
        const unsigned bucket = unsigned(_now_ms >> shift) & (buckets - 1);
        splice_to_pending(level, bucket);
        if (bucket != 0) break;
    }
}

std::uint64_t timer_wheel::next_visit_ms() const {
    std::uint64_t next = UINT64_MAX;
    for (unsigned level = 0; level < levels; ++level) {
        if (_occupied[level] == 0) continue;
        // Level L comes round at multiples of 64^L, bucket (slot mod 64) at
        // slot = t >> 6L. The first occupied bucket after the current slot:
        // rotate the bitmap so the bucket after the current one is bit 0.
        const unsigned shift = bucket_bits * level;
        const std::uint64_t slot = _now_ms >> shift;
        const unsigned from = unsigned(slot + 1) & (buckets - 1);
        const std::uint64_t rotated = std::rotr(_occupied[level], int(from));
        const std::uint64_t next_slot = slot + 1 + std::uint64_t(std::countr_zero(rotated));
        if (next_slot > (UINT64_MAX >> shift)) continue;  // past the end of time
        next = std::min(next, next_slot << shift);
    }
    return next;
}

void timer_wheel::advance(std::uint64_t now_ms) {
    // Only instants at which an occupied bucket comes round do any work
    // (the others would splice empty lists), so jump from one to the next.
    while (_now_ms < now_ms) {
        const std::uint64_t next = next_visit_ms();
        if (next > now_ms) {
            _now_ms = now_ms;
            return;
        }
        _now_ms = next;
        visit();
    }
}

}  // namespace ringkv::store

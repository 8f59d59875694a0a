#pragma once
// A core's hierarchical timer wheel for key expiry (after Linux's
// kernel/time/timer.c): 8 levels of 64 buckets, level L holding deadlines
// 64^L to 64^(L+1) ms away, each bucket a doubly-linked list threaded
// through the items' expiry records. Insert and cancel are O(1); 8 levels
// of 1 ms x 64^8 cover far more than ttl_secs' 9,223,372,036 s (the far
// future is clamped into the last level and re-filed when it comes round).
//
// advance() only splices due buckets onto a pending list (O(1) per bucket);
// step() then works through that list within a budget: an item whose
// deadline has passed is handed to the expire callback, one that is not yet
// due (a coarse bucket comes round before its deadline) is filed again,
// lower. Nothing fires early or late (to the millisecond of advance()); the
// work of a million keys expiring in the same second is spread over steps.
// advance() visits only the instants at which a non-empty bucket comes
// round (a bitmap of non-empty buckets per level), so moving the clock
// forward by hours (the virtual clock, POST /_ringkv/clock) costs at most a
// few visits per level, not one per millisecond.

#include <ringkv/store/item.hh>

#include <array>
#include <cstddef>
#include <cstdint>

namespace ringkv::store {

class timer_wheel {
public:
    static constexpr unsigned levels = 8;
    static constexpr unsigned bucket_bits = 6;
    static constexpr unsigned buckets = 1u << bucket_bits;

    explicit timer_wheel(std::uint64_t now_ms) : _now_ms(now_ms) {}

    // The item's expiry record must hold its deadline (at_ms).
    void insert(item& i);
    void cancel(item& i);

    // Moves the wheel to now_ms; due buckets go to the pending list.
    void advance(std::uint64_t now_ms);
    // Handles at most `budget` pending items; expire(item&) gets each one
    // whose deadline has passed (the wheel has already unlinked it).
    // Returns true while pending work remains.
    template <typename Expire>
    bool step(std::size_t budget, Expire expire);

    std::size_t size() const { return _size; }
    bool has_pending() const { return _pending.head != nullptr; }

private:
    struct list {
        item* head = nullptr;
        item* tail = nullptr;
    };
    // Lists are numbered so an item records where it is: level * buckets +
    // bucket for the wheel, pending_list for the pending list.
    static constexpr std::uint32_t pending_list = levels * buckets;
    list& list_at(std::uint32_t number) { return number == pending_list ? _pending : _wheel[number / buckets][number % buckets]; }
    void push(std::uint32_t number, item& i);
    void unlink(std::uint32_t number, item& i);
    std::uint32_t list_for(std::uint64_t at_ms) const;
    void splice_to_pending(unsigned level, unsigned bucket);
    // The next instant after _now_ms at which a non-empty bucket comes
    // round, or UINT64_MAX when every bucket is empty.
    std::uint64_t next_visit_ms() const;
    // Splices the buckets that come round at _now_ms (level 0 every ms,
    // level L when the levels below it wrap around).
    void visit();

    std::uint64_t _now_ms;
    std::array<std::array<list, buckets>, levels> _wheel{};
    // Bit b of _occupied[L]: bucket b of level L holds an item.
    std::array<std::uint64_t, levels> _occupied{};
    list _pending;
    std::size_t _size = 0;
};

template <typename Expire>
bool timer_wheel::step(std::size_t budget, Expire expire) {
    for (std::size_t done = 0; done < budget && _pending.head != nullptr; ++done) {
        item& i = *_pending.head;
        unlink(pending_list, i);
        if (i.ttl().at_ms <= _now_ms) {
            --_size;
            expire(i);
        } else {
            --_size;
            insert(i);
        }
    }
    return _pending.head != nullptr;
}

}  // namespace ringkv::store

#pragma once
// A bounded, lock-free, single-producer single-consumer queue of trivially
// copyable items (ringkv sends pointers). One exists per ordered pair of
// cores. The producer and consumer each keep a private copy of the other
// side's index, so the shared cache lines are touched only when the cached
// view says full or empty.
//
// The producer may stage items and publish them together: a batch costs the
// consumer one acquire of the tail and the producer one release store,
// however many items it holds. Staged items count against the capacity, so
// the bound holds for staged and published items together.

#include <ringkv/base/assert.hh>

#include <atomic>
#include <bit>
#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>

namespace ringkv::io {

template <typename T>
class spsc_queue {
    static_assert(std::is_trivially_copyable_v<T>);

public:
    // capacity: a power of two; the queue holds at most `capacity` items.
    explicit spsc_queue(std::size_t capacity)
        : _mask(capacity - 1), _slots(std::make_unique<T[]>(capacity)) {
        RINGKV_ASSERT(capacity >= 2 && std::has_single_bit(capacity));
    }

    std::size_t capacity() const { return _mask + 1; }

    // Producer side: writes the item where the consumer cannot see it yet.
    // Returns false when full (staged items included); nothing is written then.
    bool try_stage(T item) {
        const std::size_t tail = _producer.staged_tail;
        if (tail - _producer.head_cached > _mask) {
            _producer.head_cached = _consumer.head.load(std::memory_order_acquire);
            if (tail - _producer.head_cached > _mask) return false;
        }
        _slots[tail & _mask] = item;
        _producer.staged_tail = tail + 1;
        return true;
    }
    // Producer side: every staged item becomes visible to the consumer.
    void publish() {
        if (!has_staged()) return;
        _producer.tail.store(_producer.staged_tail, std::memory_order_release);
    }
    // Producer side: items staged and not yet published.
    bool has_staged() const { return _producer.staged_tail != _producer.tail.load(std::memory_order_relaxed); }

    // Producer side: stage and publish one item (and any staged before it).
    bool try_push(T item) {
        if (!try_stage(item)) return false;
        publish();
        return true;
    }

    // Consumer side. Returns false when empty.
    bool try_pop(T& item) {
        const std::size_t head = _consumer.head.load(std::memory_order_relaxed);
        if (head == _consumer.tail_cached) {
            _consumer.tail_cached = _producer.tail.load(std::memory_order_acquire);
            if (head == _consumer.tail_cached) return false;
        }
        item = _slots[head & _mask];
        _consumer.head.store(head + 1, std::memory_order_release);
        return true;
    }

    // Either side: a snapshot of the published items, exact only when the
    // other side is idle.
    bool empty() const {
        return _consumer.head.load(std::memory_order_acquire) ==
               _producer.tail.load(std::memory_order_acquire);
    }

private:
    static constexpr std::size_t line = 64;  // x86-64 and most arm64 cache lines
    struct alignas(line) producer_side {
        std::atomic<std::size_t> tail{0};  // published
        std::size_t staged_tail = 0;       // >= tail; the producer's own
        std::size_t head_cached = 0;
    };
    struct alignas(line) consumer_side {
        std::atomic<std::size_t> head{0};
        std::size_t tail_cached = 0;
    };

    const std::size_t _mask;
    std::unique_ptr<T[]> _slots;
    producer_side _producer;
    consumer_side _consumer;
};

}  // namespace ringkv::io

#pragma once
// A bounded, lock-free, single-producer single-consumer queue of trivially
// copyable items (ringkv sends pointers). One exists per ordered pair of
// cores. The producer and consumer each keep a private copy of the other
// side's index, so the shared cache lines are touched only when the cached
// view says full or empty.

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

    // Producer side. Returns false when full; nothing is written then.
    bool try_push(T item) {
        const std::size_t tail = _producer.tail.load(std::memory_order_relaxed);
        if (tail - _producer.head_cached > _mask) {
            _producer.head_cached = _consumer.head.load(std::memory_order_acquire);
            if (tail - _producer.head_cached > _mask) return false;
        }
        _slots[tail & _mask] = item;
        _producer.tail.store(tail + 1, std::memory_order_release);
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

    // Either side: a snapshot, exact only when the other side is idle.
    bool empty() const {
        return _consumer.head.load(std::memory_order_acquire) ==
               _producer.tail.load(std::memory_order_acquire);
    }

private:
    static constexpr std::size_t line = 64;  // x86-64 and most arm64 cache lines
    struct alignas(line) producer_side {
        std::atomic<std::size_t> tail{0};
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

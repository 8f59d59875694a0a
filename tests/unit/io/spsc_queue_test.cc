#include <ringkv/io/spsc_queue.hh>

#include <gtest/gtest.h>

#include <cstdint>
#include <thread>

namespace ringkv::io {
namespace {

TEST(spsc_queue, holds_exactly_its_capacity_in_fifo_order) {
    spsc_queue<int> q(4);
    for (int i = 0; i < 4; ++i) EXPECT_TRUE(q.try_push(i));
    EXPECT_FALSE(q.try_push(99));
    int v = -1;
    for (int i = 0; i < 4; ++i) {
        ASSERT_TRUE(q.try_pop(v));
        EXPECT_EQ(v, i);
    }
    EXPECT_FALSE(q.try_pop(v));
    EXPECT_TRUE(q.empty());
    // Wrap around many times.
    for (int i = 0; i < 1000; ++i) {
        ASSERT_TRUE(q.try_push(i));
        ASSERT_TRUE(q.try_pop(v));
        ASSERT_EQ(v, i);
    }
}

TEST(spsc_queue, two_threads_lose_nothing_and_keep_order) {
    constexpr std::uint64_t count = 2'000'000;
    spsc_queue<std::uint64_t> q(64);  // small, so both sides hit full and empty often
    std::thread producer([&] {
        for (std::uint64_t i = 0; i < count; ++i) {
            while (!q.try_push(i)) std::this_thread::yield();
        }
    });
    std::uint64_t expected = 0;
    std::uint64_t value = 0;
    while (expected < count) {
        if (q.try_pop(value)) {
            ASSERT_EQ(value, expected);
            ++expected;
        }
    }
    producer.join();
    EXPECT_TRUE(q.empty());
}

}  // namespace
}  // namespace ringkv::io

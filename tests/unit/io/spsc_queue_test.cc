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

TEST(spsc_queue, staged_items_are_invisible_until_published_and_count_against_the_bound) {
    spsc_queue<int> q(4);
    int v = -1;
    EXPECT_TRUE(q.try_push(0));
    for (int i = 1; i < 4; ++i) EXPECT_TRUE(q.try_stage(i));
    EXPECT_TRUE(q.has_staged());
    // Full: one published and three staged.
    EXPECT_FALSE(q.try_stage(99));
    EXPECT_FALSE(q.try_push(99));
    ASSERT_TRUE(q.try_pop(v));
    EXPECT_EQ(v, 0);
    EXPECT_FALSE(q.try_pop(v));  // the staged three are not visible
    EXPECT_TRUE(q.empty());
    EXPECT_TRUE(q.try_stage(4));  // the popped slot is free again
    EXPECT_FALSE(q.try_stage(99));
    q.publish();
    EXPECT_FALSE(q.has_staged());
    for (int i = 1; i <= 4; ++i) {
        ASSERT_TRUE(q.try_pop(v));
        EXPECT_EQ(v, i);
    }
    EXPECT_FALSE(q.try_pop(v));
    q.publish();  // nothing staged: no effect
    EXPECT_FALSE(q.try_pop(v));
}

TEST(spsc_queue, batches_across_threads_lose_nothing_and_keep_order) {
    constexpr std::uint64_t count = 1'000'000;
    spsc_queue<std::uint64_t> q(64);
    std::thread producer([&] {
        std::uint64_t i = 0;
        while (i < count) {
            // Batches of up to 40, cut short at the bound: publish and retry.
            for (unsigned n = 0; n < 40 && i < count; ++n) {
                if (!q.try_stage(i)) break;
                ++i;
            }
            q.publish();
            std::this_thread::yield();
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

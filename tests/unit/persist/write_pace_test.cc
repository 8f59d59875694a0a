// The snapshot writer's pace (include/ringkv/persist/write_pace.hh): none
// when unpaced; a second's worth ahead of the pace is written at once,
// then each write waits for its bytes; idle time never buys more than that.

#include <ringkv/persist/write_pace.hh>

#include <gtest/gtest.h>

namespace ringkv::persist {
namespace {

constexpr std::uint64_t ms = 1'000'000;  // ns
constexpr std::uint64_t s = 1000 * ms;

TEST(write_pace, unpaced_never_waits) {
    write_pace pace(0);
    EXPECT_FALSE(pace.paced());
    for (int n = 0; n < 100; ++n) EXPECT_EQ(pace.wait_ns(5 * s, 1u << 30), 0u);
}

TEST(write_pace, a_seconds_worth_ahead_goes_at_once_then_each_write_waits_for_its_bytes) {
    write_pace pace(1000);  // bytes per second
    EXPECT_TRUE(pace.paced());
    const std::uint64_t start = 50 * s;
    EXPECT_EQ(pace.wait_ns(start, 1000), 0u);       // paid up to start + 1 s
    EXPECT_EQ(pace.wait_ns(start, 500), 0u);        // 1 s ahead: still at once
    EXPECT_EQ(pace.wait_ns(start, 500), 500 * ms);  // 1.5 s ahead: waits 0.5 s
    // Written at start + 0.5 s, as told: paid up to start + 2 s.
    EXPECT_EQ(pace.wait_ns(start + 500 * ms, 250), 500 * ms);
    EXPECT_EQ(pace.wait_ns(start + 5 * s, 1), 0u);  // late: at once
}

TEST(write_pace, idle_time_buys_at_most_a_seconds_worth) {
    write_pace pace(1000);
    EXPECT_EQ(pace.wait_ns(s, 10), 0u);
    const std::uint64_t later = 3600 * s;
    EXPECT_EQ(pace.wait_ns(later, 3000), 0u);  // one write of any size goes at once
    EXPECT_EQ(pace.wait_ns(later, 1), 2 * s);  // 3 s paid for, 1 s may be ahead
}

TEST(write_pace, a_large_rate_and_a_large_write_do_not_overflow) {
    write_pace pace(std::uint64_t(1) << 40);  // 1 TB/s
    EXPECT_EQ(pace.wait_ns(s, std::uint64_t(1) << 33), 0u);
    EXPECT_EQ(pace.wait_ns(s, std::uint64_t(1) << 33), 0u);  // 16 GiB: under 1 s at 1 TiB/s
}

}  // namespace
}  // namespace ringkv::persist

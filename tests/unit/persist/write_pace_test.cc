// The snapshot writer's pace (include/ringkv/persist/write_pace.hh): none
// when unpaced; the first write after a pause goes at once and each one
// after it waits for the bytes before it; idle time buys nothing ahead.

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

TEST(write_pace, the_first_write_goes_at_once_and_each_after_it_waits_for_the_bytes_before_it) {
    write_pace pace(1000);  // bytes per second
    EXPECT_TRUE(pace.paced());
    const std::uint64_t start = 50 * s;
    EXPECT_EQ(pace.wait_ns(start, 500), 0u);        // due at start + 0.5 s
    EXPECT_EQ(pace.wait_ns(start, 250), 500 * ms);  // written at + 0.5 s: due at + 0.75 s
    // Told to wait 0.5 s, the writer came back at + 0.6 s: 0.15 s more.
    EXPECT_EQ(pace.wait_ns(start + 600 * ms, 1000), 150 * ms);
    EXPECT_EQ(pace.wait_ns(start + 1750 * ms, 10), 0u);  // exactly due: at once
    EXPECT_EQ(pace.wait_ns(start + 5 * s, 1), 0u);       // late: at once
}

TEST(write_pace, idle_time_buys_nothing_ahead) {
    write_pace pace(1000);
    EXPECT_EQ(pace.wait_ns(s, 10), 0u);
    const std::uint64_t later = 3600 * s;
    EXPECT_EQ(pace.wait_ns(later, 3000), 0u);  // the first after the pause: at once
    EXPECT_EQ(pace.wait_ns(later, 1), 3 * s);  // waits for all 3,000 bytes
}

TEST(write_pace, a_large_rate_and_a_large_write_do_not_overflow) {
    write_pace pace(std::uint64_t(1) << 40);  // 1 TB/s
    EXPECT_EQ(pace.wait_ns(s, std::uint64_t(1) << 33), 0u);
    EXPECT_EQ(pace.wait_ns(s, 1), (std::uint64_t(1) << 33) * 1'000'000'000 / (std::uint64_t(1) << 40));  // 8 GiB: 7.8 ms
}

}  // namespace
}  // namespace ringkv::persist

// The set of items born during a freeze (pointer_set.hh): against a model,
// with the erase's backward shift, growth, and the rounds that clear it.
#include <ringkv/store/pointer_set.hh>

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <set>
#include <vector>

namespace ringkv::store {
namespace {

// Pointer values as the allocator hands them out: 16-byte aligned, in a
// narrow range (so many share the top bits the hash spreads).
const void* address(std::uint64_t n) { return reinterpret_cast<const void*>(0x7f00'0000'0000ull + n * 16); }

TEST(pointer_set, agrees_with_a_model_through_inserts_erases_and_growth) {
    pointer_set set;
    std::set<std::uint64_t> model;
    std::mt19937_64 random(7);
    for (int step = 0; step < 200'000; ++step) {
        const std::uint64_t n = random() % 4096;  // a small range: erases meet present and absent values
        if (model.contains(n) || random() % 3 == 0) {
            ASSERT_EQ(set.erase(address(n)), model.erase(n) == 1) << step;
        } else {
            ASSERT_TRUE(set.insert(address(n)));
            model.insert(n);
        }
        ASSERT_EQ(set.size(), model.size());
        ASSERT_LE(set.size() * 4, set.capacity() * 3);  // the load limit
    }
    for (std::uint64_t n = 0; n < 4096; ++n) EXPECT_EQ(set.contains(address(n)), model.contains(n)) << n;
}

// A run of entries that all probed past their homes: erasing from the front
// of the run must move each later one back, or a lookup stops at the gap.
TEST(pointer_set, an_erase_in_a_long_probe_run_keeps_every_later_entry_findable) {
    pointer_set set;
    std::vector<std::uint64_t> values;
    for (std::uint64_t n = 0; values.size() < 150; ++n) values.push_back(n * 4096);  // strides the hash must spread
    for (std::uint64_t v : values) ASSERT_TRUE(set.insert(address(v)));
    for (std::size_t e = 0; e < values.size(); e += 2) {
        ASSERT_TRUE(set.erase(address(values[e])));
        for (std::size_t f = e + 1; f < values.size(); ++f) ASSERT_TRUE(set.contains(address(values[f]))) << e << " " << f;
    }
    EXPECT_EQ(set.size(), values.size() / 2);
}

// Insert one, erase the one before: the churn of one key overwritten again
// and again during a freeze. No tombstones, so the set never grows.
TEST(pointer_set, a_churn_of_one_entry_keeps_the_first_slots) {
    pointer_set set;
    ASSERT_TRUE(set.insert(address(0)));
    const std::size_t capacity = set.capacity();
    EXPECT_EQ(capacity, pointer_set::capacity_min);
    for (std::uint64_t n = 1; n < 100'000; ++n) {
        ASSERT_TRUE(set.insert(address(n)));
        ASSERT_TRUE(set.erase(address(n - 1)));
    }
    EXPECT_EQ(set.size(), 1u);
    EXPECT_EQ(set.capacity(), capacity);
    EXPECT_TRUE(set.contains(address(99'999)));
}

TEST(pointer_set, growth_is_announced_before_the_insert_that_needs_it) {
    pointer_set set;
    EXPECT_EQ(set.bytes(), 0u);
    EXPECT_EQ(set.growth_bytes_on_insert(), pointer_set::capacity_min * sizeof(std::uint64_t));
    for (std::uint64_t n = 0; n < 10'000; ++n) {
        const std::size_t announced = set.growth_bytes_on_insert();
        const std::size_t before = set.bytes();
        ASSERT_TRUE(set.insert(address(n)));
        ASSERT_EQ(set.bytes(), announced == 0 ? before : announced) << n;
    }
    for (std::uint64_t n = 0; n < 10'000; ++n) ASSERT_TRUE(set.contains(address(n)));
}

// clear() starts a new round: the old entries are gone, the slots kept.
// Round numbers are 16 bits; across their wrap an entry of an early round
// must not come back (a stale round 1 read as the current round 1).
TEST(pointer_set, clear_empties_it_in_every_round_across_the_wrap_of_round_numbers) {
    pointer_set set;
    for (std::uint64_t n = 0; n < 1000; ++n) ASSERT_TRUE(set.insert(address(n)));
    const std::size_t capacity = set.capacity();
    set.clear();
    EXPECT_EQ(set.size(), 0u);
    EXPECT_EQ(set.capacity(), capacity);
    for (std::uint64_t n = 0; n < 1000; ++n) ASSERT_FALSE(set.contains(address(n)));
    for (int round = 0; round < 70'000; ++round) {  // past 65,535 rounds
        ASSERT_FALSE(set.contains(address(1))) << round;
        ASSERT_FALSE(set.erase(address(500))) << round;
        ASSERT_TRUE(set.insert(address(round % 1000 + 1000)));  // a fresh slot written in each round
        set.clear();
    }
    for (std::uint64_t n = 0; n < 2000; ++n) EXPECT_FALSE(set.contains(address(n))) << n;
    ASSERT_TRUE(set.insert(address(7)));
    EXPECT_TRUE(set.contains(address(7)));
    EXPECT_EQ(set.size(), 1u);
}

// The rounds come back to the one an entry was written in: that entry
// must still read as gone. Asked with the set not empty, as find() answers
// at once for an empty set. (A clear() that did not zero the slots at the
// wrap would bring it back: a cut item taken for one born in the freeze.)
TEST(pointer_set, an_entry_of_round_one_stays_gone_when_the_rounds_come_back_to_one) {
    pointer_set set;
    ASSERT_TRUE(set.insert(address(1)));  // round 1
    for (int round = 1; round <= 65'535; ++round) set.clear();
    ASSERT_TRUE(set.insert(address(999)));
    EXPECT_FALSE(set.contains(address(1)));
    EXPECT_FALSE(set.erase(address(1)));
}

}  // namespace
}  // namespace ringkv::store

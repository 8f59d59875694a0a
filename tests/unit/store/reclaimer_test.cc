// The reclaimer's bound on one iteration's frees: a backlog drains a step
// per iteration, and a steady retire rate above the step builds none.
#include <ringkv/base/quiescent_state.hh>
#include <ringkv/store/reclaimer.hh>

#include <gtest/gtest.h>

#include <cstddef>

namespace ringkv::store {
namespace {

std::size_t freed = 0;
void count_free(void*) { ++freed; }

// Retires `count` entries of one byte each (nothing real to free: the
// free function counts).
void retire_some(reclaimer& r, std::size_t count) {
    static int anything;
    for (std::size_t n = 0; n < count; ++n) r.retire(&anything, &count_free, 1);
}

// What a core stalled online held back (more than batches_max iterations'
// worth, so batches were joined) is freed a step at a time once it goes:
// each iteration frees what it retired plus free_step_entries, no more.
TEST(reclaimer, a_backlog_behind_a_stalled_core_drains_a_step_per_iteration) {
    base::quiescent_states states(2);
    reclaimer r(&states, 0);
    states.pass(1);  // online, then stalled
    constexpr std::size_t per_iteration = 10;
    constexpr std::size_t stalled_iterations = 500;
    freed = 0;
    for (std::uint64_t n = 0; n < stalled_iterations; ++n) {
        retire_some(r, per_iteration);
        r.end_iteration(n);
    }
    ASSERT_EQ(freed, 0u);
    std::size_t backlog = per_iteration * stalled_iterations;
    ASSERT_EQ(r.bytes_waiting(), backlog);
    ASSERT_GT(backlog, 4 * reclaimer::free_step_entries);

    states.go_offline(1);  // every batch's grace period is over
    std::size_t iterations = 0;
    while (r.bytes_waiting() > 0) {
        ASSERT_LT(iterations, 100u) << "the backlog never drained";
        const std::size_t waiting = r.bytes_waiting();
        freed = 0;
        retire_some(r, per_iteration);
        r.end_iteration(stalled_iterations + iterations);
        const std::size_t step = per_iteration + reclaimer::free_step_entries;
        ASSERT_EQ(freed, std::min(step, waiting + per_iteration)) << "iteration " << iterations;
        ++iterations;
    }
    EXPECT_EQ(iterations, (backlog + reclaimer::free_step_entries - 1) / reclaimer::free_step_entries);
    EXPECT_EQ(r.retired(0).entries, 0u);
}

// Iterations that each retire several steps' worth, with the other core
// passing a quiescent state between them: each frees the one before it
// whole, so nothing accumulates.
TEST(reclaimer, a_retire_rate_above_the_step_builds_no_backlog) {
    base::quiescent_states states(2);
    reclaimer r(&states, 0);
    constexpr std::size_t per_iteration = 3 * reclaimer::free_step_entries;
    freed = 0;
    for (std::uint64_t n = 0; n < 50; ++n) {
        states.pass(1);
        retire_some(r, per_iteration);
        r.end_iteration(n);
        // This iteration's batch waits for the next pass; nothing older does.
        ASSERT_EQ(r.retired(n).entries, per_iteration) << "iteration " << n;
    }
    EXPECT_EQ(freed, 49 * per_iteration);
    states.go_offline(1);
}

// Without concurrent readers nothing waits, whatever the count.
TEST(reclaimer, with_no_other_core_a_retire_frees_at_once) {
    reclaimer r(nullptr, 0);
    freed = 0;
    retire_some(r, 3 * reclaimer::free_step_entries);
    EXPECT_EQ(freed, 3 * reclaimer::free_step_entries);
    EXPECT_EQ(r.bytes_waiting(), 0u);
}

}  // namespace
}  // namespace ringkv::store

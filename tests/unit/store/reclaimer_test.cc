// The reclaimer (store/reclaimer.hh): no entry freed before its grace
// period or twice, exact accounting, under random schedules of the other
// cores; and its bound on one iteration's frees: a backlog drains a step
// per iteration, a steady retire rate above the step builds none, an owner
// short of room frees everything elapsed at once.
#include <ringkv/base/quiescent_state.hh>
#include <ringkv/store/reclaimer.hh>
#include <ringkv/store/shard.hh>
#include <ringkv/store/sharding.hh>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <random>
#include <string>
#include <vector>

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
    EXPECT_FALSE(r.elapsed_waiting());
}

// elapsed_waiting() says whether an iteration would free something now:
// not while what waits is still in its grace period, including when a step
// ends exactly at a batch's end and the next batch's period runs on.
TEST(reclaimer, elapsed_waiting_is_true_only_while_entries_past_their_grace_period_wait) {
    base::quiescent_states states(2);
    reclaimer r(&states, 0);
    states.pass(1);
    retire_some(r, 3 * reclaimer::free_step_entries);
    r.end_iteration(0);
    EXPECT_FALSE(r.elapsed_waiting());  // the other core has not passed
    states.pass(1);
    EXPECT_TRUE(r.elapsed_waiting());
    r.end_iteration(1);
    EXPECT_TRUE(r.elapsed_waiting());
    EXPECT_EQ(r.bytes_waiting(), 2 * reclaimer::free_step_entries);
    r.end_iteration(2, SIZE_MAX);  // all of it, whatever the step
    EXPECT_FALSE(r.elapsed_waiting());
    EXPECT_EQ(r.bytes_waiting(), 0u);

    retire_some(r, reclaimer::free_step_entries);  // a batch the next step frees whole
    r.end_iteration(3);
    states.pass(1);
    retire_some(r, 5);  // closed after that pass: its period runs on
    r.end_iteration(4, reclaimer::free_step_entries - 5);
    EXPECT_EQ(r.bytes_waiting(), 5u);
    EXPECT_FALSE(r.elapsed_waiting());
    states.go_offline(1);
    EXPECT_TRUE(r.elapsed_waiting());
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

// The grace period, checked entry by entry: a model of the other cores
// (online or not, and how many quiescent states each has passed) is noted
// in each entry as it is retired, and its free checks that every core
// online then has passed a quiescent state or gone offline since, and that
// it is not freed twice. Random schedules: iterations retiring nothing, a
// few, or several steps' worth; cores passing, going offline, stalling for
// up to 200 iterations; the batches all taken (joins); sometimes an owner
// short of room. After every iteration the counts match the model; at the
// end the destructor frees a partly freed front batch and the rest.
struct grace_model {
    static constexpr unsigned others = 2;  // participants 1 and 2; the owner is 0
    base::quiescent_states states{others + 1};
    std::uint64_t passes[others + 1] = {};
    bool online[others + 1] = {};
    std::size_t unfreed = 0;
    std::size_t unfreed_bytes = 0;
    std::size_t too_early = 0;
    std::size_t twice = 0;

    struct entry {
        grace_model* model;
        std::uint64_t passes[others + 1];
        bool online[others + 1];
        std::size_t bytes;
        std::uint64_t retired_at_ms;
        bool freed = false;
    };
    std::vector<std::unique_ptr<entry>> entries;

    static void free_entry(void* memory) {
        entry& e = *static_cast<entry*>(memory);
        grace_model& m = *e.model;
        if (e.freed) {
            ++m.twice;
            return;
        }
        for (unsigned core = 1; core <= others; ++core) {
            if (e.online[core] && m.online[core] && m.passes[core] == e.passes[core]) ++m.too_early;
        }
        e.freed = true;
        --m.unfreed;
        m.unfreed_bytes -= e.bytes;
    }
    void retire(reclaimer& r, std::size_t bytes, std::uint64_t now_ms) {
        auto e = std::make_unique<entry>();
        e->model = this;
        std::copy(std::begin(passes), std::end(passes), e->passes);
        std::copy(std::begin(online), std::end(online), e->online);
        e->bytes = bytes;
        e->retired_at_ms = now_ms;
        r.retire(e.get(), &free_entry, bytes);
        ++unfreed;
        unfreed_bytes += bytes;
        entries.push_back(std::move(e));
    }
    void pass(unsigned core) {
        states.pass(core);
        ++passes[core];
        online[core] = true;
    }
    void go_offline(unsigned core) {
        states.go_offline(core);
        ++passes[core];
        online[core] = false;
    }
    std::uint64_t oldest_unfreed_ms(std::uint64_t now_ms) const {
        std::uint64_t oldest = now_ms;
        for (const auto& e : entries) {
            if (!e->freed) oldest = std::min(oldest, e->retired_at_ms);
        }
        return oldest;
    }
};

TEST(reclaimer, frees_nothing_before_its_grace_period_and_counts_exactly_under_random_schedules) {
    for (unsigned seed = 0; seed < 8; ++seed) {
        SCOPED_TRACE("seed " + std::to_string(seed));
        std::mt19937_64 random(seed);
        grace_model m;
        {
            reclaimer r(&m.states, 0);
            unsigned stalled_for[grace_model::others + 1] = {};
            std::uint64_t now_ms = 0;
            for (; now_ms < 1000; ++now_ms) {
                const unsigned kind = random() % 10;
                const std::size_t count = kind < 4 ? 0 : kind < 8 ? random() % 50 : kind < 9 ? random() % 3000 : random() % 9000;
                for (std::size_t n = 0; n < count; ++n) m.retire(r, 1 + random() % 100, now_ms);
                for (unsigned core = 1; core <= grace_model::others; ++core) {
                    if (stalled_for[core] > 0) {
                        --stalled_for[core];
                        continue;
                    }
                    const unsigned act = random() % 100;
                    if (act < 60) {
                        m.pass(core);
                    } else if (act < 70) {
                        m.go_offline(core);
                    } else if (act < 75) {
                        stalled_for[core] = unsigned(random() % 200);  // online or offline, as it was
                    }
                }
                r.end_iteration(now_ms, random() % 50 == 0 ? SIZE_MAX : reclaimer::free_step_entries);
                ASSERT_EQ(m.too_early, 0u);
                ASSERT_EQ(m.twice, 0u);
                const reclaimer::retired_stats waiting = r.retired(now_ms);
                ASSERT_EQ(r.bytes_waiting(), m.unfreed_bytes);
                ASSERT_EQ(waiting.bytes, m.unfreed_bytes);
                ASSERT_EQ(waiting.entries, m.unfreed);
                if (now_ms % 10 == 0) {  // a walk over every entry
                    std::erase_if(m.entries, [](const auto& e) { return e->freed; });
                    ASSERT_EQ(waiting.oldest_age_ms, now_ms - m.oldest_unfreed_ms(now_ms));
                }
            }
            // Every other core offline: what waits drains a step per iteration.
            for (unsigned core = 1; core <= grace_model::others; ++core) m.go_offline(core);
            const std::size_t backlog = m.unfreed;
            std::size_t iterations = 0;
            while (m.unfreed > 0) {
                ASSERT_LE(iterations, backlog / reclaimer::free_step_entries + 1);
                r.end_iteration(now_ms + iterations);
                ++iterations;
            }
            // The destructor with a partly freed front batch and more behind it.
            for (unsigned core = 1; core <= grace_model::others; ++core) m.pass(core);
            for (int n = 0; n < 5000; ++n) {
                m.retire(r, 1, now_ms);
                if (n % 300 == 0) r.end_iteration(now_ms);
            }
            for (unsigned core = 1; core <= grace_model::others; ++core) m.go_offline(core);  // shutdown
            r.end_iteration(now_ms);
            ASSERT_GT(m.unfreed, 0u);
        }
        EXPECT_EQ(m.unfreed, 0u);
        EXPECT_EQ(m.too_early, 0u);
        EXPECT_EQ(m.twice, 0u);
    }
}

// A shard whose writes are refused because what waits for another core
// fills its budget frees it in steps short_of_room_factor times larger once
// that core moves on; a write too large for the budget whatever is freed,
// or no refusal, leaves the usual step; reclaim_pending() keeps an idle
// loop going until nothing elapsed is left.
TEST(reclaimer, a_shard_refused_for_room_frees_in_larger_steps_only_when_that_makes_room) {
    enum class refusal { makes_room, hopeless, none };
    for (const refusal kind : {refusal::makes_room, refusal::hopeless, refusal::none}) {
        SCOPED_TRACE(int(kind));
        base::quiescent_states states(2);
        const std::size_t budget_bytes = 6u << 20;
        shard owner(0, budget_bytes, &states, 0);
        states.pass(1);  // online, then stalled
        const std::string value(100, 'v');
        std::uint64_t now = 0;
        const auto put = [&](const std::string& v) { return owner.put(key_hash(1, "k"), 1, "k", v, "text/plain", 0, {now, 0}); };
        bool full = false;
        while (!full) {
            ASSERT_LT(now, 10'000u) << "the stalled core's backlog never filled the budget";
            for (int n = 0; n < 100 && !full; ++n) full = put(value) == shard::put_result::memory_full;
            owner.end_iteration(now++);  // the refusal's larger step frees nothing: nothing elapsed
        }
        if (kind == refusal::makes_room) {
            ASSERT_EQ(put(value), shard::put_result::memory_full);
        } else if (kind == refusal::hopeless) {
            ASSERT_EQ(put(std::string(budget_bytes, 'h')), shard::put_result::memory_full);
        }
        const std::size_t backlog = owner.retired(now).entries;
        const std::size_t large_step = shard::short_of_room_factor * reclaimer::free_step_entries;
        ASSERT_GT(backlog, 2 * large_step);
        states.go_offline(1);
        owner.end_iteration(now);
        const std::size_t step = kind == refusal::makes_room ? large_step : reclaimer::free_step_entries;
        EXPECT_EQ(owner.retired(now).entries, backlog - step);
        std::size_t iterations = 1;
        while (owner.reclaim_pending()) {
            owner.end_iteration(now);
            ASSERT_LT(++iterations, 1000u);
        }
        EXPECT_EQ(owner.retired(now).entries, 0u);
        EXPECT_EQ(iterations, 1 + (backlog - step + reclaimer::free_step_entries - 1) / reclaimer::free_step_entries);
        EXPECT_NE(put(value), shard::put_result::memory_full);
    }
}

}  // namespace
}  // namespace ringkv::store

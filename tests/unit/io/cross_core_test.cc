// Cross-core calls on real loops, one thread per core, under contention and
// with mailboxes so small that senders park (back-pressure, nothing dropped).
#include <ringkv/io/cluster.hh>
#include <ringkv/io/cross_core.hh>
#include <ringkv/io/loop.hh>
#include <ringkv/io/task.hh>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace ringkv::io {
namespace {

constexpr unsigned cores = 3;

struct shared_state {
    std::atomic<unsigned> callers_left{0};
    // When set, each core asks for the shutdown as soon as its own callers
    // are done (the others may still be busy): stop_all() must be safe to
    // call from every core.
    bool every_core_stops = false;
    std::array<std::atomic<unsigned>, cores> own_callers_left{};
    std::atomic<std::uint64_t> failures{0};
    // Written only by the core of the same index (checked on every call).
    std::array<std::uint64_t, cores> calls_served{};
    std::array<bool, cores> wrong_thread{};
    // Each loop's own counts, read after it exits.
    std::array<std::uint64_t, cores> iterations{};
    std::array<std::uint64_t, cores> wakes{};
    std::array<std::uint64_t, cores> messages{};
};

// One caller: `calls` sequential calls to other cores, each checking that
// the function ran on its target and the result came back to the caller.
task<> caller(shared_state& state, unsigned id, unsigned calls) {
    loop& home = loop::current();
    for (unsigned i = 0; i < calls; ++i) {
        const unsigned target = (home.core() + 1 + (id + i) % (cores - 1)) % cores;
        const std::uint64_t token = std::uint64_t(id) * 1'000'000 + i;
        const std::uint64_t answer = co_await submit_to(target, [&state, target, token] {
            const unsigned here = loop::current().core();
            if (here != target) state.wrong_thread[here] = true;
            ++state.calls_served[here];
            return token * 2 + here;
        });
        if (answer != token * 2 + target || loop::current().core() != home.core()) ++state.failures;
    }
    // Every core at once: each call writes its own slot, on its own thread,
    // and the caller resumes only when all have answered.
    std::array<unsigned, cores> seen{};
    co_await submit_to_all([&seen](unsigned core) { seen[core] = loop::current().core() + 1; });
    for (unsigned c = 0; c < cores; ++c) {
        if (seen[c] != c + 1) ++state.failures;
    }
    // The local fast path: no message, runs inline.
    const unsigned own = co_await submit_to(home.core(), [] { return loop::current().core(); });
    if (own != home.core()) ++state.failures;
    home.release();
    const bool last_here = state.own_callers_left[home.core()].fetch_sub(1) == 1;
    const bool last_anywhere = state.callers_left.fetch_sub(1) == 1;
    if (state.every_core_stops ? last_here : last_anywhere) home.stop_all();
}

void run_core(cluster& peers, shared_state& state, unsigned core, unsigned callers, unsigned calls) {
    loop_options options;
    options.core = core;
    loop l(peers, options);
    peers.wait_until_all_rings_ready();
    // Callers start inside the loop (spawn needs loop::current()).
    l.run([&] {
        for (unsigned id = 0; id < callers; ++id) {
            loop::current().hold();
            spawn(caller(state, id, calls));
        }
    });
    state.iterations[core] = l.iterations();
    state.wakes[core] = l.wakes_sent();
    state.messages[core] = l.messages_sent();
}

// Whether no sender can ever park: every caller of every core has at most
// one call and one reply in a pair's mailbox.
bool roomy(std::size_t mailbox_entries, unsigned callers) { return mailbox_entries >= 2u * cores * callers; }

void run_cluster(std::size_t mailbox_entries, unsigned callers, unsigned calls, bool every_core_stops = false) {
    cluster peers(cores, mailbox_entries);
    shared_state state;
    state.callers_left = cores * callers;
    state.every_core_stops = every_core_stops;
    for (auto& left : state.own_callers_left) left = callers;
    std::vector<std::thread> threads;
    for (unsigned core = 0; core < cores; ++core) {
        threads.emplace_back(run_core, std::ref(peers), std::ref(state), core, callers, calls);
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(state.failures.load(), 0u);
    std::uint64_t served = 0;
    for (unsigned core = 0; core < cores; ++core) {
        EXPECT_FALSE(state.wrong_thread[core]);
        served += state.calls_served[core];
    }
    EXPECT_EQ(served, std::uint64_t(cores) * callers * calls);
    // Doorbells are per target per iteration, never per message: one for
    // each peer an iteration sent to, one for a peer whose parked sender
    // it made room for, and the last wake-up at exit.
    const std::uint64_t per_iteration = roomy(mailbox_entries, callers) ? 1 : 2;
    for (unsigned core = 0; core < cores; ++core) {
        EXPECT_LE(state.wakes[core], (state.iterations[core] + 1) * per_iteration * (cores - 1)) << "core " << core;
        EXPECT_GE(state.messages[core], std::uint64_t(callers) * calls);  // its calls, and replies to others
    }
}

TEST(cross_core, many_callers_with_roomy_mailboxes) { run_cluster(4096, 64, 200); }

TEST(cross_core, tiny_mailboxes_park_senders_and_drop_nothing) { run_cluster(2, 256, 100); }

TEST(cross_core, every_core_may_ask_for_the_shutdown) {
    for (int round = 0; round < 20; ++round) run_cluster(4, 8, 20 + 10 * unsigned(round % 3), true);
}

}  // namespace
}  // namespace ringkv::io

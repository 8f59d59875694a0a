// A mailbox at its real bound (limits::mailbox_entries, the size the server
// runs with) while the receiving core is stalled inside a message: the
// sender fills the mailbox to exactly its capacity, parks the rest in order,
// sleeps, and resumes when the receiver drains; nothing is dropped, nothing
// runs twice or out of order, and the parked messages cost the loop no
// memory of its own (they wait on their intrusive link).
#include <ringkv/base/limits.hh>
#include <ringkv/io/cluster.hh>
#include <ringkv/io/loop.hh>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace ringkv::io {
namespace {

constexpr unsigned sender = 0;
constexpr unsigned receiver = 1;
constexpr std::size_t capacity = limits::mailbox_entries;
// The first wave, sent while the receiver is stalled, fills the mailbox and
// parks more than a mailbox's worth behind it.
constexpr std::size_t first_wave = 2 * capacity + 100;
// Then each reply sends one more, while parked messages still wait: a new
// message must queue behind them, not take the room they wait for.
constexpr std::size_t messages = first_wave + capacity;

struct flood_state {
    // The test thread holds the receiver until it has seen the sender park.
    std::atomic<bool> stalled{false};
    std::atomic<bool> released{false};
    std::atomic<bool> done{false};
    // Written by the sender's thread only.
    std::size_t staged_before_first_park = 0;
    std::size_t sent = 0;
    std::vector<std::uint32_t> replies;
    // Written by the receiver's thread only.
    std::vector<std::uint32_t> ran;
    bool wrong_thread = false;
};

// Runs on the receiver and holds its loop (no drain, no completion) until
// the test thread lets go: an owner core far slower than its senders.
struct stall_message final : message {
    flood_state* state = nullptr;
    void run() override {
        state->stalled.store(true, std::memory_order_release);
        while (!state->released.load(std::memory_order_acquire)) std::this_thread::yield();
    }
};

struct flood_message final : message {
    flood_state* state = nullptr;
    std::vector<flood_message>* pool = nullptr;
    std::uint32_t sequence = 0;
    bool answered = false;

    void run() override;
};

void send_next(flood_state& state, std::vector<flood_message>& pool) {
    flood_message& m = pool[state.sent++];
    loop::current().send(receiver, m);
}

void flood_message::run() {
    loop& here = loop::current();
    if (!answered) {  // on the receiver: record the order, answer
        if (here.core() != receiver) state->wrong_thread = true;
        state->ran.push_back(sequence);
        answered = true;
        here.send(sender, *this);
        return;
    }
    // Back on the sender.
    if (here.core() != sender) state->wrong_thread = true;
    state->replies.push_back(sequence);
    if (state->sent < messages) send_next(*state, *pool);
    if (state->replies.size() == messages) {
        state->done.store(true, std::memory_order_release);
        here.stop_all();
    }
}

void run_sender(cluster& peers, flood_state& state, std::vector<flood_message>& pool, stall_message& stall) {
    loop l(peers, loop_options{.core = sender});
    peers.wait_until_all_rings_ready();
    l.run([&] {
        // All of this is staged within one iteration, before the receiver
        // can take anything: the stall message and the first wave.
        l.send(receiver, stall);
        while (state.sent < first_wave) {
            send_next(state, pool);
            const bool parked = peers.sender_parked(sender, receiver).load(std::memory_order_relaxed);
            if (parked && state.staged_before_first_park == 0) state.staged_before_first_park = state.sent;
        }
    });
}

void run_receiver(cluster& peers) {
    loop l(peers, loop_options{.core = receiver});
    peers.wait_until_all_rings_ready();
    l.run();
}

// Polls `condition` for up to `seconds`.
template <typename Condition>
bool eventually(Condition condition, int seconds) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (!condition()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

TEST(mailbox_bound, a_stalled_owner_parks_its_sender_at_the_bound_and_nothing_is_lost) {
    cluster peers(2);  // the server's mailbox size
    flood_state state;
    state.replies.reserve(messages);
    state.ran.reserve(messages);
    std::vector<flood_message> pool(messages);
    for (std::size_t i = 0; i < messages; ++i) {
        pool[i].state = &state;
        pool[i].pool = &pool;
        pool[i].sequence = std::uint32_t(i);
    }
    stall_message stall;
    stall.state = &state;

    std::thread receiver_thread(run_receiver, std::ref(peers));
    std::thread sender_thread(run_sender, std::ref(peers), std::ref(state), std::ref(pool), std::ref(stall));

    // The receiver is stalled and the sender has parked the overflow and
    // gone to sleep (a parked sender waits; it does not spin).
    const bool parked_and_asleep = eventually(
        [&] {
            return state.stalled.load(std::memory_order_acquire) &&
                   peers.sender_parked(sender, receiver).load(std::memory_order_seq_cst) &&
                   peers.sleeping(sender).load(std::memory_order_seq_cst);
        },
        10);
    EXPECT_TRUE(parked_and_asleep) << "the sender never parked, or never slept while parked";
    // Held a while longer: a parked sender keeps waiting (ticks wake it,
    // and it finds no room), it neither drops nor overwrites.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_TRUE(peers.sender_parked(sender, receiver).load(std::memory_order_seq_cst));
    state.released.store(true, std::memory_order_release);

    if (!eventually([&] { return state.done.load(std::memory_order_acquire); }, 30)) {
        // A lost message leaves both loops waiting for ever: say so and stop
        // here rather than hang until the test runner's timeout.
        std::fprintf(stderr, "mailbox_bound: the flood never completed: a message was lost\n");
        std::abort();
    }
    sender_thread.join();
    receiver_thread.join();

    // The mailbox held exactly its bound (the stall message and the first
    // capacity - 1 of the wave, all staged in one iteration) before the
    // next message parked.
    EXPECT_EQ(state.staged_before_first_park, capacity);
    EXPECT_FALSE(peers.sender_parked(sender, receiver).load());
    EXPECT_FALSE(state.wrong_thread);
    // Every message ran once on the receiver and came back once, both in
    // the order sent.
    ASSERT_EQ(state.ran.size(), messages);
    ASSERT_EQ(state.replies.size(), messages);
    for (std::size_t i = 0; i < messages; ++i) {
        ASSERT_EQ(state.ran[i], i) << "ran out of order";
        ASSERT_EQ(state.replies[i], i) << "answered out of order";
    }
    EXPECT_TRUE(peers.mailbox(sender, receiver).empty());
    EXPECT_TRUE(peers.mailbox(receiver, sender).empty());
}

}  // namespace
}  // namespace ringkv::io

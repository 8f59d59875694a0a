// The fence handshake of base/quiescent_state.hh, checked exhaustively on a
// model of x86-TSO (each thread's stores wait in a FIFO store buffer and
// drain at any moment; a load reads its own buffer first; a fence waits
// for the buffer to drain). ThreadSanitizer checks the acquire/release half
// of the protocol but does not model fences, so this half is checked here.
//
// The race: a reader coming online stores its counter, then loads a slot;
// the reclaimer stores a tombstone in that slot, then reads the counter.
// If the reclaimer reads "offline" and the reader loads the old item, the
// item is freed while in use. With a full fence on both sides (pass() and
// take()) that outcome must be unreachable; without either, reachable.
#include <ringkv/base/quiescent_state.hh>

#include <gtest/gtest.h>

#include <array>
#include <deque>
#include <utility>

namespace ringkv::base {
namespace {

enum variable { counter, slot, variables };
constexpr int item_value = 7, tombstone_value = 1, online_value = 1;

enum class op { store, fence, load, nothing, end };
struct instruction {
    op kind;
    variable var;
    int value;  // stored value (stores)
};

struct thread_state {
    int pc = 0;
    std::deque<std::pair<variable, int>> buffer;
    int loaded = -1;
};

struct machine {
    std::array<int, variables> memory{0, item_value};  // offline, the item published
    std::array<thread_state, 2> threads;
};

using program = std::array<instruction, 4>;

// Explores every interleaving of program steps and buffer drains; true when
// some final state has the reader holding the item while the reclaimer saw
// it offline.
bool unsafe_outcome_reachable(const machine& m, const std::array<program, 2>& programs) {
    bool done = true;
    for (int t = 0; t < 2; ++t) {
        const thread_state& th = m.threads[t];
        if (!th.buffer.empty()) {  // a drain of the oldest buffered store
            done = false;
            machine next = m;
            const auto [var, value] = next.threads[t].buffer.front();
            next.threads[t].buffer.pop_front();
            next.memory[var] = value;
            if (unsafe_outcome_reachable(next, programs)) return true;
        }
        const instruction& i = programs[t][th.pc];
        if (i.kind == op::end) continue;
        done = false;
        if (i.kind == op::fence && !th.buffer.empty()) continue;  // waits for the drain
        machine next = m;
        thread_state& nt = next.threads[t];
        if (i.kind == op::store) nt.buffer.emplace_back(i.var, i.value);
        if (i.kind == op::load) {
            nt.loaded = next.memory[i.var];
            for (const auto& [var, value] : nt.buffer) {
                if (var == i.var) nt.loaded = value;  // store forwarding: the newest own store
            }
        }
        ++nt.pc;
        if (unsafe_outcome_reachable(next, programs)) return true;
    }
    if (!done) return false;
    const int reader_saw = m.threads[0].loaded, reclaimer_saw = m.threads[1].loaded;
    return reader_saw == item_value && reclaimer_saw == 0;
}

std::array<program, 2> handshake(bool reader_fence, bool reclaimer_fence) {
    const instruction skip{op::nothing, counter, 0};
    const program reader{instruction{op::store, counter, online_value},
                         reader_fence ? instruction{op::fence, counter, 0} : skip,
                         instruction{op::load, slot, 0}, instruction{op::end, counter, 0}};
    const program reclaimer{instruction{op::store, slot, tombstone_value},
                            reclaimer_fence ? instruction{op::fence, counter, 0} : skip,
                            instruction{op::load, counter, 0}, instruction{op::end, counter, 0}};
    return {reader, reclaimer};
}

TEST(quiescent_state_model, with_both_fences_no_reader_keeps_an_item_the_reclaimer_frees) {
    EXPECT_FALSE(unsafe_outcome_reachable(machine{}, handshake(true, true)));
}

TEST(quiescent_state_model, without_either_fence_the_model_finds_the_use_after_free) {
    // The model is not vacuous: drop one fence and the bad outcome appears.
    EXPECT_TRUE(unsafe_outcome_reachable(machine{}, handshake(false, true)));
    EXPECT_TRUE(unsafe_outcome_reachable(machine{}, handshake(true, false)));
    EXPECT_TRUE(unsafe_outcome_reachable(machine{}, handshake(false, false)));
}

TEST(quiescent_states, a_snapshot_elapses_when_each_other_participant_moves_on_or_was_offline) {
    quiescent_states states(3);
    std::uint64_t snapshot[3];
    states.pass(1);  // online; 2 stays offline
    states.take(snapshot);
    EXPECT_FALSE(states.elapsed(snapshot, 0));
    EXPECT_TRUE(states.elapsed(snapshot, 1));  // its own counter never holds itself back
    states.pass(1);
    EXPECT_TRUE(states.elapsed(snapshot, 0));
    states.take(snapshot);
    states.go_offline(1);
    EXPECT_TRUE(states.elapsed(snapshot, 0));
    states.pass(2);  // coming online after the snapshot: it sees the unlinks already
    EXPECT_TRUE(states.elapsed(snapshot, 0));
}

}  // namespace
}  // namespace ringkv::base

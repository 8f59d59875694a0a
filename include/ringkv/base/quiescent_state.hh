#pragma once
// Quiescent-state-based reclamation (QSBR), the mechanism under the
// lock-free reads of store/concurrent_read.hh (the rules live there).
//
// Each participant (a core's loop) owns one counter, on its own cache line:
//   0      offline: it holds no pointer into another core's data;
//   n > 0  online, and it has passed n quiescent states so far.
// A participant passes a quiescent state once per loop iteration, at a point
// where it holds no such pointer; everything between going online and going
// offline again is one read section.
//
// A reclaimer that has unlinked something takes a snapshot of every other
// counter (after a full fence) and may free it once, for each other
// participant, the snapshot read 0 or the counter has changed since.
//
// Why both fences (liburcu's smp_mb() in rcu_thread_online and
// rcu_quiescent_state, for the same reason): the reader's counter store
// could otherwise wait in its store buffer while its next slot loads run,
// so the reclaimer reads the old count (or 0), frees, and the reader then
// uses what it loaded. With a seq_cst fence on both sides, either the
// reclaimer's snapshot sees the new count (and waits for the next one), or
// the reader's loads see the unlink. tests/unit/base/quiescent_state_test.cc
// checks this handshake exhaustively on a model of x86-TSO store buffers.

#include <ringkv/base/assert.hh>

#include <atomic>
#include <cstdint>
#include <memory>

namespace ringkv::base {

class quiescent_states {
public:
    static constexpr unsigned participants_max = 256;

    explicit quiescent_states(unsigned participants)
        : _participants(participants), _counters(std::make_unique<counter[]>(participants)) {
        RINGKV_ASSERT(participants >= 1 && participants <= participants_max);
    }
    quiescent_states(const quiescent_states&) = delete;
    quiescent_states& operator=(const quiescent_states&) = delete;

    unsigned participants() const { return _participants; }

    // Participant side (its own thread only).
    // Online, or a quiescent state when already online: a new count, then
    // the full fence before any later load of shared slots.
    void pass(unsigned who) {
        counter& c = _counters[who];
        c.passed = c.passed + 1;
        c.state.store(c.passed, std::memory_order_release);
        // Alone, nobody reclaims behind its back: the fence would be waste.
        if (_participants > 1) std::atomic_thread_fence(std::memory_order_seq_cst);
    }
    // Offline (it is about to sleep, or exits): the release orders every
    // earlier read before a reclaimer's acquire that sees it.
    void go_offline(unsigned who) { _counters[who].state.store(0, std::memory_order_release); }
    // The count as its owner sees it: changes exactly when it passes a
    // quiescent state or goes offline (the debug guard of concurrent_read.hh).
    std::uint64_t state(unsigned who) const { return _counters[who].state.load(std::memory_order_relaxed); }

    // Reclaimer side. One snapshot of every counter (states: participants()
    // entries), taken after the unlinks it covers: the fence orders them
    // before the loads.
    // Acquire: a 0 read here comes from a go_offline() whose section's
    // reads must happen before anything this snapshot lets us free.
    void take(std::uint64_t* states) const {
        std::atomic_thread_fence(std::memory_order_seq_cst);
        for (unsigned p = 0; p < _participants; ++p) states[p] = _counters[p].state.load(std::memory_order_acquire);
    }
    // Whether every participant but `self` has been offline or passed a
    // quiescent state since the snapshot: then nothing unlinked before it
    // can still be in use by them.
    bool elapsed(const std::uint64_t* states, unsigned self) const {
        for (unsigned p = 0; p < _participants; ++p) {
            if (p == self || states[p] == 0) continue;
            if (_counters[p].state.load(std::memory_order_acquire) == states[p]) return false;
        }
        return true;
    }

private:
    struct alignas(64) counter {
        std::atomic<std::uint64_t> state{0};
        std::uint64_t passed = 0;  // the participant's own running count
    };
    const unsigned _participants;
    std::unique_ptr<counter[]> _counters;
};

}  // namespace ringkv::base

#pragma once
// What the cores share, fixed at start-up: one mailbox per ordered pair of
// cores, each core's ring fd (for IORING_OP_MSG_RING doorbells), its
// "sleeping" flag, the shutdown count, and each core's quiescent-state
// counter (the reclamation under the hop-free reads of
// store/concurrent_read.hh). Nothing here is mutable state of the key
// space; the queues are the only channel for writes between cores.

#include <ringkv/base/limits.hh>
#include <ringkv/base/quiescent_state.hh>
#include <ringkv/io/completion.hh>
#include <ringkv/io/spsc_queue.hh>

#include <atomic>
#include <memory>
#include <vector>

namespace ringkv::io {

class cluster {
public:
    // mailbox_entries: capacity of each mailbox, a power of two (tests
    // shrink it to exercise back-pressure).
    explicit cluster(unsigned core_count, std::size_t mailbox_entries = limits::mailbox_entries);

    unsigned core_count() const { return _core_count; }
    spsc_queue<message*>& mailbox(unsigned from, unsigned to) {
        return *_mailboxes[from * _core_count + to];
    }
    // Set by `from` while messages to `to` are parked for lack of room, so
    // `to` rings `from` back after draining.
    std::atomic<bool>& sender_parked(unsigned from, unsigned to) {
        return _sender_parked[from * _core_count + to];
    }
    std::atomic<bool>& sleeping(unsigned core) { return _cores[core].sleeping; }
    std::atomic<int>& ring_fd(unsigned core) { return _cores[core].ring_fd; }
    std::atomic<unsigned>& drained_cores() { return _drained_cores; }
    // Each loop passes a quiescent state per iteration (loop::run).
    base::quiescent_states& quiescent() { return _quiescent; }
    const base::quiescent_states& quiescent() const { return _quiescent; }
    // True for the first caller only: a shutdown is broadcast once.
    bool claim_shutdown() { return !_shutdown_claimed.exchange(true, std::memory_order_acq_rel); }

    // Blocks until every core has published its ring fd.
    void wait_until_all_rings_ready();

private:
    struct alignas(64) core_state {
        std::atomic<bool> sleeping{false};
        std::atomic<int> ring_fd{-1};
    };
    const unsigned _core_count;
    std::vector<std::unique_ptr<spsc_queue<message*>>> _mailboxes;
    std::unique_ptr<std::atomic<bool>[]> _sender_parked;
    std::unique_ptr<core_state[]> _cores;
    base::quiescent_states _quiescent;
    std::atomic<unsigned> _drained_cores{0};
    std::atomic<bool> _shutdown_claimed{false};
};

}  // namespace ringkv::io

#pragma once
// The per-core event loop: one thread, one io_uring, one loop object.
//
// The loop reaches the kernel through a few verbs (sqe(), the awaitables of
// ops.hh) and reaches other cores only through bounded mailboxes (send()).
// Each iteration: run messages from other cores, publish what this core
// sent each of them as one batch and ring their doorbells, sleep
// in io_uring_enter until a completion arrives, then reap a batch of
// completions and run their callbacks (collect first, run after, so a
// callback that submits more work never races the completion ring).
// The loop is offline (holds no pointer into another core's shard) from
// just before it may sleep until it wakes, and passes a quiescent state
// then: one read section per iteration.

#include <ringkv/io/cluster.hh>
#include <ringkv/io/completion.hh>

#include <liburing.h>

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

namespace ringkv::io {

struct loop_options {
    unsigned core = 0;
    int cpu = -1;  // CPU to pin the thread to; -1 leaves it unpinned
    std::uint32_t drain_timeout_ms = 5000;
    bool handle_signals = false;  // core 0 turns SIGINT/SIGTERM into a shutdown
};

class loop {
public:
    loop(cluster& peers, const loop_options& options);
    ~loop();
    loop(const loop&) = delete;
    loop& operator=(const loop&) = delete;

    // The loop of the calling thread; only valid inside run().
    static loop& current();

    unsigned core() const { return _core; }
    unsigned core_count() const { return _peers.core_count(); }
    // The cores' quiescent states: this loop passes one per iteration, so a
    // pointer read from another core's shard is valid until then
    // (store/concurrent_read.hh).
    const base::quiescent_states& quiescent() const { return _peers.quiescent(); }
    bool single_issuer() const { return _single_issuer; }

    // A free submission entry; submits the queue first when it is full.
    io_uring_sqe* sqe();
    // Makes room for `count` entries that must reach the kernel in one
    // submission (a linked pair): submits the queue first if it lacks them.
    void reserve_sqes(unsigned count);

    // Runs message.run() on `target`; FIFO per (this core, target) pair.
    // What an iteration sends one target leaves as one batch at the end of
    // it (published together, at most one doorbell). A full mailbox
    // (limits::mailbox_entries, staged messages included) parks the
    // message here until the target drains it: back-pressure, never a drop.
    void send(unsigned target, message& m);
    // Messages this core has sent to others (a call and its reply are two,
    // one sent by each side), for the metrics.
    std::uint64_t messages_sent() const { return _messages_sent; }
    // Doorbells (IORING_OP_MSG_RING) this core has rung: at most one per
    // target per iteration, and only to a target that was going to sleep.
    std::uint64_t wakes_sent() const { return _wakes_sent; }
    // Loop iterations run so far (for tests: doorbells per iteration).
    std::uint64_t iterations() const { return _iterations; }

    // ringkv's clock in milliseconds, read once per loop iteration ("one
    // now"): the monotonic clock plus the virtual clock's offset, which
    // POST /_ringkv/clock moves forward. Key expiry, namespace delays and
    // the rules' expiry run on it.
    std::uint64_t now_ms() const { return _now_ms; }
    // The monotonic clock without the offset, for what a virtual advance
    // must not fire: connection deadlines, the drain timeout.
    std::uint64_t real_now_ms() const { return _now_ms - _clock_offset_ms; }
    // The "Date: ...\r\n" header line (real time), refreshed when the
    // second changes.
    std::string_view date_header() const { return {_date_header, _date_header_bytes}; }
    // Seconds since 1970 on ringkv's clock (created_at, updated_at): the
    // wall clock plus the virtual offset.
    std::uint32_t wall_s() const { return std::uint32_t(_date_second + std::int64_t(_clock_offset_ms / 1000)); }
    std::uint64_t clock_offset_ms() const { return _clock_offset_ms; }
    // Moves this core's clock forward; it never goes back. Every core must
    // be moved alike (control::on_every_core), so they agree.
    void advance_clock(std::uint64_t ms) {
        _clock_offset_ms += ms;
        _now_ms += ms;
    }

    // Called on every tick (limits::tick_ms) and at shutdown. Register at
    // start-up only.
    void on_tick(std::function<void()> callback) { _tick_callbacks.push_back(std::move(callback)); }
    // on_stop(false) when shutdown begins, on_stop(true) when the drain
    // timeout passes and whatever is left must be cut.
    void on_stop(std::function<void(bool forced)> callback) {
        _stop_callbacks.push_back(std::move(callback));
    }
    bool stopping() const { return _stopping; }
    // Background work (expiry, purging), run only when the loop has nothing
    // else to do (no completion and no message waiting), and for at most
    // limits::background_ns_per_tick per tick. It returns true
    // while it has more (the loop then keeps calling it instead of
    // sleeping); after it returns false it is called again from the next
    // tick on. It must bound its own work per call. Register at start-up only.
    void on_idle(std::function<bool()> callback) { _idle_callbacks.push_back(std::move(callback)); }
    // Called once per loop iteration, after completions are handled; its
    // work must be small and bounded (the shard's reclaim step: a timer
    // check in the usual iteration). Register at start-up only.
    void on_iteration(std::function<void()> callback) { _iteration_callbacks.push_back(std::move(callback)); }

    // Work that must finish before the loop may exit (a connection).
    void hold() { ++_holds; }
    void release() { --_holds; }

    // Cross-core calls this core has sent and awaits the answer of.
    void call_sent() { ++_calls_awaiting_reply; }
    void reply_received() { --_calls_awaiting_reply; }

    // Runs until every core has drained after a shutdown. `start` runs
    // first, inside the loop (loop::current() works, so it may spawn work
    // and hold() for it) and before any message from another core, so a
    // shutdown asked for by a faster core cannot find this loop idle first.
    void run(const std::function<void()>& start = {});
    // Starts a shutdown on every core. Callable on any loop thread, any
    // number of times: only the first call in the process sends the stop
    // messages. (They belong to the sending loop, which exits only after
    // every core has handled them; a second sender could exit first.)
    void stop_all();

private:
    class tick_timer;
    class signal_reader;
    class stop_message;

    void setup_ring();
    void probe_operations();
    void arm_tick();
    void tick();
    void refresh_date();
    void begin_stop();
    void drain_mailboxes();
    bool retry_parked();  // true when it moved a parked message into a mailbox
    bool mailboxes_empty() const;
    void publish_mailboxes();  // makes this iteration's batches visible
    void ring_doorbells();
    void wake(unsigned target);
    bool reap();
    bool spin_for_replies();
    bool run_background();
    void check_drained();

    cluster& _peers;
    const unsigned _core;
    const std::uint32_t _drain_timeout_ms;
    io_uring _ring{};
    bool _single_issuer = false;

    std::uint64_t _now_ms = 0;          // monotonic + _clock_offset_ms
    std::uint64_t _clock_offset_ms = 0;  // the virtual clock's lead
    std::int64_t _date_second = -1;
    char _date_header[64]{};
    std::size_t _date_header_bytes = 0;

    std::vector<std::function<void()>> _tick_callbacks;
    std::vector<std::function<void(bool)>> _stop_callbacks;
    std::vector<std::function<bool()>> _idle_callbacks;
    std::vector<std::function<void()>> _iteration_callbacks;

    // Messages waiting for room in a full mailbox, per target, FIFO.
    struct parked_list {
        message* head = nullptr;
        message* tail = nullptr;
    };
    std::vector<parked_list> _parked;
    std::vector<bool> _doorbell_pending;  // targets sent to since the last sleep

    std::uint64_t _messages_sent = 0;
    std::uint64_t _wakes_sent = 0;
    std::uint64_t _iterations = 0;
    std::uint64_t _holds = 0;
    std::uint64_t _calls_awaiting_reply = 0;
    bool _background_pending = false;
    std::uint64_t _background_allowance_ns = 0;  // left of this tick's share
    bool _stopping = false;
    bool _forced = false;
    bool _counted_drained = false;
    bool _exit = false;
    std::uint64_t _stop_deadline_ms = 0;

    tick_timer* _tick = nullptr;
    signal_reader* _signals = nullptr;
    std::vector<stop_message*> _stop_messages;
};

}  // namespace ringkv::io

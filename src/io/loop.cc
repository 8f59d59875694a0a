#include <ringkv/io/loop.hh>

#include <ringkv/base/assert.hh>
#include <ringkv/base/clock.hh>
#include <ringkv/base/limits.hh>
#include <ringkv/io/ops.hh>

#include <pthread.h>
#include <sched.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <string>

namespace ringkv::io {
namespace {

thread_local loop* current_loop = nullptr;

// user_data of completions that need no callback: doorbells from other
// cores, and fire-and-forget operations whose success is not interesting.
constexpr std::uint64_t no_callback = 0;

}  // namespace

// Re-armed every tick; drives deadlines, the Date header and shutdown.
class loop::tick_timer final : public completion {
public:
    explicit tick_timer(loop& owner) : _owner(owner) {
        _interval.tv_sec = 0;
        _interval.tv_nsec = long(limits::tick_ms) * 1'000'000;
    }
    void arm() {
        io_uring_sqe* e = _owner.sqe();
        io_uring_prep_timeout(e, &_interval, 0, 0);
        io_uring_sqe_set_data(e, static_cast<completion*>(this));
    }
    void complete(std::int32_t, std::uint32_t) override {
        _owner.tick();
        if (!_owner._exit) arm();
    }

private:
    loop& _owner;
    __kernel_timespec _interval{};
};

// Reads SIGINT/SIGTERM from a signalfd on core 0 and starts the shutdown.
class loop::signal_reader final : public completion {
public:
    explicit signal_reader(loop& owner) : _owner(owner) {
        sigset_t signals;
        sigemptyset(&signals);
        sigaddset(&signals, SIGINT);
        sigaddset(&signals, SIGTERM);
        _fd = signalfd(-1, &signals, SFD_CLOEXEC);
        if (_fd < 0) throw std::runtime_error(std::string("signalfd: ") + std::strerror(errno));
    }
    ~signal_reader() { ::close(_fd); }
    void arm() {
        io_uring_sqe* e = _owner.sqe();
        io_uring_prep_read(e, _fd, &_info, sizeof(_info), 0);
        io_uring_sqe_set_data(e, static_cast<completion*>(this));
    }
    void complete(std::int32_t result, std::uint32_t) override {
        if (result == -ECANCELED || _owner._exit) return;
        if (result == sizeof(_info)) _owner.stop_all();
        if (!_owner._exit) arm();  // a second signal during the drain is ignored
    }

private:
    loop& _owner;
    int _fd = -1;
    signalfd_siginfo _info{};
};

class loop::stop_message final : public message {
public:
    void run() override { loop::current().begin_stop(); }
};

loop::loop(cluster& peers, const loop_options& options)
    : _peers(peers),
      _core(options.core),
      _drain_timeout_ms(options.drain_timeout_ms),
      _parked(peers.core_count()),
      _doorbell_pending(peers.core_count(), false) {
    if (options.cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(options.cpu, &set);
        pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    }
    setup_ring();
    probe_operations();
    _now_ms = base::monotonic_ms() + _clock_offset_ms;
    refresh_date();
    _tick = new tick_timer(*this);
    if (options.handle_signals) _signals = new signal_reader(*this);
    for (unsigned i = 0; i < peers.core_count(); ++i) _stop_messages.push_back(new stop_message());
    _peers.ring_fd(_core).store(_ring.ring_fd, std::memory_order_release);
}

loop::~loop() {
    io_uring_queue_exit(&_ring);
    delete _tick;
    delete _signals;
    for (stop_message* m : _stop_messages) delete m;
}

loop& loop::current() {
    RINGKV_DEBUG_ASSERT(current_loop != nullptr);
    return *current_loop;
}

void loop::setup_ring() {
    io_uring_params params{};
    // CQSIZE: completions may outnumber submissions (multishot accept, a
    // cancel racing its target), so the completion ring is twice as large.
    params.flags = IORING_SETUP_CQSIZE;
    params.cq_entries = limits::ring_entries * 2;
    // SINGLE_ISSUER: only this thread submits, letting the kernel skip
    // locking. DEFER_TASKRUN: completion work runs when we enter the kernel
    // to wait, not by interrupting us mid-request. COOP_TASKRUN is implied.
    params.flags |= IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    int error = io_uring_queue_init_params(limits::ring_entries, &_ring, &params);
    if (error == -EINVAL) {
        // Kernels before 6.1 lack those two flags: fall back to a plain ring
        // (task work then runs on interrupts, correct but a little slower).
        io_uring_params plain{};
        plain.flags = IORING_SETUP_CQSIZE;
        plain.cq_entries = limits::ring_entries * 2;
        error = io_uring_queue_init_params(limits::ring_entries, &_ring, &plain);
    } else if (error == 0) {
        _single_issuer = true;
    }
    if (error < 0) {
        throw std::runtime_error(std::string("io_uring_queue_init: ") + std::strerror(-error) +
                                 (error == -EPERM || error == -ENOSYS
                                      ? " (io_uring is disabled: see /proc/sys/kernel/io_uring_disabled)"
                                      : ""));
    }
}

void loop::probe_operations() {
    struct required {
        int opcode;
        const char* name;
    };
    static constexpr required operations[] = {
        {IORING_OP_ACCEPT, "IORING_OP_ACCEPT"},       {IORING_OP_RECV, "IORING_OP_RECV"},
        {IORING_OP_SEND, "IORING_OP_SEND"},           {IORING_OP_SENDMSG, "IORING_OP_SENDMSG"},
        {IORING_OP_CLOSE, "IORING_OP_CLOSE"},         {IORING_OP_SHUTDOWN, "IORING_OP_SHUTDOWN"},
        {IORING_OP_TIMEOUT, "IORING_OP_TIMEOUT"},     {IORING_OP_ASYNC_CANCEL, "IORING_OP_ASYNC_CANCEL"},
        {IORING_OP_MSG_RING, "IORING_OP_MSG_RING"},   {IORING_OP_READ, "IORING_OP_READ"},
        {IORING_OP_POLL_ADD, "IORING_OP_POLL_ADD"},
    };
    io_uring_probe* probe = io_uring_get_probe_ring(&_ring);
    if (probe == nullptr) throw std::runtime_error("io_uring: the kernel cannot list its operations (need Linux 5.19 or newer)");
    std::string missing;
    for (const required& op : operations) {
        if (!io_uring_opcode_supported(probe, op.opcode)) missing += std::string(" ") + op.name;
    }
    io_uring_free_probe(probe);
    if (!missing.empty()) {
        throw std::runtime_error("io_uring: this kernel lacks" + missing + " (need Linux 5.19 or newer)");
    }
}

io_uring_sqe* loop::sqe() {
    io_uring_sqe* entry = io_uring_get_sqe(&_ring);
    if (entry == nullptr) [[unlikely]] {
        io_uring_submit(&_ring);
        entry = io_uring_get_sqe(&_ring);
        RINGKV_ASSERT(entry != nullptr);
    }
    return entry;
}

void loop::reserve_sqes(unsigned count) {
    if (io_uring_sq_space_left(&_ring) < count) io_uring_submit(&_ring);
}

void cancel(completion& target) {
    io_uring_sqe* entry = loop::current().sqe();
    io_uring_prep_cancel(entry, static_cast<void*>(&target), 0);
    io_uring_sqe_set_data64(entry, no_callback);
}

void loop::send(unsigned target, message& m) {
    RINGKV_DEBUG_ASSERT(target != _core && target < _peers.core_count());
    parked_list& parked = _parked[target];
    ++_messages_sent;
    _doorbell_pending[target] = true;
    // Staged, not yet visible: ring_doorbells() publishes each target's
    // batch once per iteration.
    if (parked.head == nullptr && _peers.mailbox(_core, target).try_stage(&m)) return;
    // Full (or others already wait): park, keeping the pair's FIFO order.
    m.next_parked = nullptr;
    if (parked.tail != nullptr) parked.tail->next_parked = &m; else parked.head = &m;
    parked.tail = &m;
    _peers.sender_parked(_core, target).store(true, std::memory_order_seq_cst);
}

bool loop::retry_parked() {
    bool pushed = false;
    for (unsigned target = 0; target < _parked.size(); ++target) {
        parked_list& parked = _parked[target];
        while (parked.head != nullptr) {
            // Read the link first: once pushed, the message belongs to the
            // target, which may reuse next_parked at once.
            message* const following = parked.head->next_parked;
            if (!_peers.mailbox(_core, target).try_stage(parked.head)) break;
            parked.head = following;
            _doorbell_pending[target] = true;
            pushed = true;
        }
        if (parked.head == nullptr && parked.tail != nullptr) {
            parked.tail = nullptr;
            _peers.sender_parked(_core, target).store(false, std::memory_order_relaxed);
        }
    }
    return pushed;
}

void loop::drain_mailboxes() {
    for (unsigned source = 0; source < _peers.core_count(); ++source) {
        if (source == _core) continue;
        spsc_queue<message*>& box = _peers.mailbox(source, _core);
        message* m = nullptr;
        std::size_t drained = 0;
        while (drained < limits::mailbox_drain_max && box.try_pop(m)) {
            m->run();
            ++drained;
        }
        if (drained > 0) {
            // The sender may be parked waiting for this room (Dekker pairing
            // with the seq_cst store in send()).
            std::atomic_thread_fence(std::memory_order_seq_cst);
            if (_peers.sender_parked(source, _core).load(std::memory_order_relaxed)) wake(source);
        }
    }
}

bool loop::mailboxes_empty() const {
    for (unsigned source = 0; source < _peers.core_count(); ++source) {
        if (source != _core && !_peers.mailbox(source, _core).empty()) return false;
    }
    return true;
}

void loop::wake(unsigned target) {
    ++_wakes_sent;
    io_uring_sqe* entry = sqe();
    io_uring_prep_msg_ring(entry, _peers.ring_fd(target).load(std::memory_order_relaxed), 0, no_callback, 0);
    io_uring_sqe_set_data64(entry, no_callback);
    entry->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

void loop::publish_mailboxes() {
    for (unsigned target = 0; target < _doorbell_pending.size(); ++target) {
        if (_doorbell_pending[target]) _peers.mailbox(_core, target).publish();
    }
}

void loop::ring_doorbells() {
    // Each target gets what this iteration sent it as one batch (one
    // release store), and at most one doorbell.
    publish_mailboxes();
    // A target that is awake will drain its mailboxes anyway; only a
    // sleeping one needs a doorbell (pairs with the store in run()).
    std::atomic_thread_fence(std::memory_order_seq_cst);
    for (unsigned target = 0; target < _doorbell_pending.size(); ++target) {
        if (!_doorbell_pending[target]) continue;
        _doorbell_pending[target] = false;
        if (_peers.sleeping(target).load(std::memory_order_relaxed)) wake(target);
    }
}

// While this core waits on answers from others, a reply usually comes back
// within microseconds; sleeping for it costs a context switch on each side
// (the doorbell, then the wake-up). So submit what we have and watch the
// mailboxes and the completion ring for a bounded moment first.
bool loop::spin_for_replies() {
    io_uring_submit(&_ring);
    for (unsigned spin = 0; spin < limits::reply_spin_iterations; ++spin) {
        if (!mailboxes_empty() || io_uring_cq_ready(&_ring) > 0) return true;
        __builtin_ia32_pause();
    }
    return false;
}

bool loop::reap() {
    struct reaped {
        std::uint64_t user_data;
        std::int32_t result;
        std::uint32_t flags;
    };
    reaped batch[limits::cqe_batch_max];
    unsigned count = 0;
    unsigned head = 0;
    io_uring_cqe* cqe = nullptr;
    io_uring_for_each_cqe(&_ring, head, cqe) {
        if (count == limits::cqe_batch_max) break;
        batch[count++] = {cqe->user_data, cqe->res, cqe->flags};
    }
    io_uring_cq_advance(&_ring, count);
    _now_ms = base::monotonic_ms() + _clock_offset_ms;
    for (unsigned i = 0; i < count; ++i) {
        if (batch[i].user_data == no_callback) continue;
        reinterpret_cast<completion*>(batch[i].user_data)->complete(batch[i].result, batch[i].flags);
    }
    return count == limits::cqe_batch_max;
}

void loop::run(const std::function<void()>& start) {
    current_loop = this;
    base::quiescent_states& quiescent = _peers.quiescent();
    quiescent.pass(_core);  // online: start() and the first iteration may read
    _tick->arm();
    if (_signals != nullptr) _signals->arm();
    if (start) start();
    while (!_exit) {
        ++_iterations;
        drain_mailboxes();
        retry_parked();
        if (_stopping) check_drained();
        if (_exit) break;
        ring_doorbells();

        // Announce the sleep, then look once more: a peer that pushed before
        // seeing the flag is caught here, one that pushes after it rings.
        // A parked sender retries after its own flag is visible, for the same
        // reason (the target rings back when it frees room).
        _peers.sleeping(_core).store(true, std::memory_order_seq_cst);
        // Offline whichever branch runs below: no callback of this loop
        // holds a pointer into another shard from here to the next pass().
        quiescent.go_offline(_core);
        const bool more_work = !mailboxes_empty() || retry_parked();
        if (more_work) {
            // GETEVENTS without waiting: with DEFER_TASKRUN the kernel posts
            // completions only when asked.
            io_uring_submit_and_get_events(&_ring);
        } else if (_background_pending && _background_allowance_ns > 0) {
            // Background work takes only idle moments, within its share of
            // the tick: a step runs when no completion is waiting.
            io_uring_submit_and_get_events(&_ring);
            if (io_uring_cq_ready(&_ring) == 0) _background_pending = run_background();
        } else if (_calls_awaiting_reply > 0 && spin_for_replies()) {
            // A reply arrived while we spun: no sleep, no doorbell needed.
        } else {
            io_uring_submit_and_wait(&_ring, 1);
        }
        _peers.sleeping(_core).store(false, std::memory_order_relaxed);
        quiescent.pass(_core);  // a quiescent state; a new read section starts
        while (reap()) {
        }
        for (auto& callback : _iteration_callbacks) callback();
    }
    quiescent.go_offline(_core);  // for good: reclaimers stop waiting for this core
    current_loop = nullptr;
}

bool loop::run_background() {
    const std::uint64_t start = base::monotonic_ns();
    bool more = false;
    for (auto& callback : _idle_callbacks) more |= callback();
    const std::uint64_t spent = base::monotonic_ns() - start;
    _background_allowance_ns = spent >= _background_allowance_ns ? 0 : _background_allowance_ns - spent;
    return more;
}

void loop::tick() {
    _now_ms = base::monotonic_ms() + _clock_offset_ms;
    _background_pending = !_idle_callbacks.empty();  // new deadlines may have come due
    _background_allowance_ns = limits::background_ns_per_tick;
    refresh_date();
    for (auto& callback : _tick_callbacks) callback();
    if (_stopping && !_forced && real_now_ms() >= _stop_deadline_ms) {
        _forced = true;
        for (auto& callback : _stop_callbacks) callback(true);
    }
}

void loop::refresh_date() {
    const std::time_t now = std::time(nullptr);
    if (now == _date_second) return;
    _date_second = now;
    std::tm parts{};
    gmtime_r(&now, &parts);
    _date_header_bytes = std::strftime(_date_header, sizeof(_date_header), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &parts);
}

void loop::stop_all() {
    if (!_peers.claim_shutdown()) return;
    for (unsigned target = 0; target < core_count(); ++target) {
        if (target == _core) begin_stop(); else send(target, *_stop_messages[target]);
    }
}

void loop::begin_stop() {
    if (_stopping) return;
    _stopping = true;
    _stop_deadline_ms = real_now_ms() + _drain_timeout_ms;
    for (auto& callback : _stop_callbacks) callback(false);
}

void loop::check_drained() {
    if (!_counted_drained && _holds == 0) {
        _counted_drained = true;
        const unsigned drained = _peers.drained_cores().fetch_add(1, std::memory_order_acq_rel) + 1;
        if (drained == core_count()) {
            for (unsigned target = 0; target < core_count(); ++target) {
                if (target != _core) wake(target);
            }
        }
    }
    // Every core keeps answering messages until all of them have drained,
    // since a peer's connection may still be waiting on a call to this core.
    // Such a call may start work here after this core counted itself (a
    // write to its log, a snapshot part): it holds the loop, and the loop
    // runs on until it ends, or its coroutine would never resume and its
    // write would be lost.
    if (_counted_drained && _holds == 0 &&
        _peers.drained_cores().load(std::memory_order_acquire) == core_count()) {
        _exit = true;
        publish_mailboxes();  // nothing this core sent is left staged
        io_uring_submit(&_ring);  // send the last doorbells
    }
}

}  // namespace ringkv::io

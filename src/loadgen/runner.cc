#include "runner.hh"

#include "response_stream.hh"

#include <ringkv/base/decimal.hh>
#include <ringkv/io/loop.hh>
#include <ringkv/io/ops.hh>
#include <ringkv/io/task.hh>
#include <ringkv/net/deadline_list.hh>

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <ctime>
#include <deque>
#include <queue>
#include <random>

namespace ringkv::loadgen {

namespace {

constexpr std::size_t receive_buffer_bytes = 64 * 1024;

// Wakes connections at their requests' due times, for all connections of a
// thread at once: due connections are resumed between completions (the loop
// is busy with responses anyway), and one absolute timer, moved earlier when
// needed, covers the moments the loop would otherwise sleep. One timer per
// request would cost the load generator more than the server it measures.
class pacer final : public io::completion {
public:
    explicit pacer(io::loop& loop) : _loop(loop) {}

    struct wait {
        pacer& owner;
        std::uint64_t due_ns;
        bool await_ready() const { return due_ns <= monotonic_ns(); }
        void await_suspend(std::coroutine_handle<> h) { owner.add(due_ns, h); }
        void await_resume() const {}
    };
    wait until(std::uint64_t due_ns) { return {*this, due_ns}; }

    // From the loop, each iteration: resumes whoever is due; keeps the timer
    // set for the next.
    void resume_due() {
        const std::uint64_t now = monotonic_ns();
        while (!_sleepers.empty() && _sleepers.top().due_ns <= now) {
            const std::coroutine_handle<> h = _sleepers.top().waiter;
            _sleepers.pop();
            h.resume();
        }
        if (!_sleepers.empty()) set_timer(_sleepers.top().due_ns);
    }

    void complete(std::int32_t, std::uint32_t flags) override {
        if ((flags & IORING_CQE_F_MORE) == 0) _armed = false;  // fired or removed; resume_due() re-arms
    }

private:
    struct sleeper {
        std::uint64_t due_ns;
        std::coroutine_handle<> waiter;
        bool operator>(const sleeper& other) const { return due_ns > other.due_ns; }
    };

    void add(std::uint64_t due_ns, std::coroutine_handle<> h) {
        _sleepers.push({due_ns, h});
        set_timer(_sleepers.top().due_ns);
    }

    void set_timer(std::uint64_t due_ns) {
        if (_armed && _armed_for_ns <= due_ns) return;
        _when.tv_sec = std::int64_t(due_ns / 1'000'000'000);
        _when.tv_nsec = std::int64_t(due_ns % 1'000'000'000);
        io_uring_sqe* e = _loop.sqe();
        if (_armed) {  // move the armed timer earlier
            io_uring_prep_timeout_update(e, &_when, reinterpret_cast<std::uint64_t>(static_cast<io::completion*>(this)),
                                         IORING_TIMEOUT_ABS);
            io_uring_sqe_set_data64(e, 0);
        } else {
            io_uring_prep_timeout(e, &_when, 0, IORING_TIMEOUT_ABS);
            io_uring_sqe_set_data(e, static_cast<io::completion*>(this));
            _armed = true;
        }
        _armed_for_ns = due_ns;
    }

    io::loop& _loop;
    std::priority_queue<sleeper, std::vector<sleeper>, std::greater<>> _sleepers;  // at most one per connection
    __kernel_timespec _when{};
    bool _armed = false;
    std::uint64_t _armed_for_ns = 0;
};

// The fixed parts of one organization's requests, built once per thread.
struct request_parts {
    std::string key_path;        // "<base>/storage/kvs/<id>/keys/"
    std::string list_path;       // "<base>/storage/kvs/<id>/keys?limit=100&prefix=<key prefix>"
    std::string headers;         // " HTTP/1.1\r\nHost: ...\r\nAuthorization: ...\r\n"
};

// A thread's shared state: the workload's generators and the counters.
struct thread_context {
    const run_plan& plan;
    const options& o;
    thread_results& results;
    io::loop& loop;
    std::mt19937_64 random;
    key_chooser keys;
    std::string value;           // the largest value, sliced per PUT
    std::vector<request_parts> organizations;  // one per organization of the plan
    std::string ttl_query;       // "?ttl_secs=N" or empty
    net::deadline_list responses;  // connections waiting for an answer
    pacer pace;
    unsigned active = 0;

    bool stopping(std::uint64_t now_ns) const {
        return plan.stop->load(std::memory_order_relaxed) || (o.requests == 0 && now_ns >= plan.end_ns);
    }
};

void append_request(thread_context& t, const request_parts& parts, operation op, std::string& out) {
    const std::uint64_t key = t.keys.next(t.random);
    switch (op) {
        case operation::get: out += "GET "; break;
        case operation::put: out += "PUT "; break;
        case operation::del: out += "DELETE "; break;
        case operation::list: out += "GET "; break;
    }
    if (op == operation::list) {
        out += parts.list_path;
        base::append_decimal(out, key % 10);
    } else {
        out += parts.key_path;
        out += t.o.key_prefix;
        base::append_decimal(out, key);
        if (op == operation::put) out += t.ttl_query;
    }
    out += parts.headers;
    if (op == operation::put) {
        const std::uint32_t bytes = t.o.value_bytes.next(t.random);
        out += "Content-Length: ";
        base::append_decimal(out, bytes);
        out += "\r\n\r\n";
        out.append(t.value.data(), bytes);
    } else {
        out += "\r\n";
    }
}

// One connection's state; its own deadline hook for the response timeout.
struct connection : net::deadline_hook {
    int fd = -1;
    const request_parts* organization = nullptr;  // whose requests it sends
    io::completion* pending = nullptr;
    bool timed_out = false;
    struct in_flight {
        std::uint64_t due_ns;
        operation op;
    };
    std::deque<in_flight> queue;  // at most --pipeline entries
};

void count(thread_context& t, const connection::in_flight& request, int status, std::uint64_t now_ns) {
    if (request.due_ns < t.plan.measure_from_ns) return;  // warm-up
    thread_results& r = t.results;
    const std::size_t index = status > 0 && std::size_t(status) < thread_results::statuses ? std::size_t(status) : 0;
    r.by_status[index].store(r.by_status[index].load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    r.latency.record(now_ns - request.due_ns);
    r.completed.store(r.completed.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    const bool miss = status == 404 && (request.op == operation::get);
    if (miss) r.misses.store(r.misses.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (!miss && (status < 200 || status > 299)) {
        r.failed.store(r.failed.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
}

void fail(thread_context& t, const std::string& why) {
    thread_results& r = t.results;
    r.failed.store(r.failed.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    r.by_status[0].store(r.by_status[0].load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (r.first_error.empty()) r.first_error = why;
}

// Sends everything in `out`; false if the connection broke.
io::task<bool> send_all(connection& c, std::string& out) {
    std::size_t sent = 0;
    while (sent < out.size()) {
        const std::int32_t n = co_await io::send(c.fd, {out.data() + sent, out.size() - sent}, &c.pending);
        if (n <= 0) co_return false;
        sent += std::size_t(n);
    }
    out.clear();
    co_return true;
}

// The connection's life: keep requests flowing until the plan says stop,
// then collect the answers still owed.
io::task<> drive(thread_context& t, connection& c, schedule s, std::uint64_t budget) {
    response_stream stream(false);
    std::string out;
    std::uint64_t sent = 0;
    const bool open_loop = s.interval_ns != 0;
    std::vector<char> buffer(receive_buffer_bytes);
    // Everyone starts together, at the plan's start (or this connection's
    // turn in the open-loop schedule).
    co_await t.pace.until(s.start_ns);
    for (;;) {
        std::uint64_t now = monotonic_ns();
        while (c.queue.size() < t.o.pipeline && sent < budget && !t.stopping(now)) {
            const std::uint64_t due = open_loop ? s.due_ns(sent) : now;
            if (due > now) break;
            const operation op = t.o.operations.pick(t.random());
            append_request(t, *c.organization, op, out);
            c.queue.push_back({due, op});
            ++sent;
        }
        if (c.queue.empty()) {
            if (sent >= budget || t.stopping(now)) break;
            co_await t.pace.until(s.due_ns(sent));
            continue;
        }
        if (!out.empty() && !co_await send_all(c, out)) {
            fail(t, "the server closed a connection");
            break;
        }
        t.responses.arm(c, t.loop.now_ms());
        const std::int32_t n = co_await io::recv(c.fd, {buffer.data(), buffer.size()}, &c.pending);
        net::deadline_list::disarm(c);
        if (n <= 0) {
            fail(t, c.timed_out ? "no response within --timeout" : "the server closed a connection");
            break;
        }
        if (!stream.feed({buffer.data(), std::size_t(n)}) || stream.done().size() > c.queue.size()) {
            fail(t, std::string("the server sent bad HTTP (") + stream.error() + ")");
            break;
        }
        now = monotonic_ns();
        for (const auto& response : stream.done()) {
            count(t, c.queue.front(), response.status, now);
            c.queue.pop_front();
        }
        stream.done().clear();
    }
    ::close(c.fd);
    if (--t.active == 0) t.loop.stop_all();
}

// A connection's coroutine: holds the loop open while it runs.
io::task<> run_connection(thread_context& t, int fd, const request_parts& organization, schedule s,
                          std::uint64_t budget) {
    connection c;
    c.fd = fd;
    c.organization = &organization;
    co_await drive(t, c, s, budget);
    t.loop.release();
}

}  // namespace

void run_thread(io::cluster& peers, unsigned core, const run_plan& plan, unsigned first_connection,
                std::vector<int> fds, thread_results& results) {
    const options& o = *plan.settings;
    io::loop_options loop_settings;
    loop_settings.core = core;
    io::loop loop(peers, loop_settings);
    peers.wait_until_all_rings_ready();

    thread_context t{plan, o, results, loop, std::mt19937_64(0x5eed + core), {}, {}, {}, {},
                     net::deadline_list(std::uint64_t(o.timeout_s * 1000)), pacer(loop), 0};
    t.keys.keys = o.keys;
    if (o.zipf_skew) t.keys.skewed.emplace(o.keys, *o.zipf_skew);
    t.value.assign(o.value_bytes.high, 'v');
    for (const organization& each : plan.organizations) {
        t.organizations.push_back({o.base_path + "/storage/kvs/" + each.namespace_id + "/keys/",
                                   o.base_path + "/storage/kvs/" + each.namespace_id + "/keys?limit=100&prefix=" + o.key_prefix,
                                   " HTTP/1.1\r\nHost: " + o.host + "\r\nAuthorization: Bearer " + each.token + "\r\n"});
    }
    if (o.ttl_s != 0) t.ttl_query = "?ttl_secs=" + std::to_string(o.ttl_s);

    loop.on_iteration([&t] { t.pace.resume_due(); });
    loop.on_tick([&t] {
        t.responses.expire(t.loop.now_ms(), [](net::deadline_hook& hook) {
            auto& c = static_cast<connection&>(hook);
            c.timed_out = true;
            if (c.pending != nullptr) io::cancel(*c.pending);
        });
    });
    // The connections start inside the loop (they need loop::current()).
    loop.run([&] {
        t.active = unsigned(fds.size());
        for (std::size_t i = 0; i < fds.size(); ++i) {
            const unsigned c = first_connection + unsigned(i);
            const schedule s = schedule::for_connection(plan.start_ns, o.rate, o.connections, c);
            // --requests: shared out evenly, the first ones taking the remainder.
            std::uint64_t budget = UINT64_MAX;
            if (o.requests != 0) budget = o.requests / o.connections + (c < o.requests % o.connections ? 1 : 0);
            loop.hold();
            io::spawn(run_connection(t, fds[i], t.organizations[organization_of(o, c)], s, budget));
        }
        if (fds.empty()) loop.stop_all();
    });
}

}  // namespace ringkv::loadgen

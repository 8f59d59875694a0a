#pragma once
// The observing half of the control plane, per core: what the core counts
// about the requests it answers (metrics/), its request journal, and the
// bound on scrapes running at once. The api service reports each request
// here (on_answered, on_complete); the routes of observing.hh read every
// core's observer by message (on_every_core), each on its own core.

#include <ringkv/control/journal.hh>
#include <ringkv/metrics/core_metrics.hh>
#include <ringkv/net/http/handler.hh>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace ringkv::control {

struct observe_options {
    bool metrics = true;                // --no-metrics turns request metrics off
    bool server_timing = false;         // --server-timing
    std::size_t journal_entries = 0;    // --journal N (per core); 0: off
    // Scrapes (/metrics, stats, journal reads) one core runs at once; one
    // more is 503. Each holds up to ~0.6 MiB while it gathers.
    unsigned scrapes_per_core_max = 4;

    // Whether connections time and report each request.
    bool observe_requests() const { return metrics || journal_entries != 0; }
};

class observer {
public:
    observer(unsigned core, const observe_options& options, std::uint64_t now_ns);
    observer(const observer&) = delete;
    observer& operator=(const observer&) = delete;

    // The response to a request was written (see net::http::handler).
    // which: its route; token: its bearer token, or empty.
    void on_answered(metrics::route which, const net::http::request_head* head, std::string_view token,
                     net::http::exchange& done);
    // Whether on_answered reads its token (the journal is on); the caller
    // skips finding it otherwise.
    bool wants_token() const { return _journal.enabled(); }
    // It reached the kernel.
    void on_complete(const net::http::exchange& done);
    // A deferred answer (a pipelined batch), noted by on_answered with
    // status 0, was written: its status and size are known now.
    void on_settled(const net::http::exchange& done);

    metrics::core_metrics& metrics() { return _metrics; }
    const metrics::core_metrics& metrics() const { return _metrics; }
    const control::journal& journal() const { return _journal; }
    const observe_options& options() const { return _options; }

    // A scrape begins on this core (false: too many running; answer 503).
    bool begin_scrape();
    void end_scrape();

private:
    const observe_options& _options;
    metrics::core_metrics _metrics;
    control::journal _journal;
    unsigned _scrapes = 0;
};

// Every core's observer, by core number: sized before the cores start; each
// core fills its own slot before it serves and reads only its own (inside
// on_every_core), so nothing here is shared between threads.
class observers {
public:
    explicit observers(unsigned cores) : _by_core(cores, nullptr) {}
    void set(unsigned core, observer* o) { _by_core[core] = o; }
    observer& at(unsigned core) const { return *_by_core[core]; }
    unsigned cores() const { return unsigned(_by_core.size()); }

private:
    std::vector<observer*> _by_core;
};

}  // namespace ringkv::control

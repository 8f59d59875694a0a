#pragma once
// One ringkv-bench thread: an io::loop driving its share of the
// connections, each a coroutine that keeps up to --pipeline requests in
// flight and records every response's latency from the instant the
// request was due.

#include <ringkv/base/clock.hh>
#include <ringkv/io/cluster.hh>
#include <ringkv/metrics/histogram.hh>
#include <ringkv/loadgen/options.hh>

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace ringkv::loadgen {

using metrics::histogram;  // shared with the server (metrics/)

// What a thread measured. Written by its thread only; the counters are
// atomics so the main thread can read them for the progress line.
struct thread_results {
    histogram latency;                      // responses due after the warm-up
    std::atomic<std::uint64_t> completed{0};  // the same responses, counted
    std::atomic<std::uint64_t> failed{0};     // non-2xx (but GET 404) and transport errors
    std::atomic<std::uint64_t> misses{0};     // GET answered 404
    static constexpr std::size_t statuses = 600;  // index 0: transport errors
    std::array<std::atomic<std::uint64_t>, statuses> by_status{};
    std::string first_error;                // read after the thread has joined
};

// One organization of the run (--tokens): its token and its namespace.
struct organization {
    std::string token;
    std::string namespace_id;
};

struct run_plan {
    const options* settings = nullptr;
    std::vector<organization> organizations;  // o.tokens of them; connection c uses organization_of(o, c)
    std::uint64_t start_ns = 0;         // first requests are due
    std::uint64_t measure_from_ns = 0;  // start + warm-up
    std::uint64_t end_ns = 0;           // no request is due after this (duration mode)
    const std::atomic<bool>* stop = nullptr;  // Ctrl-C
};

using base::monotonic_ns;

// Runs connections [first, first + fds.size()) of the run on `core`'s loop
// until they are done; owns and closes the fds.
void run_thread(io::cluster& peers, unsigned core, const run_plan& plan, unsigned first_connection,
                std::vector<int> fds, thread_results& results);

}  // namespace ringkv::loadgen

#pragma once
// What one core counts about the requests it answers. One object per core,
// written only by that core on the request path (plain increments, no
// atomics, no lock) and read only by that core, when a scrape's message
// reaches it (control/: on_every_core). Nothing here is shared.
//
// Two views of the same requests:
//  - lifetime (Prometheus, monotonic): counts by route, method and status,
//    and per route a latency histogram with the buckets of
//    duration_buckets plus the sum and count;
//  - the stats window (GET /_ringkv/stats), which reset_window() starts
//    anew: per route a fine log-linear histogram (metrics/histogram.hh,
//    under 1% error) and the counts by method and status since the reset.
// Memory is fixed at construction (about 560 KiB, mostly the twelve fine
// histograms of 36 KiB) and never grows.

#include <ringkv/metrics/histogram.hh>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ringkv::metrics {

// The route of a request, as the metrics name it. The KV API's eight, then
// ringkv's own (health, the metrics scrape, the control plane), then
// `other`: no route matched, or the request never got that far (bad HTTP,
// a timeout, CONNECT).
enum class route : std::uint8_t {
    other,
    create_namespace,
    list_namespaces,
    get_namespace,
    delete_namespace,
    put_key,
    get_key,
    delete_key,
    list_keys,
    healthz,
    metrics,
    admin,
};
inline constexpr std::size_t route_count = 12;
std::string_view name_of(route which);

enum class method : std::uint8_t { get, head, post, put, delete_, connect, other };
inline constexpr std::size_t method_count = 7;
std::string_view name_of(method verb);

// Status codes are counted each on its own when they are standard ones
// (RFC 9110 and the common extensions: 200-206, 300-308, 400-431, 451,
// 500-511); any other number shares the slot `other_slot`.
struct status_slots {
    static constexpr std::size_t count = 64;
    static constexpr std::size_t other_slot = 0;
    static std::size_t of(int status);
    // The status of a slot; 0 for other_slot and for unused slots.
    static int status_of(std::size_t slot);
};

// The Prometheus buckets of ringkv_request_duration_seconds: log-linear
// like the fine histogram but eight per power of two (each 1/8 of its
// octave wide, so at most 12.5% of its values), from 1.024 us to 34.4 s,
// plus one for everything below and +Inf above. Each bucket's bound is a
// bound of the fine histogram, so both count the same value the same way.
// 50 us falls in [49.152, 53.247] us.
struct duration_buckets {
    static constexpr std::size_t per_octave = 8;
    static constexpr unsigned first_octave_shift = 10;  // 1024 ns
    static constexpr unsigned last_octave_shift = 35;   // ~34.4 s
    static constexpr std::size_t finite = 1 + (last_octave_shift - first_octave_shift) * per_octave;
    static constexpr std::size_t count = finite + 1;  // the last is +Inf
    // The bucket of a fine-histogram index (histogram::index_of).
    static std::size_t of_index(std::size_t fine_index);
    // The largest value (inclusive) of a finite bucket, in nanoseconds.
    static std::uint64_t upper_ns(std::size_t bucket);
};

// One answered request, as the connection saw it.
struct request_sample {
    route which = route::other;
    method verb = method::other;
    int status = 0;
    std::uint64_t duration_ns = 0;  // head parsed -> response handed to the kernel
};

// Lifetime latency of one route (monotonic).
struct route_latency {
    std::array<std::uint64_t, duration_buckets::count> buckets{};  // not cumulative
    std::uint64_t count = 0;
    std::uint64_t sum_ns = 0;
};

class request_metrics {
public:
    using status_counts = std::array<std::uint64_t, status_slots::count>;
    using counts_by_method = std::array<status_counts, method_count>;

    explicit request_metrics(std::uint64_t now_ns = 0) : _window_started_ns(now_ns) {}
    request_metrics(const request_metrics&) = delete;
    request_metrics& operator=(const request_metrics&) = delete;

    // The hot path: a few increments and one histogram record.
    void record(const request_sample& sample);
    // Starts a new stats window; the lifetime counts go on.
    void reset_window(std::uint64_t now_ns);

    const counts_by_method& lifetime_counts(route which) const { return _counts[index(which)]; }
    // Counts since the window started (lifetime minus the reset's baseline).
    std::uint64_t window_count(route which, method verb, std::size_t slot) const {
        return _counts[index(which)][std::size_t(verb)][slot] - _window_base[index(which)][std::size_t(verb)][slot];
    }
    const route_latency& lifetime_latency(route which) const { return _latency[index(which)]; }
    const histogram& window_latency(route which) const { return _window[index(which)]; }
    std::uint64_t window_started_ns() const { return _window_started_ns; }

private:
    static std::size_t index(route which) { return std::size_t(which); }

    std::array<counts_by_method, route_count> _counts{};
    std::array<counts_by_method, route_count> _window_base{};  // _counts at the last reset
    std::array<route_latency, route_count> _latency{};
    std::array<histogram, route_count> _window;
    std::uint64_t _window_started_ns = 0;
};

}  // namespace ringkv::metrics

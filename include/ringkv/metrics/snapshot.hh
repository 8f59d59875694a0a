#pragma once
// One scrape: each core adds its part while the scrape's message is on it
// (one core after another, so add() never runs twice at once), then the
// scraping core renders the sum. Built per scrape, off the request path;
// its size is fixed by the number of cores and routes (about 60 KiB, plus
// 470 KiB of fine histograms for the stats view), and the control plane
// bounds how many run at once.

#include <ringkv/metrics/core_metrics.hh>
#include <ringkv/metrics/histogram.hh>
#include <ringkv/metrics/requests.hh>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ringkv::metrics {

// Server latency at the points /_ringkv/stats reports, in nanoseconds.
struct latency_summary {
    std::uint64_t p50_ns = 0, p90_ns = 0, p99_ns = 0, p99_9_ns = 0, p99_99_ns = 0, max_ns = 0;
    static latency_summary of(const histogram& h);
};

class snapshot {
public:
    enum class view : std::uint8_t {
        prometheus,  // lifetime counts and buckets, collectors
        stats,       // the window: fine histograms, per-core summaries, collectors
    };
    explicit snapshot(view what);
    snapshot(const snapshot&) = delete;
    snapshot& operator=(const snapshot&) = delete;

    // On the core that owns `m`, from its thread.
    void add(const core_metrics& m);

    // Prometheus text exposition format 0.0.4.
    std::string prometheus() const;
    // The JSON of GET /_ringkv/stats; now_ns: the monotonic clock, for the
    // window's age.
    std::string stats_json(std::uint64_t now_ns) const;

    // For tests and ringkv's own checks.
    std::uint64_t lifetime_count(route which, method verb, int status) const;
    const histogram& window_latency(route which) const { return (*_window)[std::size_t(which)]; }

private:
    struct core_summary {
        unsigned core = 0;
        std::uint64_t count = 0;
        request_metrics::status_counts statuses{};
        latency_summary latency;
    };

    view _view;
    std::array<request_metrics::counts_by_method, route_count> _lifetime{};
    std::array<request_metrics::counts_by_method, route_count> _window_counts{};
    std::array<route_latency, route_count> _latency{};
    std::unique_ptr<std::array<histogram, route_count>> _window;  // stats view only
    std::unique_ptr<histogram> _core_scratch;                      // stats view only
    std::vector<core_summary> _cores;
    std::vector<sample> _samples;
    std::uint64_t _window_started_ns = UINT64_MAX;  // the oldest core's
};

}  // namespace ringkv::metrics

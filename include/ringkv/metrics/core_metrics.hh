#pragma once
// Everything one core reports to a scrape: its request metrics, and the
// collectors other modules register for their own counters and gauges.
//
// The extension point: a module with per-core counters of its own (the
// rules engine's injected faults, the persistence log's bytes written)
// keeps them in its own per-core state, written only by its core, and
// registers one collector per core at start-up:
//
//     metrics.add_collector([&rules](metrics::sample_sink& out) {
//         out.counter("ringkv_injected_faults_total", "Faults injected by rules, by kind.",
//                     rules.resets, metrics::label("kind", "reset"));
//         out.gauge("ringkv_rules", "Rules in the table.", double(rules.size()));
//     });
//
// At every scrape the collector runs on its own core (inside the scrape's
// message), so it reads its state without atomics. GET /metrics renders each
// family once (HELP, TYPE, then every core's samples with a `core` label
// first); GET /_ringkv/stats lists them per core. No renderer changes.

#include <ringkv/metrics/requests.hh>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace ringkv::metrics {

// seconds_counter: a counter of time kept in whole microseconds (integer
// sums, so no drift however long it runs) and rendered in seconds.
enum class family_type : std::uint8_t { counter, seconds_counter, gauge };

// One value a collector reported.
struct sample {
    std::string_view name;  // a static string (a literal): it outlives the scrape
    std::string_view help;  // likewise
    family_type type = family_type::counter;
    std::string labels;     // `a="x",b="y"` (see label()), without the core
    unsigned core = 0;
    std::uint64_t count = 0;  // counters; microseconds for a seconds_counter
    double value = 0;         // gauges
};

// Where collectors put their samples during one scrape.
class sample_sink {
public:
    sample_sink(unsigned core, std::vector<sample>& out) : _core(core), _out(out) {}
    // name: a Prometheus metric name ending in _total, a literal; help: one
    // line, a literal; labels: from label(), joined with ',' for several.
    void counter(std::string_view name, std::string_view help, std::uint64_t count, std::string labels = {});
    void gauge(std::string_view name, std::string_view help, double value, std::string labels = {});
    // A counter of time: name ends in _seconds_total; rendered as seconds
    // with six decimals, exactly (1250 µs is "0.001250").
    void seconds_counter(std::string_view name, std::string_view help, std::uint64_t microseconds,
                         std::string labels = {});

private:
    unsigned _core;
    std::vector<sample>& _out;
};

using collector = std::function<void(sample_sink&)>;

// `name="value"` with the value escaped as the exposition format wants.
std::string label(std::string_view name, std::string_view value);

class core_metrics {
public:
    core_metrics(unsigned core, std::uint64_t now_ns) : requests(now_ns), _core(core) {}
    core_metrics(const core_metrics&) = delete;
    core_metrics& operator=(const core_metrics&) = delete;

    request_metrics requests;

    // At start-up only, on the owning core (before it serves).
    void add_collector(collector c) { _collectors.push_back(std::move(c)); }
    // On the owning core, during a scrape.
    void collect(std::vector<sample>& out) const;
    unsigned core() const { return _core; }

private:
    unsigned _core;
    std::vector<collector> _collectors;
};

}  // namespace ringkv::metrics

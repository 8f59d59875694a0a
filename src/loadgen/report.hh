#pragma once
// What a run prints and writes: the final table, --json, --plot.

#include <ringkv/metrics/histogram.hh>
#include <ringkv/loadgen/options.hh>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringkv::loadgen {

using metrics::histogram;  // shared with the server (metrics/)

struct totals {
    histogram latency;
    std::uint64_t completed = 0, failed = 0, misses = 0;
    std::array<std::uint64_t, 600> by_status{};
    double seconds = 0;  // measured wall time
    std::string first_error;
};

std::string format_duration(std::uint64_t ns);

// One route of the server's stats window (GET /_ringkv/stats), in
// microseconds: p50, p90, p99, p99.9, p99.99, max.
struct server_route {
    std::string name;
    std::uint64_t count = 0;
    std::array<double, 6> latency_us{};
};
// The KV routes with requests in the window; empty when the JSON is not
// ringkv's stats.
std::vector<server_route> parse_server_stats(std::string_view json);
void print_server_stats(const std::vector<server_route>& routes);
void print_table(const options& o, const totals& t);
// Each returns an empty string or the error.
std::string write_json(const options& o, const totals& t, const std::string& path);
std::string write_plot(const totals& t, const std::string& path);

}  // namespace ringkv::loadgen

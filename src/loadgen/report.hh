#pragma once
// What a run prints and writes: the final table, --json, --plot.

#include <ringkv/metrics/histogram.hh>
#include <ringkv/loadgen/options.hh>

#include <array>
#include <cstdint>
#include <string>

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
void print_table(const options& o, const totals& t);
// Each returns an empty string or the error.
std::string write_json(const options& o, const totals& t, const std::string& path);
std::string write_plot(const totals& t, const std::string& path);

}  // namespace ringkv::loadgen

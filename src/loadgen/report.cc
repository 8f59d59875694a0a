#include "report.hh"

#include <ringkv/metrics/requests.hh>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace ringkv::loadgen {
namespace {

constexpr double reported_percentiles[] = {50, 90, 99, 99.9, 99.99};

}  // namespace

std::string format_duration(std::uint64_t ns) {
    char text[32];
    if (ns < 1'000) std::snprintf(text, sizeof(text), "%lu ns", static_cast<unsigned long>(ns));
    else if (ns < 1'000'000) std::snprintf(text, sizeof(text), "%.1f us", double(ns) / 1e3);
    else if (ns < 1'000'000'000ull) std::snprintf(text, sizeof(text), "%.2f ms", double(ns) / 1e6);
    else std::snprintf(text, sizeof(text), "%.2f s", double(ns) / 1e9);
    return text;
}

std::vector<server_route> parse_server_stats(std::string_view json) {
    // The KV API's routes and `other`, named as ringkv's metrics name them
    // (its own routes, such as the stats request of --server-stats itself,
    // are left out).
    using metrics::route;
    static constexpr route kv_routes[] = {route::get_key,          route::put_key,         route::delete_key,
                                          route::list_keys,        route::create_namespace, route::list_namespaces,
                                          route::get_namespace,    route::delete_namespace, route::other};
    static constexpr std::string_view points[] = {"\"p50\":", "\"p90\":", "\"p99\":",
                                                  "\"p99.9\":", "\"p99.99\":", "\"max\":"};
    std::vector<server_route> out;
    const std::size_t routes = json.find("\"routes\":{");
    if (routes == std::string_view::npos) return out;
    for (const route which : kv_routes) {
        const std::string_view name = metrics::name_of(which);
        // append(), not operator+: GCC 12 warns falsely on string + (bug 105329).
        std::string marker("\"");
        marker.append(name).append("\":{\"count\":");
        const std::size_t at = json.find(marker, routes);
        if (at == std::string_view::npos) continue;
        server_route r;
        r.name = std::string(name);
        r.count = std::strtoull(std::string(json.substr(at + marker.size(), 24)).c_str(), nullptr, 10);
        if (r.count == 0) continue;
        const std::size_t latency = json.find("\"latency_us\":{", at);
        if (latency == std::string_view::npos) continue;
        std::size_t from = latency;
        for (std::size_t i = 0; i < std::size(points); ++i) {
            const std::size_t p = json.find(points[i], from);
            if (p == std::string_view::npos) break;
            from = p + points[i].size();
            r.latency_us[i] = std::strtod(std::string(json.substr(from, 32)).c_str(), nullptr);
        }
        out.push_back(std::move(r));
    }
    return out;
}

void print_server_stats(const std::vector<server_route>& routes) {
    std::printf("  server (its own time: head parsed to response handed to the kernel; /_ringkv/stats)\n");
    for (const server_route& r : routes) {
        std::printf("  %-18s %10lu", r.name.c_str(), static_cast<unsigned long>(r.count));
        for (std::size_t i = 0; i < std::size(reported_percentiles); ++i) {
            std::printf("  p%g %s", reported_percentiles[i],
                        format_duration(std::uint64_t(std::llround(r.latency_us[i] * 1000))).c_str());
        }
        std::printf("  max %s\n", format_duration(std::uint64_t(std::llround(r.latency_us[5] * 1000))).c_str());
    }
}

void print_table(const options& o, const totals& t) {
    std::printf("\n%s, %u thread(s), %u connection(s) over %u organization(s), pipeline %u, %s\n",
                o.requests ? "request count" : "timed run", o.threads, o.connections, o.tokens, o.pipeline,
                o.rate > 0 ? ("open loop at " + std::to_string(std::llround(o.rate)) + " req/s").c_str() : "closed loop");
    std::printf("  %-12s %12lu in %.2f s = %.0f req/s\n", "requests", static_cast<unsigned long>(t.completed), t.seconds,
                t.seconds > 0 ? double(t.completed) / t.seconds : 0.0);
    std::printf("  %-12s %12lu   (GET 404: %lu, not counted as errors)\n", "errors", static_cast<unsigned long>(t.failed),
                static_cast<unsigned long>(t.misses));
    std::printf("  latency    ");
    for (double p : reported_percentiles) std::printf("  p%g %s", p, format_duration(t.latency.percentile(p)).c_str());
    std::printf("  max %s\n", format_duration(t.latency.max()).c_str());
    std::printf("  status     ");
    for (std::size_t s = 0; s < t.by_status.size(); ++s) {
        if (t.by_status[s] != 0) std::printf("  %s: %lu", s == 0 ? "transport" : std::to_string(s).c_str(), static_cast<unsigned long>(t.by_status[s]));
    }
    std::printf("\n");
}

std::string write_json(const options& o, const totals& t, const std::string& path) {
    std::ofstream out(path);
    if (!out) return "cannot write --json file '" + path + "'";
    out << "{\n  \"config\": {\"host\": \"" << o.host << "\", \"port\": " << o.port << ", \"threads\": " << o.threads
        << ", \"connections\": " << o.connections << ", \"organizations\": " << o.tokens << ", \"pipeline\": " << o.pipeline << ", \"rate\": " << o.rate
        << ", \"duration_s\": " << o.duration_s << ", \"request_limit\": " << o.requests << ", \"warmup_s\": " << o.warmup_s
        << ", \"keys\": " << o.keys << ", \"zipf_skew\": " << o.zipf_skew.value_or(0) << ", \"value_bytes\": ["
        << o.value_bytes.low << ", " << o.value_bytes.high << "], \"ttl_s\": " << o.ttl_s << ", \"mix\": {";
    for (std::size_t i = 0; i < operation_names.size(); ++i) {
        out << (i ? ", " : "") << '"' << operation_names[i] << "\": " << o.operations.weights[i];
    }
    out << "}},\n  \"seconds\": " << t.seconds << ",\n  \"requests\": " << t.completed
        << ",\n  \"throughput_rps\": " << (t.seconds > 0 ? double(t.completed) / t.seconds : 0) << ",\n  \"errors\": "
        << t.failed << ",\n  \"get_misses\": " << t.misses << ",\n  \"status\": {";
    bool first = true;
    for (std::size_t s = 0; s < t.by_status.size(); ++s) {
        if (t.by_status[s] == 0) continue;
        out << (first ? "" : ", ") << '"' << (s == 0 ? "transport" : std::to_string(s)) << "\": " << t.by_status[s];
        first = false;
    }
    out << "},\n  \"latency_ns\": {\"min\": " << (t.latency.count() ? t.latency.min() : 0);
    for (double p : reported_percentiles) out << ", \"p" << p << "\": " << t.latency.percentile(p);
    out << ", \"max\": " << t.latency.max() << "},\n  \"histogram\": {\"unit\": \"ns\", \"sub_bucket_bits\": "
        << histogram::sub_bucket_bits << ", \"buckets\": [";
    first = true;
    for (const auto& b : t.latency.buckets()) {
        out << (first ? "" : ", ") << "[" << b.low_ns << ", " << b.high_ns << ", " << b.count << "]";
        first = false;
    }
    out << "]}\n}\n";
    return out ? std::string() : "cannot write --json file '" + path + "'";
}

std::string write_plot(const totals& t, const std::string& path) {
    if (t.latency.count() == 0) return "no latency recorded: nothing to plot";
    const std::string data_path = path + ".dat";
    {
        std::ofstream data(data_path);
        // x = 1/(1-p): the usual percentile-distribution axis (50% -> 2, 99.9% -> 1000).
        for (double nines = 0; nines <= 5.0; nines += 0.05) {
            const double p = 100.0 * (1.0 - std::pow(10.0, -nines));
            data << 1.0 / (1.0 - p / 100.0) << ' ' << double(t.latency.percentile(p)) / 1e6 << '\n';
        }
    }
    const std::string script_path = path + ".gp";
    {
        std::ofstream script(script_path);
        script << "set terminal pngcairo size 960,540 noenhanced\nset output '" << path << "'\n"
               << "set title 'ringkv-bench latency by percentile'\nset logscale x\n"
               << "set xtics ('50%%' 2, '90%%' 10, '99%%' 100, '99.9%%' 1000, '99.99%%' 10000, '99.999%%' 100000)\n"
               << "set xlabel 'percentile'\nset ylabel 'latency (ms)'\nset grid\nset key off\n"
               << "plot '" << data_path << "' using 1:2 with lines linewidth 2\n";
    }
    const std::string command = "gnuplot '" + script_path + "' 2>&1";
    if (std::system(command.c_str()) != 0) return "gnuplot failed (is it installed? apt-get install gnuplot-nox)";
    std::remove(data_path.c_str());
    std::remove(script_path.c_str());
    return {};
}

}  // namespace ringkv::loadgen

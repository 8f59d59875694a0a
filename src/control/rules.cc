#include <ringkv/control/rules.hh>

#include <algorithm>
#include <cmath>
#include <numbers>

namespace ringkv::control {
namespace {

// The standard normal quantile at 0.99: a lognormal's p99 is
// median * exp(sigma * z99).
constexpr double z99 = 2.3263478740408408;

}  // namespace

std::string_view route_name(route_kind route) { return metrics::name_of(route); }

std::optional<route_kind> route_from_name(std::string_view name) {
    for (const route_kind route : steerable_routes) {
        if (route_name(route) == name) return route;
    }
    return std::nullopt;
}

std::string_view distribution_name(distribution d) {
    switch (d) {
        case distribution::none: return "none";
        case distribution::fixed: return "fixed";
        case distribution::uniform: return "uniform";
        case distribution::normal: return "normal";
        case distribution::lognormal: return "lognormal";
        case distribution::pareto: return "pareto";
    }
    return "none";
}

std::string_view fault_name(fault_kind kind) {
    switch (kind) {
        case fault_kind::none: return "none";
        case fault_kind::status: return "status";
        case fault_kind::reset: return "reset";
        case fault_kind::close: return "close";
        case fault_kind::hang: return "hang";
        case fault_kind::dribble: return "dribble";
        case fault_kind::truncate: return "truncate";
    }
    return "none";
}

std::uint64_t random_stream::next() {
    std::uint64_t z = (_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double random_stream::unit() { return double((next() >> 11) + 1) * 0x1.0p-53; }

double sample_ms(const latency_spec& latency, random_stream& random) {
    double ms = 0;
    switch (latency.distribution) {
        case distribution::none: return 0;
        case distribution::fixed: ms = latency.ms; break;
        case distribution::uniform: ms = latency.min_ms + (latency.max_ms - latency.min_ms) * (1.0 - random.unit()); break;
        case distribution::normal:
        case distribution::lognormal: {
            // Box-Muller: one standard normal from two uniforms.
            const double u1 = random.unit(), u2 = random.unit();
            const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
            if (latency.distribution == distribution::normal) {
                ms = latency.mean_ms + latency.stddev_ms * z;
            } else {
                const double sigma = std::log(latency.p99_ms / latency.median_ms) / z99;
                ms = latency.median_ms * std::exp(sigma * z);
            }
            break;
        }
        case distribution::pareto: ms = latency.scale_ms / std::pow(random.unit(), 1.0 / latency.shape); break;
    }
    if (!(ms > 0)) return 0;  // also NaN
    return std::min(ms, double(delay_ms_max));
}

bool matches(const rule_spec& rule, const request_facts& facts, std::uint64_t now_ms) {
    const match_spec& m = rule.match;
    if (now_ms >= rule.expires_at_ms) return false;
    if (m.route && *m.route != facts.route) return false;
    if (m.method && *m.method != facts.method) return false;
    if (m.token && *m.token != facts.token) return false;
    if (m.namespace_id && (facts.namespace_id == nullptr || !(*m.namespace_id == *facts.namespace_id))) return false;
    if (m.key_prefix && (facts.key.empty() || !facts.key.starts_with(*m.key_prefix))) return false;
    return true;
}

}  // namespace ringkv::control

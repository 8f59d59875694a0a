#include <ringkv/control/steering.hh>

#include <ringkv/base/assert.hh>
#include <ringkv/metrics/core_metrics.hh>

#include <xxhash.h>

#include <algorithm>
#include <cmath>

namespace ringkv::control {
namespace {

thread_local steering* local_steering = nullptr;

std::uint64_t mix(std::uint64_t a, std::uint64_t b) {
    random_stream s(a ^ (b * 0xd6e8feb86659fd93ull));
    return s.next();
}

std::uint64_t ceil_div_ms_to_s(double ms) { return std::uint64_t(std::ceil(std::max(0.0, ms) / 1000.0)); }

}  // namespace

steering& steering::local() { return *local_steering; }
void steering::set_local(steering* state) { local_steering = state; }

void steering::install(std::uint32_t generation, const std::vector<rule_spec>& rules) {
    if (generation <= _generation) return;
    _generation = generation;
    _table = rules.empty() ? nullptr : std::make_unique<rule_table>(generation, rules);
    // Buckets belong to a list: a new list starts every limit afresh.
    _buckets.assign(rules.size(), {});
    _bucket_count = 0;
}

const rule_spec* steering::rule(const decision& d) const {
    if (_table == nullptr || d.generation != _generation || d.rule >= _table->rules().size()) return nullptr;
    return &_table->rules()[d.rule];
}

void steering::count_limited(const decision& d) {
    ++_counts.rate_limited;
    if (_table != nullptr && d.generation == _generation && d.rule < _table->counters().size()) {
        ++_table->counters()[d.rule].limited;
    }
}

decision steering::decide_by_table(const request_facts& facts, std::uint64_t now_ms) {
    const std::vector<rule_spec>& rules = _table->rules();
    for (std::size_t index = 0; index < rules.size(); ++index) {
        const rule_spec& r = rules[index];
        if (!matches(r, facts, now_ms)) continue;
        rule_counters& counted = _table->counters()[index];
        ++counted.matched;
        decision d;
        d.generation = _generation;
        d.rule = std::uint16_t(index);
        d.rate_limited = r.rate_limit.present();
        // A seeded rule draws from its seed, its place and the request's
        // number on its connection: the same sequence, the same draws.
        random_stream random(r.seed ? mix(mix(*r.seed, index), facts.connection_request) : (_random = mix(_random, 1)));
        if (r.probability < 1.0 && !(random.unit() <= r.probability)) return d;
        ++counted.applied;
        const double delay_ms = sample_ms(r.latency, random);
        d.delay_us = std::uint32_t(std::llround(delay_ms * 1000.0));
        if (d.delay_us > 0) {
            ++counted.delayed;
            ++_counts.delays;
            _counts.delay_us_total += d.delay_us;
        }
        d.fault = r.fault.kind;
        d.fault_after = r.fault.after;
        if (d.fault != fault_kind::none) {
            ++counted.faulted;
            ++_counts.faults[std::size_t(d.fault)];
        }
        return d;
    }
    return {};
}

unsigned steering::bucket_core(std::string_view token, unsigned cores) {
    return unsigned(XXH3_64bits(token.data(), token.size()) % cores);
}

void steering::make_room(std::uint64_t now_ms) {
    for (std::size_t index = 0; index < _buckets.size(); ++index) {
        const rate_limit_spec& limit = _table->rules()[index].rate_limit;
        if (!limit.present()) continue;
        const double per_ms = double(limit.requests) / double(limit.per_ms);
        _bucket_count -= std::erase_if(_buckets[index], [&](const auto& entry) {
            const bucket& b = entry.second;
            return b.tokens + double(now_ms - b.updated_ms) * per_ms >= double(limit.burst);
        });
    }
}

admission steering::admit(std::uint32_t generation, std::uint16_t rule, const rate_limit_spec& limit,
                          std::string_view token, std::uint64_t now_ms) {
    admission a;
    a.limit = limit.requests;
    if (generation != _generation || _table == nullptr || rule >= _buckets.size()) {
        a.remaining = limit.burst;
        return a;
    }
    token_buckets& buckets = _buckets[rule];
    auto found = buckets.find(token);
    if (found == buckets.end()) {
        if (_bucket_count >= buckets_max && now_ms >= _next_scan_ms) {
            make_room(now_ms);
            _next_scan_ms = now_ms + bucket_scan_interval_ms;
        }
        if (_bucket_count >= buckets_max) {
            ++_counts.rate_table_full;
            a.remaining = limit.burst;
            return a;
        }
        found = buckets.emplace(std::string(token), bucket{double(limit.burst), now_ms}).first;
        ++_bucket_count;
    }
    bucket& b = found->second;
    const double per_ms = double(limit.requests) / double(limit.per_ms);
    if (now_ms > b.updated_ms) {
        b.tokens = std::min(double(limit.burst), b.tokens + double(now_ms - b.updated_ms) * per_ms);
        b.updated_ms = now_ms;
    }
    a.admitted = b.tokens >= 1.0;
    if (a.admitted) {
        b.tokens -= 1.0;
        ++_counts.rate_admitted;
    } else {
        a.retry_after_s = std::max<std::uint64_t>(1, ceil_div_ms_to_s((1.0 - b.tokens) / per_ms));
    }
    a.remaining = std::uint64_t(b.tokens);
    a.reset_s = ceil_div_ms_to_s((double(limit.burst) - b.tokens) / per_ms);
    return a;
}

void add_injected_collector(metrics::core_metrics& metrics, const steering& core_steering) {
    metrics.add_collector([&core_steering](metrics::sample_sink& out) {
        const injected_counters& seen = core_steering.counts();
        out.counter("ringkv_injected_delays_total", "Responses held back by a rule's latency.", seen.delays);
        out.seconds_counter("ringkv_injected_delay_seconds_total",
                            "Time responses were held back by rules' latencies, as drawn.", seen.delay_us_total);
        for (std::size_t kind = 1; kind < fault_kinds; ++kind) {  // 0 is none
            out.counter("ringkv_injected_faults_total", "Faults injected by rules, by kind.", seen.faults[kind],
                        metrics::label("kind", fault_name(fault_kind(kind))));
        }
        out.counter("ringkv_rate_limited_requests_total", "Requests answered 429 by a rule's rate limit.",
                    seen.rate_limited);
        out.counter("ringkv_rate_admitted_requests_total", "Requests a rule's rate limit let through.",
                    seen.rate_admitted);
        out.counter("ringkv_rate_table_full_total",
                    "Requests of a new token let through uncounted: this core's bucket table was full.",
                    seen.rate_table_full);
    });
}

}  // namespace ringkv::control

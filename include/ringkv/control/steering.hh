#pragma once
// One core's steering state: its compiled, immutable copy of the rule list
// (swapped whole when the list is replaced), the counters of what it
// injected, and its share of the rate-limit buckets (those of the tokens
// that hash to it, so each token's bucket lives on exactly one core and
// counts every request of that token, whichever core received it).
// Written only by its own core; other cores reach it by message.

#include <ringkv/base/string_hash.hh>
#include <ringkv/control/rules.hh>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ringkv::metrics {
class core_metrics;
}

namespace ringkv::control {

// Buckets one core holds (one per limited token and rule). At the bound,
// buckets that have refilled to full are dropped (a full bucket is the same
// as none); if none has, a new token's request is admitted uncounted
// (counted in injected_counters::rate_table_full): the mock never refuses a
// tenant for want of room.
inline constexpr std::size_t buckets_max = 65'536;
// Looking for refilled buckets walks the whole table (buckets_max entries),
// so a core at the bound does it at most once per this many ms; in between,
// new tokens are admitted uncounted (rate_table_full) without a walk.
inline constexpr std::uint64_t bucket_scan_interval_ms = 100;

// What this core injected (for /metrics), kept across rule changes.
struct injected_counters {
    std::uint64_t delays = 0;
    std::uint64_t delay_us_total = 0;
    std::array<std::uint64_t, fault_kinds> faults{};  // by fault_kind
    std::uint64_t rate_limited = 0;    // answered 429
    std::uint64_t rate_admitted = 0;   // a limited token's request let through
    std::uint64_t rate_table_full = 0;
};

struct rule_counters {
    std::uint64_t matched = 0;   // the rule was the first to match
    std::uint64_t applied = 0;   // ... and its probability drew it
    std::uint64_t delayed = 0;
    std::uint64_t faulted = 0;
    std::uint64_t limited = 0;   // answered 429 by its rate limit
};

// One core's copy of a rule list; immutable but for its counters.
class rule_table {
public:
    rule_table(std::uint32_t generation, std::vector<rule_spec> rules)
        : _generation(generation), _rules(std::move(rules)), _counters(_rules.size()) {}
    std::uint32_t generation() const { return _generation; }
    const std::vector<rule_spec>& rules() const { return _rules; }
    std::vector<rule_counters>& counters() { return _counters; }
    const std::vector<rule_counters>& counters() const { return _counters; }

private:
    const std::uint32_t _generation;
    const std::vector<rule_spec> _rules;
    std::vector<rule_counters> _counters;
};

// A rate-limit verdict and the numbers of its x-ratelimit-* headers.
struct admission {
    bool admitted = true;
    std::uint64_t limit = 0;
    std::uint64_t remaining = 0;
    std::uint64_t reset_s = 0;        // until the bucket is full again
    std::uint64_t retry_after_s = 0;  // refused: until one request fits
};

class steering {
public:
    explicit steering(std::uint64_t random_seed) : _random(random_seed) {}

    // This core's steering (set by app/ at start-up, like api::core_state).
    static steering& local();
    static void set_local(steering* state);

    // "What applies?": asked once per request. With no rules it is one
    // null test.
    // Whether any rule is installed: the api builds request_facts only then.
    bool active() const { return _table != nullptr; }
    decision decide(const request_facts& facts, std::uint64_t now_ms) {
        if (_table == nullptr) [[likely]] return {};
        return decide_by_table(facts, now_ms);
    }
    // Takes the list as this core's table unless the core already has the
    // same or a newer generation (two replacements racing end the same on
    // every core: the newest). An empty list leaves no table.
    void install(std::uint32_t generation, const std::vector<rule_spec>& rules);
    std::uint32_t generation() const { return _generation; }
    const rule_table* table() const { return _table.get(); }
    // The rule a decision names, while its list is still this core's.
    const rule_spec* rule(const decision& d) const;
    // Counts a 429 on the rule (on the core that received the request).
    void count_limited(const decision& d);

    // The core that holds a token's buckets.
    static unsigned bucket_core(std::string_view token, unsigned cores);
    // On bucket_core(token): takes one request from the token's bucket of
    // that rule. A decision made under another generation than this core's
    // (a replacement passing through) is admitted uncounted.
    admission admit(std::uint32_t generation, std::uint16_t rule, const rate_limit_spec& limit, std::string_view token,
                    std::uint64_t now_ms);

    // Core 0's only: the list as last replaced, and the number of the last
    // replacement. Every change is made here first, so changes racing from
    // different cores are ordered, and the newest generation wins on every
    // core (install() ignores an older one arriving late).
    struct keeper {
        std::uint32_t generation = 0;
        std::vector<rule_spec> rules;
    };
    keeper& kept() { return _keeper; }

    injected_counters& counts() { return _counts; }
    const injected_counters& counts() const { return _counts; }

private:
    struct bucket {
        double tokens = 0;
        std::uint64_t updated_ms = 0;
    };
    using token_buckets = std::unordered_map<std::string, bucket, base::string_hash, std::equal_to<>>;

    decision decide_by_table(const request_facts& facts, std::uint64_t now_ms);
    void make_room(std::uint64_t now_ms);

    keeper _keeper;
    std::unique_ptr<rule_table> _table;
    std::uint32_t _generation = 0;
    std::uint64_t _random;  // SplitMix64 state for unseeded rules
    injected_counters _counts;
    std::vector<token_buckets> _buckets;  // by rule index, this generation
    std::size_t _bucket_count = 0;
    std::uint64_t _next_scan_ms = 0;  // make_room() waits until then (bucket_scan_interval_ms)
};

// At start-up, on the steering's own core: reports its injected_counters
// at every scrape (ringkv_injected_delays_total,
// ringkv_injected_faults_total{kind}, ringkv_rate_limited_requests_total,
// ringkv_rate_admitted_requests_total, ringkv_rate_table_full_total).
void add_injected_collector(metrics::core_metrics& metrics, const steering& core_steering);

}  // namespace ringkv::control

#pragma once
// Steering rules (docs/CONTROL.md, "Steering"): what a rule matches, what it
// does to the requests it matches (latency, a fault, a rate limit), and what
// the api gets back when it asks, once per request, "what applies?".
//
// A rule_spec is the decoded rule, as given. Each core compiles the list
// into its own immutable rule_table (steering.hh) and swaps it in when the
// list is replaced; the api only ever sees a decision, plain numbers it
// keeps in the request's scratch.

#include <ringkv/metrics/requests.hh>
#include <ringkv/net/http/request.hh>
#include <ringkv/store/uuid.hh>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringkv::control {

// Rules in one list: matching is a walk down the list (first match wins), so
// the bound is also the most a request pays when nothing matches.
inline constexpr std::size_t rules_max = 1000;
// An injected delay is cut here, whatever the distribution draws (a pareto
// tail is unbounded): ten minutes, past any client's patience.
inline constexpr std::uint64_t delay_ms_max = 600'000;
// Text bounds in a rule: a name, a token or key prefix to match, a detail.
inline constexpr std::size_t name_bytes_max = 256;
inline constexpr std::size_t token_bytes_max = 4096;
inline constexpr std::size_t key_prefix_bytes_max = 256;
inline constexpr std::size_t detail_bytes_max = 1024;
// A rule that never expires.
inline constexpr std::uint64_t never_ms = UINT64_MAX;

// Routes by name: the metrics' routes and names (metrics::name_of), so a
// rule names a route exactly as /metrics does.
using route_kind = metrics::route;
// The routes a rule may name: the KV API's eight and `other` (the health
// check, the scrape and the control plane are never steered).
inline constexpr route_kind steerable_routes[] = {
    route_kind::create_namespace, route_kind::list_namespaces, route_kind::get_namespace,
    route_kind::delete_namespace, route_kind::put_key,         route_kind::get_key,
    route_kind::delete_key,       route_kind::list_keys,       route_kind::other,
};
std::string_view route_name(route_kind route);
// One of steerable_routes by its name; nullopt for any other name.
std::optional<route_kind> route_from_name(std::string_view name);

enum class distribution : std::uint8_t { none, fixed, uniform, normal, lognormal, pareto };
std::string_view distribution_name(distribution d);

// Only the fields of its distribution are used (and accepted in JSON).
struct latency_spec {
    control::distribution distribution = distribution::none;
    double ms = 0;                         // fixed
    double min_ms = 0, max_ms = 0;         // uniform
    double mean_ms = 0, stddev_ms = 0;     // normal (clamped at 0)
    double median_ms = 0, p99_ms = 0;      // lognormal
    double scale_ms = 0, shape = 0;        // pareto
};

enum class fault_kind : std::uint8_t { none, status, reset, close, hang, dribble, truncate };
inline constexpr std::size_t fault_kinds = 7;
std::string_view fault_name(fault_kind kind);

struct fault_spec {
    fault_kind kind = fault_kind::none;
    // false ("before"): the operation does not run; true ("after"): it runs
    // and its answer fails. dribble and truncate deliver the operation's
    // own answer, so they are always "after".
    bool after = false;
    int status = 500;                     // status
    std::uint32_t code = 0;               // status: Telnyx error code (0: by status)
    std::string detail;                   // status: empty: by status
    std::uint32_t bytes_per_second = 0;   // dribble
};

struct rate_limit_spec {
    std::uint64_t requests = 0;  // 0: no rate limit
    std::uint64_t per_ms = 0;
    std::uint64_t burst = 0;     // bucket size
    bool present() const { return requests != 0; }
};

struct match_spec {
    std::optional<route_kind> route;
    std::optional<net::http::method> method;
    std::optional<std::string> token;
    std::optional<store::uuid> namespace_id;
    std::optional<std::string> key_prefix;
};

struct rule_spec {
    std::string name;
    match_spec match;
    double probability = 1.0;
    latency_spec latency;
    fault_spec fault;
    rate_limit_spec rate_limit;
    std::optional<std::uint64_t> expires_after_ms;
    std::optional<std::uint64_t> seed;
    // On ringkv's clock: set once, when the rule is first installed (a rule
    // kept by a later POST keeps its instant).
    std::uint64_t expires_at_ms = never_ms;
};

// What a rule can match, as the api knows it after authentication.
struct request_facts {
    route_kind route = route_kind::other;
    net::http::method method = net::http::method::other;
    std::string_view token;
    const store::uuid* namespace_id = nullptr;  // null: the route has none
    std::string_view key;                       // empty: the route has none
    // The request's number on its connection (0 for the first): a seeded
    // rule draws from (seed, rule, this), so the same request sequence on a
    // connection gets the same faults and delays.
    std::uint64_t connection_request = 0;
};

// The answer to "what applies?": plain numbers, trivially copyable, kept in
// the request's scratch. A status fault's code and detail are looked up by
// (generation, rule) when the answer is written.
struct decision {
    static constexpr std::uint16_t no_rule = UINT16_MAX;
    std::uint32_t generation = 0;
    std::uint16_t rule = no_rule;
    fault_kind fault = fault_kind::none;
    bool fault_after = false;
    bool rate_limited = false;   // the rule has a rate limit: ask its bucket
    std::uint32_t delay_us = 0;  // 0: none

    bool matched() const { return rule != no_rule; }
};

// The random numbers of one decision: a SplitMix64 stream. Seeded rules
// start it from (seed, rule index, request number); others from the core's
// own generator.
class random_stream {
public:
    explicit random_stream(std::uint64_t state) : _state(state) {}
    std::uint64_t next();
    // Uniform in (0, 1]: never 0, so logarithms and powers stay finite.
    double unit();

private:
    std::uint64_t _state;
};

// One delay drawn from the distribution, in ms, clamped to [0, delay_ms_max].
double sample_ms(const latency_spec& latency, random_stream& random);

// Whether the rule matches the request (not counting probability).
bool matches(const rule_spec& rule, const request_facts& facts, std::uint64_t now_ms);

}  // namespace ringkv::control

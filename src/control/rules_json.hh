#pragma once
// Rules to and from JSON (docs/CONTROL.md, "Steering"). The decoder is
// strict: an unknown or repeated member, a value of the wrong type or out of
// range, an impossible distribution (p99 below the median, negative times)
// or a probability outside [0, 1] is an error naming the member by its JSON
// pointer, which the routes answer 422 with source.pointer.

#include "json.hh"

#include <ringkv/control/rules.hh>
#include <ringkv/control/steering.hh>

#include <string>
#include <variant>
#include <vector>

namespace ringkv::control {

struct field_error {
    std::string pointer;  // "/0/latency/p99_ms"; "" for the whole body
    std::string detail;
};

// A rule list: a JSON array of at most rules_max rules.
std::variant<std::vector<rule_spec>, field_error> decode_rules(const json::value& root);
// One rule; `pointer` is where it sits in the body ("" for a whole body).
std::variant<rule_spec, field_error> decode_rule(const json::value& rule, const std::string& pointer);

// A rule as given, plus its counters and the time it has left.
void encode_rule(const rule_spec& rule, const rule_counters& counted, std::uint64_t now_ms, std::string& out);

}  // namespace ringkv::control

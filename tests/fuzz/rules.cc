// The steering rule decoder (src/control/json.*, src/control/rules_json.*):
// what PUT/POST /_ringkv/rules and --rules FILE read.
//
// Input: [mode 1][bytes...]
//   mode 0: the bytes are a body. Oracles: parse and decode are
//     deterministic; an error names a JSON pointer ("" or "/...") and says
//     why; an accepted list holds at most rules_max rules, each inside its
//     bounds (probability in [0, 1], p99 >= median, ...); encoding an
//     accepted rule and decoding that again gives the same encoding (GET's
//     answer can be PUT back).
//   mode 1: the bytes wrapped in a rule skeleton at a place the input picks
//     (so the fuzzer spends its time inside rules, not on JSON syntax).
#include "common.hh"

#include "control/json.hh"
#include "control/rules_json.hh"

#include <cmath>
#include <string>

namespace {

using namespace ringkv::control;
using ringkv::fuzz::input_reader;

void check_bounds(const rule_spec& r) {
    RINGKV_FUZZ_CHECK(r.probability >= 0 && r.probability <= 1, "probability out of [0, 1]");
    const latency_spec& l = r.latency;
    for (const double ms : {l.ms, l.min_ms, l.max_ms, l.mean_ms, l.stddev_ms, l.median_ms, l.p99_ms, l.scale_ms}) {
        RINGKV_FUZZ_CHECK(std::isfinite(ms) && ms >= 0 && ms <= double(delay_ms_max), "a time out of bounds");
    }
    RINGKV_FUZZ_CHECK(l.max_ms >= l.min_ms, "uniform max below min");
    if (l.distribution == distribution::lognormal) RINGKV_FUZZ_CHECK(l.median_ms > 0 && l.p99_ms >= l.median_ms);
    if (l.distribution == distribution::pareto) RINGKV_FUZZ_CHECK(l.scale_ms > 0 && l.shape > 0);
    random_stream random(1);
    for (int i = 0; i < 4; ++i) {
        const double ms = sample_ms(l, random);
        RINGKV_FUZZ_CHECK(ms >= 0 && ms <= double(delay_ms_max), "a draw out of bounds");
    }
    if (r.fault.kind == fault_kind::status) RINGKV_FUZZ_CHECK(r.fault.status >= 400 && r.fault.status <= 599);
    if (r.fault.kind == fault_kind::dribble) RINGKV_FUZZ_CHECK(r.fault.bytes_per_second >= 1 && r.fault.after);
    if (r.fault.kind == fault_kind::truncate) RINGKV_FUZZ_CHECK(r.fault.after);
    if (r.rate_limit.present()) RINGKV_FUZZ_CHECK(r.rate_limit.per_ms >= 1 && r.rate_limit.burst >= 1);
    RINGKV_FUZZ_CHECK(r.name.size() <= name_bytes_max);
    if (r.match.token) RINGKV_FUZZ_CHECK(!r.match.token->empty() && r.match.token->size() <= token_bytes_max);
}

std::string encoded(const rule_spec& r) {
    std::string out;
    encode_rule(r, rule_counters{}, 0, out);
    return out;
}

void check_body(std::string_view text) {
    const json::parsed parsed = json::parse(text);
    RINGKV_FUZZ_CHECK(bool(parsed.root) == bool(json::parse(text).root), "parse is not deterministic");
    if (!parsed.root) {
        RINGKV_FUZZ_CHECK(!parsed.error.empty(), "a refusal without a reason");
        return;
    }
    auto decoded = decode_rules(*parsed.root);
    if (auto* e = std::get_if<field_error>(&decoded)) {
        RINGKV_FUZZ_CHECK(e->pointer.empty() || e->pointer[0] == '/', e->pointer);
        RINGKV_FUZZ_CHECK(!e->detail.empty(), "an error without a detail");
        auto again = decode_rules(*parsed.root);
        RINGKV_FUZZ_CHECK(std::holds_alternative<field_error>(again) && std::get<field_error>(again).pointer == e->pointer,
                          "decode is not deterministic");
        return;
    }
    const auto& rules = std::get<std::vector<rule_spec>>(decoded);
    RINGKV_FUZZ_CHECK(rules.size() <= rules_max);
    for (const rule_spec& r : rules) {
        check_bounds(r);
        const std::string first = encoded(r);
        json::parsed back = json::parse(first);
        RINGKV_FUZZ_CHECK(bool(back.root), first);
        std::erase_if(back.root->members, [](const auto& m) { return m.first == "counters" || m.first == "expires_in_ms"; });
        auto redecoded = decode_rule(*back.root, "");
        RINGKV_FUZZ_CHECK(std::holds_alternative<rule_spec>(redecoded), first);
        RINGKV_FUZZ_CHECK(encoded(std::get<rule_spec>(redecoded)) == first, first);
    }
}

void check_in_skeleton(input_reader& in) {
    static constexpr const char* skeletons[] = {
        R"([{"match":{"route":@}}])",
        R"([{"match":@}])",
        R"([{"latency":{"distribution":"lognormal","median_ms":@,"p99_ms":20}}])",
        R"([{"latency":{"distribution":@}}])",
        R"([{"latency":@}])",
        R"([{"fault":{"kind":"status","status":503,@}}])",
        R"([{"fault":@}])",
        R"([{"rate_limit":{"requests":10,@}}])",
        R"([{"probability":@,"seed":7}])",
        R"([{"name":"x",@}])",
        R"([@])",
    };
    const std::string skeleton = skeletons[in.choose(std::size(skeletons))];
    const std::size_t at = skeleton.find('@');
    check_body(skeleton.substr(0, at) + std::string(in.rest()) + skeleton.substr(at + 1));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t bytes) {
    input_reader in(data, bytes);
    if (in.choose(2) == 0) {
        check_body(in.rest());
    } else {
        check_in_skeleton(in);
    }
    return 0;
}

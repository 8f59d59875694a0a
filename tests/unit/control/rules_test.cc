// The steering rules: the strict JSON reader, the rule decoder's errors
// (each naming its field), the distributions, first-match-wins with
// probability and seeds, and the rate-limit buckets.
#include "control/json.hh"
#include "control/rules_json.hh"

#include <ringkv/control/rules.hh>
#include <ringkv/control/steering.hh>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace ringkv::control {
namespace {

field_error error_of(const std::string& body) {
    const json::parsed parsed = json::parse(body);
    EXPECT_TRUE(parsed.root) << parsed.error;
    if (!parsed.root) return {};
    auto decoded = decode_rules(*parsed.root);
    EXPECT_TRUE(std::holds_alternative<field_error>(decoded)) << body;
    return std::holds_alternative<field_error>(decoded) ? std::get<field_error>(decoded) : field_error{};
}

std::vector<rule_spec> rules_of(const std::string& body) {
    const json::parsed parsed = json::parse(body);
    EXPECT_TRUE(parsed.root) << parsed.error;
    auto decoded = decode_rules(*parsed.root);
    if (auto* e = std::get_if<field_error>(&decoded)) {
        ADD_FAILURE() << e->pointer << ": " << e->detail;
        return {};
    }
    return std::get<std::vector<rule_spec>>(decoded);
}

TEST(json_reader, strict_rfc8259) {
    for (const char* bad : {"", " ", "[1,]", "{\"a\":1,}", "01", "1.", ".5", "+1", "[1] x", "'a'", "{a:1}", "\"\\x\"",
                            "\"\\ud800\"", "\"\\udc00\"", "\"\xff\"", "\"\xc0\x80\"", "nul", "[", "{\"a\" 1}", "\"a\tb\"",
                            "1e", "-", "[1 2]"}) {
        EXPECT_FALSE(json::parse(bad).root) << bad;
    }
    const json::parsed ok = json::parse(R"( {"a":[1,2.5e3,-0,true,false,null,"\u00e9\ud83d\ude00"]} )");
    ASSERT_TRUE(ok.root) << ok.error;
    const json::value* a = ok.root->find("a");
    ASSERT_TRUE(a && a->items.size() == 7);
    EXPECT_EQ(a->items[0].integer(), 1);
    EXPECT_FALSE(a->items[1].integer());
    EXPECT_EQ(a->items[1].number, 2500);
    EXPECT_EQ(a->items[6].text, "\xc3\xa9\xf0\x9f\x98\x80");
}

// Past a double's range: too small reads as 0 however it is written (an
// exponent, a long decimal, both); too large as infinity (which the
// decoders refuse), even with a negative exponent.
TEST(json_reader, underflow_reads_as_zero_and_overflow_as_infinity) {
    const auto number_of = [](const std::string& text) {
        const json::parsed parsed = json::parse(text);
        EXPECT_TRUE(parsed.root) << text << ": " << parsed.error;
        return parsed.root ? parsed.root->number : std::nan("");
    };
    const std::string zeros(400, '0');
    const std::vector<std::string> tiny = {"1e-400", "-1e-400", "0." + zeros + "1", "-0." + zeros + "1",
                                           "0." + zeros + "1e3", "0.0001e-330", "1" + zeros + "e-800",
                                           "0." + zeros + "1e+10", "1e-99999999999999999999"};
    for (const std::string& text : tiny) EXPECT_EQ(number_of(text), 0.0) << text;
    const std::vector<std::string> huge = {"1e400", "1" + zeros, "1" + zeros + "e-10", "0.001e312",
                                           "9e99999999999999999999"};
    for (const std::string& text : huge) {
        EXPECT_EQ(number_of(text), HUGE_VAL) << text;
        EXPECT_EQ(number_of("-" + text), -HUGE_VAL) << text;
    }
    EXPECT_EQ(number_of("0." + zeros + "1e400"), 1e-1);  // in range once scaled: read exactly
    EXPECT_EQ(number_of("1e-310"), 1e-310);              // subnormal, still in range
    // Through the decoder: a tiny delay is no delay; a huge one is refused.
    EXPECT_EQ(rules_of(R"([{"latency":{"distribution":"fixed","ms":0.)" + zeros + "1}}]")[0].latency.ms, 0.0);
    EXPECT_EQ(rules_of(R"([{"latency":{"distribution":"fixed","ms":1e-400}}])")[0].latency.ms, 0.0);
    EXPECT_EQ(error_of(R"([{"latency":{"distribution":"fixed","ms":1)" + zeros + "e-10}}]").detail, "must be a number");
}

// Range messages print whole bounds as integers.
TEST(rule_decoder, range_messages_print_integers_as_integers) {
    const field_error too_long = error_of(R"([{"latency":{"distribution":"fixed","ms":600001}}])");
    EXPECT_EQ(too_long.detail, "must be from 0 to " + std::to_string(delay_ms_max)) << too_long.detail;
    EXPECT_EQ(too_long.detail.find("e+"), std::string::npos) << too_long.detail;
    EXPECT_EQ(error_of(R"([{"probability":1.5}])").detail, "must be from 0 to 1");
    EXPECT_EQ(error_of(R"([{"latency":{"distribution":"pareto","scale_ms":5,"shape":1001}}])").detail,
              "must be from 0 to 1000");
}

TEST(json_reader, nesting_and_size_are_bounded) {
    std::string deep(json::depth_max, '[');
    deep += std::string(json::depth_max, ']');
    EXPECT_TRUE(json::parse(deep).root);
    std::string deeper(json::depth_max + 1, '[');
    deeper += std::string(json::depth_max + 1, ']');
    EXPECT_FALSE(json::parse(deeper).root);
    std::string many = "[";
    for (std::size_t i = 0; i < json::values_max; ++i) many += "0,";
    many += "0]";
    EXPECT_FALSE(json::parse(many).root);
}

TEST(rule_decoder, a_full_rule_round_trips) {
    const auto rules = rules_of(R"([{"name":"slow-gets",
        "match":{"route":"get_key","method":"GET","token":"tok-a","namespace":"0b4a3a36-1a3e-4c2e-9d7a-6b1f2f0c9e11",
                 "key_prefix":"user/"},
        "probability":0.5,"latency":{"distribution":"lognormal","median_ms":20,"p99_ms":250},
        "fault":null,"rate_limit":{"requests":10,"per_ms":1000},"expires_after_ms":60000,"seed":42}])");
    ASSERT_EQ(rules.size(), 1u);
    const rule_spec& r = rules[0];
    EXPECT_EQ(r.name, "slow-gets");
    EXPECT_EQ(r.match.route, route_kind::get_key);
    EXPECT_EQ(r.match.method, net::http::method::get);
    EXPECT_EQ(r.match.token, "tok-a");
    EXPECT_EQ(r.match.key_prefix, "user/");
    EXPECT_EQ(r.probability, 0.5);
    EXPECT_EQ(r.latency.distribution, distribution::lognormal);
    EXPECT_EQ(r.rate_limit.burst, 10u);  // defaults to requests
    EXPECT_EQ(r.seed, 42u);
    std::string out;
    encode_rule(r, rule_counters{}, 0, out);
    // What GET lists can be PUT back (counters and time left aside).
    const json::parsed back = json::parse(out);
    ASSERT_TRUE(back.root) << out;
    json::value listed = *back.root;
    std::erase_if(listed.members, [](const auto& m) { return m.first == "counters" || m.first == "expires_in_ms"; });
    json::value list;
    list.type = json::type::array;
    list.items.push_back(listed);
    auto again = decode_rules(list);
    ASSERT_TRUE(std::holds_alternative<std::vector<rule_spec>>(again)) << out;
    EXPECT_EQ(std::get<0>(again)[0].match.namespace_id, r.match.namespace_id);
    EXPECT_EQ(std::get<0>(again)[0].latency.p99_ms, 250);
}

// The rules read and write routes and methods by the metrics' own names
// (metrics::name_of), the one table /metrics, /_ringkv/stats and the
// journal print: each name the metrics use is a rule's name for the same
// route or method, or refused when rules cannot match it.
TEST(rule_decoder, routes_and_methods_are_named_as_the_metrics_name_them) {
    for (std::size_t i = 0; i < metrics::route_count; ++i) {
        const auto route = metrics::route(i);
        const std::string name(metrics::name_of(route));
        const bool steerable = std::find(std::begin(steerable_routes), std::end(steerable_routes), route) !=
                               std::end(steerable_routes);
        const std::string body = R"([{"match":{"route":")" + name + R"("}}])";
        if (!steerable) {
            const field_error e = error_of(body);
            EXPECT_EQ(e.pointer, "/0/match/route") << name;
            EXPECT_EQ(e.detail, "must be one of create_namespace, list_namespaces, get_namespace, delete_namespace, "
                                "put_key, get_key, delete_key, list_keys, other");
            continue;
        }
        const auto rules = rules_of(body);
        ASSERT_EQ(rules.size(), 1u) << name;
        EXPECT_EQ(rules[0].match.route, route) << name;
        std::string out;
        encode_rule(rules[0], rule_counters{}, 0, out);
        EXPECT_NE(out.find(R"("route":")" + name + '"'), std::string::npos) << out;
    }
    EXPECT_EQ(std::size(steerable_routes), 9u);  // the KV API's eight and other
    std::size_t steerable_methods = 0;
    for (std::size_t i = 0; i < metrics::method_count; ++i) {
        const std::string name(metrics::name_of(metrics::method(i)));
        const std::string body = R"([{"match":{"method":")" + name + R"("}}])";
        if (name == "CONNECT" || name == "OTHER") {
            const field_error e = error_of(body);
            EXPECT_EQ(e.pointer, "/0/match/method") << name;
            EXPECT_EQ(e.detail, "must be GET, HEAD, POST, PUT or DELETE");
            continue;
        }
        ++steerable_methods;
        const auto rules = rules_of(body);
        ASSERT_EQ(rules.size(), 1u) << name;
        EXPECT_EQ(std::uint8_t(*rules[0].match.method), i) << name;
        std::string out;
        encode_rule(rules[0], rule_counters{}, 0, out);
        EXPECT_NE(out.find(R"("method":")" + name + '"'), std::string::npos) << out;
    }
    EXPECT_EQ(steerable_methods, 5u);
}

TEST(rule_decoder, bad_fields_are_named) {
    const struct {
        const char* body;
        const char* pointer;
    } cases[] = {
        {R"({})", ""},
        {R"([{"nmae":"x"}])", "/0/nmae"},
        {R"([{}, {"match":{"route":"get_keys"}}])", "/1/match/route"},
        {R"([{"match":{"method":"get"}}])", "/0/match/method"},
        {R"([{"match":{"namespace":"not-a-uuid"}}])", "/0/match/namespace"},
        {R"([{"match":{"token":""}}])", "/0/match/token"},
        {R"([{"match":{"colour":"red"}}])", "/0/match/colour"},
        {R"([{"match":[]}])", "/0/match"},
        {R"([{"probability":1.5}])", "/0/probability"},
        {R"([{"probability":-0.1}])", "/0/probability"},
        {R"([{"probability":"1"}])", "/0/probability"},
        {R"([{"latency":{"distribution":"lognormal","median_ms":50,"p99_ms":20}}])", "/0/latency/p99_ms"},
        {R"([{"latency":{"distribution":"fixed","ms":-1}}])", "/0/latency/ms"},
        {R"([{"latency":{"distribution":"fixed","ms":1e400}}])", "/0/latency/ms"},
        {R"([{"latency":{"distribution":"fixed"}}])", "/0/latency/ms"},
        {R"([{"latency":{"distribution":"fixed","ms":5,"max_ms":6}}])", "/0/latency/max_ms"},
        {R"([{"latency":{"distribution":"uniform","min_ms":5,"max_ms":4}}])", "/0/latency/max_ms"},
        {R"([{"latency":{"distribution":"normal","mean_ms":5,"stddev_ms":-4}}])", "/0/latency/stddev_ms"},
        {R"([{"latency":{"distribution":"pareto","scale_ms":5,"shape":0}}])", "/0/latency/shape"},
        {R"([{"latency":{"distribution":"gamma"}}])", "/0/latency/distribution"},
        {R"([{"latency":{"ms":5}}])", "/0/latency/distribution"},
        {R"([{"fault":{"kind":"status","status":200}}])", "/0/fault/status"},
        {R"([{"fault":{"kind":"status"}}])", "/0/fault/status"},
        {R"([{"fault":{"kind":"status","status":503,"when":"during"}}])", "/0/fault/when"},
        {R"([{"fault":{"kind":"dribble","bytes_per_second":0}}])", "/0/fault/bytes_per_second"},
        {R"([{"fault":{"kind":"truncate","when":"before"}}])", "/0/fault/when"},
        {R"([{"fault":{"kind":"reset","status":500}}])", "/0/fault/status"},
        {R"([{"fault":{"kind":"explode"}}])", "/0/fault/kind"},
        {R"([{"rate_limit":{"requests":0,"per_ms":1000}}])", "/0/rate_limit/requests"},
        {R"([{"rate_limit":{"requests":10}}])", "/0/rate_limit/per_ms"},
        {R"([{"rate_limit":{"requests":10,"per_ms":1000,"burst":0.5}}])", "/0/rate_limit/burst"},
        {R"([{"expires_after_ms":0}])", "/0/expires_after_ms"},
        {R"([{"seed":-1}])", "/0/seed"},
        {R"([{"seed":1.0}])", "/0/seed"},
        {R"([{"name":"a","name":"b"}])", "/0/name"},
        {R"([{"a/b~c":1}])", "/0/a~1b~0c"},
    };
    for (const auto& c : cases) {
        const field_error e = error_of(c.body);
        EXPECT_EQ(e.pointer, c.pointer) << c.body << " -> " << e.detail;
        EXPECT_FALSE(e.detail.empty()) << c.body;
    }
    std::string too_many = "[";
    for (std::size_t i = 0; i <= rules_max; ++i) too_many += i == 0 ? "{}" : ",{}";
    EXPECT_EQ(error_of(too_many + "]").pointer, "");
}

TEST(distributions, draws_follow_their_parameters) {
    random_stream random(1);
    const auto draws = [&](const latency_spec& l) {
        std::vector<double> v;
        for (int i = 0; i < 20000; ++i) v.push_back(sample_ms(l, random));
        std::sort(v.begin(), v.end());
        return v;
    };
    latency_spec fixed{.distribution = distribution::fixed, .ms = 50};
    EXPECT_EQ(draws(fixed).front(), 50);
    latency_spec uniform{.distribution = distribution::uniform, .min_ms = 10, .max_ms = 20};
    auto u = draws(uniform);
    EXPECT_GE(u.front(), 10);
    EXPECT_LT(u.back(), 20);
    EXPECT_NEAR(u[10000], 15, 0.3);
    latency_spec normal{.distribution = distribution::normal, .mean_ms = 5, .stddev_ms = 10};
    auto n = draws(normal);
    EXPECT_EQ(n.front(), 0);  // clamped at 0
    EXPECT_NEAR(n[10000], 5, 0.5);
    latency_spec lognormal{.distribution = distribution::lognormal, .median_ms = 20, .p99_ms = 250};
    auto l = draws(lognormal);
    EXPECT_NEAR(l[10000], 20, 1.5);
    EXPECT_NEAR(l[19800], 250, 40);
    latency_spec pareto{.distribution = distribution::pareto, .scale_ms = 10, .shape = 2};
    auto p = draws(pareto);
    EXPECT_GE(p.front(), 10);
    EXPECT_NEAR(p[10000], 10 * std::sqrt(2.0), 0.5);  // median = scale * 2^(1/shape)
    EXPECT_LE(p.back(), double(delay_ms_max));
}

request_facts get_of(std::string_view token, std::uint64_t n = 0) {
    request_facts f;
    f.route = route_kind::get_key;
    f.method = net::http::method::get;
    f.token = token;
    f.key = "user/1";
    f.connection_request = n;
    return f;
}

TEST(steering, no_rules_no_decision_and_first_match_wins) {
    steering s(7);
    EXPECT_FALSE(s.decide(get_of("a"), 0).matched());
    s.install(1, rules_of(R"([{"match":{"token":"b"},"fault":{"kind":"reset"}},
                             {"match":{"key_prefix":"user/"},"latency":{"distribution":"fixed","ms":50}},
                             {"fault":{"kind":"close"}}])"));
    decision d = s.decide(get_of("a"), 0);
    EXPECT_EQ(d.rule, 1);
    EXPECT_EQ(d.delay_us, 50'000u);
    EXPECT_EQ(d.fault, fault_kind::none);
    d = s.decide(get_of("b"), 0);
    EXPECT_EQ(d.fault, fault_kind::reset);
    request_facts list = get_of("a");
    list.route = route_kind::list_keys;
    list.key = {};
    EXPECT_EQ(s.decide(list, 0).fault, fault_kind::close);
    EXPECT_EQ(s.counts().delays, 1u);
    EXPECT_EQ(s.counts().faults[std::size_t(fault_kind::reset)], 1u);
    // An older generation arriving late does not replace a newer one.
    s.install(1, {});
    EXPECT_TRUE(s.decide(get_of("a"), 0).matched());
    s.install(2, {});
    EXPECT_FALSE(s.decide(get_of("a"), 0).matched());
}

TEST(steering, expired_rules_do_not_match) {
    steering s(7);
    auto rules = rules_of(R"([{"expires_after_ms":100,"fault":{"kind":"close"}}])");
    rules[0].expires_at_ms = 1100;
    s.install(1, rules);
    EXPECT_TRUE(s.decide(get_of("a"), 1099).matched());
    EXPECT_FALSE(s.decide(get_of("a"), 1100).matched());
}

TEST(steering, seeded_probability_is_repeatable_and_near_its_rate) {
    const auto run = [](std::uint64_t seed) {
        steering s(seed * 31 + 5);  // the core's own generator differs; the rule's seed decides
        s.install(1, rules_of(R"([{"probability":0.1,"seed":42,"fault":{"kind":"status","status":503}}])"));
        std::vector<bool> faults;
        for (std::uint64_t n = 0; n < 3000; ++n) faults.push_back(s.decide(get_of("a", n), 0).fault == fault_kind::status);
        return faults;
    };
    const auto first = run(1), second = run(2);
    EXPECT_EQ(first, second);
    const auto count = std::count(first.begin(), first.end(), true);
    EXPECT_GE(count, 240);
    EXPECT_LE(count, 360);
}

TEST(steering, token_bucket_admits_burst_then_rate) {
    steering s(7);
    s.install(1, rules_of(R"([{"rate_limit":{"requests":1000,"per_ms":1000,"burst":100}}])"));
    const rate_limit_spec limit = s.table()->rules()[0].rate_limit;
    std::uint64_t admitted = 0;
    admission last;
    for (int i = 0; i < 150; ++i) {
        last = s.admit(1, 0, limit, "tok", 5000);
        admitted += last.admitted;
    }
    EXPECT_EQ(admitted, 100u);
    EXPECT_FALSE(last.admitted);
    EXPECT_EQ(last.remaining, 0u);
    EXPECT_EQ(last.retry_after_s, 1u);
    EXPECT_EQ(last.limit, 1000u);
    // 1 request per ms: 2 seconds later, 2,000 more, capped at the burst.
    for (std::uint64_t ms = 5001; ms <= 7000; ++ms) {
        for (int i = 0; i < 3; ++i) admitted += s.admit(1, 0, limit, "tok", ms).admitted;
    }
    EXPECT_EQ(admitted, 2100u);
    // Another token has its own bucket.
    EXPECT_TRUE(s.admit(1, 0, limit, "other", 7000).admitted);
    // A decision of another generation passes uncounted.
    EXPECT_TRUE(s.admit(9, 0, limit, "tok", 7000).admitted);
}

TEST(steering, a_full_bucket_table_is_walked_at_most_once_per_interval) {
    steering s(7);
    s.install(1, rules_of(R"([{"rate_limit":{"requests":1,"per_ms":50,"burst":1}}])"));
    const rate_limit_spec limit = s.table()->rules()[0].rate_limit;
    for (std::size_t i = 0; i < buckets_max; ++i) ASSERT_TRUE(s.admit(1, 0, limit, "t" + std::to_string(i), 1000).admitted);
    // Full, and no bucket has refilled: the walk frees nothing.
    EXPECT_TRUE(s.admit(1, 0, limit, "new-a", 1000).admitted);
    EXPECT_EQ(s.counts().rate_table_full, 1u);
    // At 1050 every bucket has refilled, but the last walk was too recent:
    // the new token passes uncounted, without a walk.
    EXPECT_TRUE(s.admit(1, 0, limit, "new-b", 1000 + bucket_scan_interval_ms / 2).admitted);
    EXPECT_EQ(s.counts().rate_table_full, 2u);
    // An interval later the walk runs and frees the refilled buckets: counted again.
    const std::uint64_t later_ms = 1000 + bucket_scan_interval_ms;
    EXPECT_TRUE(s.admit(1, 0, limit, "new-c", later_ms).admitted);
    EXPECT_EQ(s.counts().rate_table_full, 2u);
    EXPECT_FALSE(s.admit(1, 0, limit, "new-c", later_ms).admitted);  // its bucket is real: one per 50 ms
}

}  // namespace
}  // namespace ringkv::control

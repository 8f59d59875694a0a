// ringkv-bench's pure parts (the histogram is tested in tests/unit/metrics):
// the zipfian distribution's shape, mixes, sizes, the open-loop schedule and
// how --tokens spreads connections over organizations, and the reading of
// the server's stats that --server-stats prints.
#include "loadgen/report.hh"

#include <ringkv/loadgen/options.hh>
#include <ringkv/loadgen/workload.hh>
#include <ringkv/metrics/core_metrics.hh>
#include <ringkv/metrics/snapshot.hh>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace ringkv::loadgen {
namespace {

TEST(zipfian, skew_of_one_and_above_work_too) {
    std::mt19937_64 random(2);
    for (double skew : {1.0, 1.5}) {
        const zipfian z(1000, skew);
        std::vector<int> counts(1000, 0);
        for (int i = 0; i < 200'000; ++i) ++counts[z.next(random)];
        EXPECT_NEAR(double(counts[0]) / counts[1], std::pow(2.0, skew), 0.1 * std::pow(2.0, skew)) << skew;
    }
}

TEST(zipfian, follows_the_power_law) {
    constexpr std::uint64_t n = 100;
    constexpr double skew = 0.99;
    const zipfian z(n, skew);
    std::mt19937_64 random(11);
    std::vector<double> counts(n, 0);
    constexpr int samples = 2'000'000;
    for (int i = 0; i < samples; ++i) counts[z.next(random)] += 1;
    double norm = 0;
    for (std::uint64_t k = 1; k <= n; ++k) norm += 1.0 / std::pow(double(k), skew);
    // Chi-square against the law over all 100 ranks (99 degrees of freedom:
    // the 99.9% critical value is 148.2).
    double chi_square = 0;
    for (std::uint64_t k = 0; k < n; ++k) {
        const double expected = samples / std::pow(double(k + 1), skew) / norm;
        chi_square += (counts[k] - expected) * (counts[k] - expected) / expected;
    }
    EXPECT_LT(chi_square, 148.2);
    EXPECT_GT(counts[0], counts[10] * 5);
}

TEST(key_chooser, uniform_and_skewed_stay_in_range) {
    std::mt19937_64 random(5);
    key_chooser uniform{1000, std::nullopt};
    key_chooser skewed{1000, zipfian(1000, 0.9)};
    std::vector<int> hits(1000, 0);
    for (int i = 0; i < 100'000; ++i) {
        ASSERT_LT(uniform.next(random), 1000u);
        const auto k = skewed.next(random);
        ASSERT_LT(k, 1000u);
        ++hits[k];
    }
    EXPECT_GT(*std::max_element(hits.begin(), hits.end()), 100'000 / 1000 * 20);  // a hot key
}

TEST(mix, parses_and_picks_by_weight) {
    auto m = mix::parse("get=90,put=10");
    ASSERT_TRUE(m);
    int puts = 0;
    for (std::uint64_t r = 0; r < 1000; ++r) puts += m->pick(r) == operation::put;
    EXPECT_EQ(puts, 100);
    EXPECT_TRUE(mix::parse("get=1,put=1,delete=1,list=1"));
    EXPECT_FALSE(mix::parse("get=90,post=10"));
    EXPECT_FALSE(mix::parse("get=0"));
    EXPECT_FALSE(mix::parse("get"));
    EXPECT_FALSE(mix::parse("get=x"));
}

TEST(size_range, fixed_and_ranges) {
    EXPECT_EQ(size_range::parse("64")->high, 64u);
    auto r = size_range::parse("100-200");
    ASSERT_TRUE(r);
    std::mt19937_64 random(1);
    for (int i = 0; i < 1000; ++i) {
        const auto v = r->next(random);
        ASSERT_GE(v, 100u);
        ASSERT_LE(v, 200u);
    }
    EXPECT_FALSE(size_range::parse("200-100"));
    EXPECT_FALSE(size_range::parse("0"));
    EXPECT_FALSE(size_range::parse("1k"));
}

TEST(schedule, open_loop_spreads_connections_and_keeps_the_rate) {
    // 4 connections sharing 1000 requests/s: each sends every 4 ms, offset by 1 ms.
    std::vector<std::uint64_t> due;
    for (unsigned c = 0; c < 4; ++c) {
        const schedule s = schedule::for_connection(1'000'000, 1000.0, 4, c);
        EXPECT_EQ(s.interval_ns, 4'000'000u);
        for (std::uint64_t i = 0; i < 250; ++i) due.push_back(s.due_ns(i));
    }
    std::sort(due.begin(), due.end());
    for (std::size_t i = 0; i < due.size(); ++i) ASSERT_EQ(due[i], 1'000'000 + i * 1'000'000) << i;  // one every ms
    // Due times do not depend on when earlier requests completed.
    const schedule s = schedule::for_connection(0, 1000.0, 1, 0);
    EXPECT_EQ(s.due_ns(1000), 1'000'000'000u);
    EXPECT_EQ(schedule::for_connection(5, 0, 4, 2).interval_ns, 0u);  // closed loop
}

// parse_options over a list of flags (argv[0] added).
std::variant<options, exit_now> parse(std::vector<std::string> flags) {
    flags.insert(flags.begin(), "ringkv-bench");
    std::vector<char*> argv;
    for (std::string& flag : flags) argv.push_back(flag.data());
    return parse_options(int(argv.size()), argv.data());
}

TEST(tokens, one_organization_keeps_the_token_as_given) {
    const auto parsed = parse({"--token", "abc"});
    ASSERT_TRUE(std::holds_alternative<options>(parsed));
    const options& o = std::get<options>(parsed);
    EXPECT_EQ(o.tokens, 1u);
    EXPECT_EQ(token_of(o, 0), "abc");
    for (unsigned c = 0; c < o.connections; ++c) EXPECT_EQ(organization_of(o, c), 0u);
}

TEST(tokens, connections_are_dealt_round_robin_and_every_organization_gets_one) {
    const auto parsed = parse({"--token", "org", "--tokens", "3", "--connections", "7", "--threads", "2"});
    ASSERT_TRUE(std::holds_alternative<options>(parsed));
    const options& o = std::get<options>(parsed);
    std::vector<unsigned> per_organization(o.tokens);
    for (unsigned c = 0; c < o.connections; ++c) ++per_organization[organization_of(o, c)];
    EXPECT_EQ(per_organization, (std::vector<unsigned>{3, 2, 2}));
    std::set<std::string> tokens;
    for (unsigned n = 0; n < o.tokens; ++n) tokens.insert(token_of(o, n));
    EXPECT_EQ(tokens, (std::set<std::string>{"org-0", "org-1", "org-2"}));
}

TEST(tokens, bad_counts_and_a_shared_namespace_are_refused) {
    const auto status = [](std::vector<std::string> flags) {
        const auto parsed = parse(std::move(flags));
        return std::holds_alternative<exit_now>(parsed) ? std::get<exit_now>(parsed).status : 0;
    };
    EXPECT_EQ(status({"--tokens", "0"}), 2);
    EXPECT_EQ(status({"--tokens", "-1"}), 2);
    EXPECT_EQ(status({"--tokens", "10001", "--connections", "20000"}), 2);
    EXPECT_EQ(status({"--tokens", "10000", "--connections", "10000"}), 0);
    EXPECT_EQ(status({"--tokens", "17", "--connections", "16"}), 2);  // an organization without a connection
    EXPECT_EQ(status({"--tokens", "2", "--namespace", "00000000-0000-4000-8000-000000000000"}), 2);
    EXPECT_EQ(status({"--tokens", "1", "--namespace", "00000000-0000-4000-8000-000000000000"}), 0);
}

// --server-stats reads what the server's stats route writes: the JSON comes
// from metrics::snapshot itself, so a renamed route or a reshaped field
// fails here rather than silently dropping the server's half of a report.
TEST(server_stats, reads_the_kv_routes_the_server_writes) {
    using metrics::method;
    using metrics::route;
    metrics::core_metrics a(0, 0), b(1, 0);
    for (int i = 0; i < 900; ++i) a.requests.record({route::get_key, method::get, 200, 40'000});
    for (int i = 0; i < 100; ++i) b.requests.record({route::get_key, method::get, 404, 3'000'000});
    for (int i = 0; i < 10; ++i) b.requests.record({route::put_key, method::put, 201, 70'000});
    b.requests.record({route::other, method::other, 400, 5'000});
    a.requests.record({route::admin, method::get, 200, 9'000});  // ringkv's own: left out
    metrics::snapshot s(metrics::snapshot::view::stats);
    s.add(a);
    s.add(b);

    const std::vector<server_route> routes = parse_server_stats(s.stats_json(1'000'000'000));
    ASSERT_EQ(routes.size(), 3u);
    EXPECT_EQ(routes[0].name, "get_key");
    EXPECT_EQ(routes[0].count, 1000u);
    EXPECT_NEAR(routes[0].latency_us[0], 40.0, 0.5);      // p50
    EXPECT_NEAR(routes[0].latency_us[2], 3'000.0, 30.0);  // p99
    EXPECT_NEAR(routes[0].latency_us[5], 3'000.0, 30.0);  // max
    EXPECT_EQ(routes[1].name, "put_key");
    EXPECT_EQ(routes[1].count, 10u);
    EXPECT_NEAR(routes[1].latency_us[0], 70.0, 0.7);
    EXPECT_EQ(routes[2].name, "other");
    EXPECT_EQ(routes[2].count, 1u);
}

TEST(server_stats, other_json_reads_as_no_routes) {
    EXPECT_TRUE(parse_server_stats("").empty());
    EXPECT_TRUE(parse_server_stats("{\"errors\":[{\"code\":\"10009\"}]}").empty());
    EXPECT_TRUE(parse_server_stats("{\"data\":{\"routes\":{\"get_key\":{\"count\":").empty());
}

}  // namespace
}  // namespace ringkv::loadgen

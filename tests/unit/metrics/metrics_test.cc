// metrics/: the log-linear histogram (shared with ringkv-bench), the
// per-core request metrics, and what a scrape renders from them.
#include <ringkv/metrics/core_metrics.hh>
#include <ringkv/metrics/histogram.hh>
#include <ringkv/metrics/requests.hh>
#include <ringkv/metrics/snapshot.hh>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace ringkv::metrics {
namespace {

TEST(histogram, buckets_tile_the_range_without_gaps) {
    for (std::size_t i = 0; i + 1 < histogram::bucket_count; ++i) {
        ASSERT_EQ(histogram::high_of(i) + 1, histogram::low_of(i + 1)) << i;
        ASSERT_EQ(histogram::index_of(histogram::low_of(i)), i);
        ASSERT_EQ(histogram::index_of(histogram::high_of(i)), i);
    }
    EXPECT_EQ(histogram::high_of(histogram::bucket_count - 1), histogram::max_value_ns);
    EXPECT_EQ(histogram::index_of(UINT64_MAX), histogram::bucket_count - 1);
}

TEST(histogram, percentiles_are_within_one_percent) {
    std::mt19937_64 random(3);
    std::lognormal_distribution<double> latency(std::log(200'000.0), 1.2);  // ~200 us, long tail
    std::vector<std::uint64_t> values;
    histogram h;
    for (int i = 0; i < 200'000; ++i) {
        const auto v = std::uint64_t(latency(random));
        values.push_back(v);
        h.record(v);
    }
    std::sort(values.begin(), values.end());
    for (double p : {1.0, 50.0, 90.0, 99.0, 99.9, 99.99}) {
        const auto rank = std::size_t(std::ceil(p / 100.0 * double(values.size()))) - 1;
        const double exact = double(values[rank]);
        EXPECT_NEAR(double(h.percentile(p)), exact, exact * 0.01) << "p" << p;
    }
    EXPECT_EQ(h.percentile(100), values.back());
    EXPECT_EQ(h.max(), values.back());
    EXPECT_EQ(h.min(), values.front());
    EXPECT_EQ(h.count(), values.size());
}

TEST(histogram, small_values_are_exact_and_merge_adds) {
    histogram a, b;
    for (std::uint64_t v = 0; v < 100; ++v) a.record(v);
    for (std::uint64_t v = 100; v < 200; ++v) b.record(v);
    b.record(5'000'000'000ull);
    a.merge(b);
    EXPECT_EQ(a.count(), 201u);
    EXPECT_EQ(a.percentile(50), 100u);
    EXPECT_EQ(a.max(), 5'000'000'000ull);
    EXPECT_EQ(a.min(), 0u);
    std::uint64_t total = 0;
    for (const auto& bucket : a.buckets()) total += bucket.count;
    EXPECT_EQ(total, 201u);
}

TEST(histogram, reset_empties_it) {
    histogram h;
    h.record(7);
    h.record(70'000);
    h.reset();
    EXPECT_EQ(h.count(), 0u);
    EXPECT_EQ(h.max(), 0u);
    EXPECT_TRUE(h.buckets().empty());
    h.record(9);
    EXPECT_EQ(h.min(), 9u);
    EXPECT_EQ(h.percentile(50), 9u);
}

TEST(duration_buckets, bounds_are_fine_bounds_and_match_of_index) {
    // Every fine bucket falls in exactly the Prometheus bucket whose bound
    // is the first at or above its values.
    std::size_t previous = 0;
    for (std::size_t i = 0; i < histogram::bucket_count; ++i) {
        const std::size_t b = duration_buckets::of_index(i);
        ASSERT_GE(b, previous) << i;
        previous = b;
        if (b < duration_buckets::finite) {
            ASSERT_LE(histogram::high_of(i), duration_buckets::upper_ns(b)) << i;
        }
        if (b > 0) {
            ASSERT_GT(histogram::low_of(i), duration_buckets::upper_ns(b - 1)) << i;
        }
    }
    EXPECT_EQ(duration_buckets::upper_ns(0), 1023u);
    EXPECT_EQ(duration_buckets::upper_ns(1), 1151u);  // 1024 + 1024/8 - 1
    EXPECT_EQ(duration_buckets::upper_ns(duration_buckets::finite - 1), (std::uint64_t(1) << 35) - 1);
    EXPECT_EQ(duration_buckets::of_index(histogram::index_of(std::uint64_t(1) << 35)), duration_buckets::finite);
    // 50 us lands in a bucket at most 1/8 of an octave wide.
    const std::size_t fifty = duration_buckets::of_index(histogram::index_of(50'000));
    EXPECT_EQ(duration_buckets::upper_ns(fifty - 1) + 1, 49'152u);
    EXPECT_EQ(duration_buckets::upper_ns(fifty), 53'247u);
}

TEST(status_slots, standard_codes_have_their_own_slot) {
    std::vector<bool> used(status_slots::count, false);
    for (int status = 100; status < 600; ++status) {
        const std::size_t slot = status_slots::of(status);
        if (slot == status_slots::other_slot) continue;
        EXPECT_FALSE(used[slot]) << status;
        used[slot] = true;
        EXPECT_EQ(status_slots::status_of(slot), status);
    }
    for (int status : {200, 201, 204, 400, 401, 404, 405, 408, 409, 413, 422, 429, 500, 503, 507}) {
        EXPECT_NE(status_slots::of(status), status_slots::other_slot) << status;
    }
    for (int status : {-1, 0, 99, 299, 599, 600, 65535}) EXPECT_EQ(status_slots::of(status), status_slots::other_slot);
}

TEST(request_metrics, window_resets_and_lifetime_goes_on) {
    request_metrics m(0);
    for (int i = 0; i < 1000; ++i) m.record({route::get_key, method::get, 200, 50'000});
    m.record({route::get_key, method::get, 404, 20'000});
    m.record({route::put_key, method::put, 201, 80'000});
    const std::size_t ok = status_slots::of(200);
    EXPECT_EQ(m.lifetime_counts(route::get_key)[std::size_t(method::get)][ok], 1000u);
    EXPECT_EQ(m.window_count(route::get_key, method::get, ok), 1000u);
    EXPECT_EQ(m.window_latency(route::get_key).count(), 1001u);
    EXPECT_EQ(m.lifetime_latency(route::get_key).count, 1001u);
    EXPECT_EQ(m.lifetime_latency(route::get_key).sum_ns, 1000u * 50'000 + 20'000);

    m.reset_window(5);
    EXPECT_EQ(m.window_started_ns(), 5u);
    EXPECT_EQ(m.window_count(route::get_key, method::get, ok), 0u);
    EXPECT_EQ(m.window_latency(route::get_key).count(), 0u);
    EXPECT_EQ(m.lifetime_counts(route::get_key)[std::size_t(method::get)][ok], 1000u);
    m.record({route::get_key, method::get, 200, 40'000});
    EXPECT_EQ(m.window_count(route::get_key, method::get, ok), 1u);
    EXPECT_EQ(m.window_latency(route::get_key).max(), 40'000u);
    EXPECT_EQ(m.lifetime_latency(route::get_key).count, 1002u);
}

// The lines of a rendering that start with `prefix`.
std::vector<std::string> lines_starting(const std::string& text, const std::string& prefix) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind(prefix, 0) == 0) out.push_back(line);
    }
    return out;
}

std::uint64_t value_of(const std::string& line) { return std::stoull(line.substr(line.rfind(' ') + 1)); }

TEST(snapshot, prometheus_sums_the_cores) {
    core_metrics a(0, 0), b(1, 0);
    for (int i = 0; i < 600; ++i) a.requests.record({route::get_key, method::get, 200, 45'000});
    for (int i = 0; i < 400; ++i) b.requests.record({route::get_key, method::get, 200, 2'000'000});
    b.requests.record({route::other, method::other, 400, 100});
    b.requests.record({route::get_key, method::get, 299, 100});  // not a standard code
    snapshot s(snapshot::view::prometheus);
    s.add(a);
    s.add(b);
    const std::string text = s.prometheus();
    EXPECT_NE(text.find("ringkv_requests_total{route=\"get_key\",method=\"GET\",status=\"200\"} 1000\n"),
              std::string::npos) << text;
    EXPECT_NE(text.find("ringkv_requests_total{route=\"other\",method=\"OTHER\",status=\"400\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("ringkv_requests_total{route=\"get_key\",method=\"GET\",status=\"other\"} 1\n"),
              std::string::npos);
    const auto buckets = lines_starting(text, "ringkv_request_duration_seconds_bucket{route=\"get_key\"");
    ASSERT_EQ(buckets.size(), duration_buckets::count);
    std::uint64_t last = 0;
    for (const std::string& line : buckets) {
        EXPECT_GE(value_of(line), last) << line;
        last = value_of(line);
    }
    EXPECT_EQ(last, 1001u);
    EXPECT_EQ(buckets.back(), "ringkv_request_duration_seconds_bucket{route=\"get_key\",le=\"+Inf\"} 1001");
    // 45 us is below the 49.151 us bound: all 600 are counted there, 2 ms not.
    const auto at = lines_starting(text, "ringkv_request_duration_seconds_bucket{route=\"get_key\",le=\"0.000049151\"}");
    ASSERT_EQ(at.size(), 1u);
    EXPECT_EQ(value_of(at[0]), 601u);
    EXPECT_NE(text.find("ringkv_request_duration_seconds_count{route=\"get_key\"} 1001\n"), std::string::npos);
    EXPECT_NE(text.find("ringkv_request_duration_seconds_sum{route=\"get_key\"} 0.8270001\n"), std::string::npos);
    // Routes never asked for have no histogram series.
    EXPECT_TRUE(lines_starting(text, "ringkv_request_duration_seconds_bucket{route=\"put_key\"").empty());
}

TEST(snapshot, collectors_render_one_family_with_a_core_label) {
    core_metrics a(0, 0), b(1, 0);
    std::uint64_t resets_a = 3, resets_b = 4;
    const auto register_on = [](core_metrics& m, std::uint64_t& resets) {
        m.add_collector([&resets](sample_sink& out) {
            out.counter("ringkv_injected_faults_total", "Faults injected, by kind.", resets, label("kind", "reset"));
            out.gauge("ringkv_connections_open", "Connections open.", 2.0);
        });
        m.add_collector([](sample_sink& out) {
            out.counter("ringkv_injected_faults_total", "Faults injected, by kind.", 1, label("kind", "a\"b\\c"));
        });
    };
    register_on(a, resets_a);
    register_on(b, resets_b);
    snapshot s(snapshot::view::prometheus);
    s.add(a);
    s.add(b);
    const std::string text = s.prometheus();
    EXPECT_EQ(lines_starting(text, "# TYPE ringkv_injected_faults_total counter").size(), 1u) << text;
    EXPECT_EQ(lines_starting(text, "# TYPE ringkv_connections_open gauge").size(), 1u);
    EXPECT_NE(text.find("ringkv_injected_faults_total{core=\"0\",kind=\"reset\"} 3\n"), std::string::npos);
    EXPECT_NE(text.find("ringkv_injected_faults_total{core=\"1\",kind=\"reset\"} 4\n"), std::string::npos);
    EXPECT_NE(text.find("ringkv_injected_faults_total{core=\"1\",kind=\"a\\\"b\\\\c\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("ringkv_connections_open{core=\"1\"} 2\n"), std::string::npos);
}

// A time counter is kept in microseconds and rendered in seconds exactly:
// no float on the way (1 µs short of 2^53 µs prints every digit).
TEST(snapshot, seconds_counters_render_microseconds_as_exact_seconds) {
    core_metrics a(0, 0), b(1, 0);
    a.add_collector([](sample_sink& out) {
        out.seconds_counter("ringkv_injected_delay_seconds_total", "Delay injected.", 1'250);
        out.seconds_counter("ringkv_injected_delay_seconds_total", "Delay injected.", 2'000'000);  // same series: added
    });
    b.add_collector([](sample_sink& out) {
        out.seconds_counter("ringkv_injected_delay_seconds_total", "Delay injected.", (std::uint64_t(1) << 53) - 1);
    });
    snapshot s(snapshot::view::prometheus);
    s.add(a);
    s.add(b);
    const std::string text = s.prometheus();
    EXPECT_EQ(lines_starting(text, "# TYPE ringkv_injected_delay_seconds_total counter").size(), 1u) << text;
    EXPECT_NE(text.find("ringkv_injected_delay_seconds_total{core=\"0\"} 2.001250\n"), std::string::npos) << text;
    EXPECT_NE(text.find("ringkv_injected_delay_seconds_total{core=\"1\"} 9007199254.740991\n"), std::string::npos)
        << text;
    core_metrics idle(2, 0);
    idle.add_collector([](sample_sink& out) { out.seconds_counter("ringkv_idle_seconds_total", "Idle.", 0); });
    snapshot stats(snapshot::view::stats);
    stats.add(idle);
    EXPECT_NE(stats.stats_json(0).find(R"("ringkv_idle_seconds_total":0.000000)"), std::string::npos)
        << stats.stats_json(0);
}

TEST(snapshot, stats_report_percentiles_within_one_percent) {
    std::mt19937_64 random(5);
    std::lognormal_distribution<double> latency(std::log(50'000.0), 0.8);
    core_metrics a(0, 0), b(1, 0);
    std::vector<std::uint64_t> values;
    for (int i = 0; i < 100'000; ++i) {
        const auto v = std::uint64_t(latency(random));
        values.push_back(v);
        (i % 2 == 0 ? a : b).requests.record({route::get_key, method::get, 200, v});
    }
    a.requests.record({route::put_key, method::put, 507, 1});
    snapshot s(snapshot::view::stats);
    s.add(a);
    s.add(b);
    std::sort(values.begin(), values.end());
    const histogram& h = s.window_latency(route::get_key);
    for (double p : {50.0, 90.0, 99.0, 99.9, 99.99}) {
        const double exact = double(values[std::size_t(std::ceil(p / 100 * double(values.size()))) - 1]);
        EXPECT_NEAR(double(h.percentile(p)), exact, exact * 0.01) << p;
    }
    const std::string json = s.stats_json(1'000'000'000);
    EXPECT_NE(json.find("\"window_seconds\":1,"), std::string::npos) << json.substr(0, 200);
    EXPECT_NE(json.find("\"total\":{\"count\":100001,\"statuses\":{\"200\":100000,\"507\":1}"), std::string::npos);
    EXPECT_NE(json.find("\"get_key\":{\"count\":100000,"), std::string::npos);
    EXPECT_NE(json.find("\"put_key\":{\"count\":1,\"statuses\":{\"507\":1},\"latency_us\":{\"p50\":0.001,"),
              std::string::npos);
    EXPECT_NE(json.find("\"cores\":[{\"core\":0,\"count\":50001,"), std::string::npos);
    EXPECT_NE(json.find("{\"core\":1,\"count\":50000,"), std::string::npos);
    EXPECT_NE(json.find("\"max\":" + std::to_string(values.back() / 1000) + "."), std::string::npos);
}

TEST(snapshot, stats_of_a_fresh_window_are_zero) {
    core_metrics a(0, 0);
    a.requests.record({route::get_key, method::get, 200, 1000});
    a.requests.reset_window(10);
    snapshot s(snapshot::view::stats);
    s.add(a);
    const std::string json = s.stats_json(10);
    EXPECT_NE(json.find("\"total\":{\"count\":0,\"statuses\":{},\"latency_us\":{\"p50\":0.000,"), std::string::npos)
        << json.substr(0, 300);
    snapshot p(snapshot::view::prometheus);
    p.add(a);
    EXPECT_NE(p.prometheus().find("status=\"200\"} 1\n"), std::string::npos);
}

}  // namespace
}  // namespace ringkv::metrics

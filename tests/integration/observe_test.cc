// The observing routes through the real binary: exact counter deltas on a
// reused connection, the stats window, promtool, the journal's bounds and
// token fingerprints, the admin token, Server-Timing, and a scrape in the
// middle of pipelined load.
#include "harness.hh"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

namespace ringkv::testing {
namespace {

// The value of the series `series` (name and labels exactly as rendered),
// or -1 when absent.
double series_value(const std::string& text, const std::string& series) {
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 && line[series.size()] == ' ') {
            return std::stod(line.substr(series.size() + 1));
        }
    }
    return -1;
}

std::string scrape(std::uint16_t port) {
    response r = call(port, "GET", "/metrics", "");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    return r.body;
}

const std::string get_key_ok = R"(ringkv_requests_total{route="get_key",method="GET",status="200"})";
const std::string get_key_missing = R"(ringkv_requests_total{route="get_key",method="GET",status="404"})";
const std::string get_key_count = R"(ringkv_request_duration_seconds_count{route="get_key"})";

TEST(observe, a_thousand_gets_move_the_counters_by_exactly_a_thousand) {
    server_process server({"--threads", "2"});
    const std::string id = create_namespace(server.port(), "observed");
    const std::string key = "/v2/storage/kvs/" + id + "/keys/k";
    ASSERT_EQ(call(server.port(), "PUT", key, org_one_auth, "v").status, 201);
    const std::string before = scrape(server.port());
    ASSERT_EQ(series_value(before, get_key_ok), -1);  // never asked for yet: no series

    client c(server.port());
    for (int i = 0; i < 1000; ++i) {
        c.send(request("GET", key));
        auto r = c.read_response();
        ASSERT_TRUE(r);
        ASSERT_EQ(r->status, 200);
    }
    for (int i = 0; i < 7; ++i) {
        c.send(request("GET", key + "-missing"));
        ASSERT_EQ(c.read_response()->status, 404);
    }
    const std::string after = scrape(server.port());
    EXPECT_EQ(series_value(after, get_key_ok), 1000);
    EXPECT_EQ(series_value(after, get_key_missing), 7);
    EXPECT_EQ(series_value(after, get_key_count), 1007);
    EXPECT_EQ(series_value(after, R"(ringkv_request_duration_seconds_bucket{route="get_key",le="+Inf"})"), 1007);
    EXPECT_EQ(series_value(after, R"(ringkv_requests_total{route="put_key",method="PUT",status="201"})"), 1);
    EXPECT_EQ(series_value(after, R"(ringkv_requests_total{route="create_namespace",method="POST",status="201"})"), 1);
    // The first scrape is counted by the second, not by itself.
    EXPECT_EQ(series_value(after, R"(ringkv_requests_total{route="metrics",method="GET",status="200"})"), 1);
    // Buckets are cumulative and end at the count.
    std::istringstream lines(after);
    double last = 0;
    int buckets = 0;
    for (std::string line; std::getline(lines, line);) {
        if (line.rfind(R"(ringkv_request_duration_seconds_bucket{route="get_key")", 0) != 0) continue;
        const double v = std::stod(line.substr(line.rfind(' ') + 1));
        EXPECT_GE(v, last) << line;
        last = v;
        ++buckets;
    }
    EXPECT_EQ(buckets, 202);
    EXPECT_EQ(last, 1007);
    // Bytes: at least the thousand requests' bytes arrived.
    const double received = sum_over_cores(after, "ringkv_received_bytes_total") -
                            sum_over_cores(before, "ringkv_received_bytes_total");
    EXPECT_GE(received, 1000.0 * double(request("GET", key).size()));
    EXPECT_EQ(sum_over_cores(after, "ringkv_keys"), 1);
    EXPECT_EQ(sum_over_cores(after, "ringkv_value_bytes"), 1);
    EXPECT_EQ(sum_over_cores(after, "ringkv_namespaces"), 1);
    EXPECT_GE(sum_over_cores(after, "ringkv_connections_accepted_total"), 5);
    EXPECT_EQ(sum_over_cores(after, "ringkv_connections_open"), 2);  // c and the scrape's own
}

TEST(observe, requests_the_api_never_routed_count_as_other) {
    server_process server({"--threads", "1"});
    EXPECT_EQ(call(server.port(), "GET", "/nowhere").status, 404);
    client bad(server.port());
    bad.send("NOT HTTP\r\n\r\n");
    auto r = bad.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    const std::string text = scrape(server.port());
    EXPECT_EQ(series_value(text, R"(ringkv_requests_total{route="other",method="GET",status="404"})"), 1) << text;
    EXPECT_EQ(series_value(text, R"(ringkv_requests_total{route="other",method="OTHER",status="400"})"), 1);
}

TEST(observe, promtool_accepts_the_exposition) {
    server_process server({"--threads", "2"});
    const std::string id = create_namespace(server.port(), "observed");
    call(server.port(), "PUT", "/v2/storage/kvs/" + id + "/keys/a?ttl_secs=60", org_one_auth, "xyz");
    call(server.port(), "GET", "/v2/storage/kvs/" + id + "/keys/a");
    call(server.port(), "GET", "/v2/storage/kvs/" + id + "/keys");
    call(server.port(), "GET", "/v2/storage/kvs");
    call(server.port(), "DELETE", "/v2/storage/kvs/" + id);
    call(server.port(), "GET", "/healthz");
    call(server.port(), "GET", "/_ringkv/stats");
    const std::string text = scrape(server.port());
    EXPECT_EQ(promtool_complaints(text), "") << text.substr(0, 2000);
}

TEST(observe, the_stats_window_resets_and_prometheus_stays_monotonic) {
    server_process server({"--threads", "2"});
    const std::string id = create_namespace(server.port(), "observed");
    const std::string key = "/v2/storage/kvs/" + id + "/keys/k";
    ASSERT_EQ(call(server.port(), "PUT", key, org_one_auth, "value").status, 201);
    client c(server.port());
    for (int i = 0; i < 200; ++i) {
        c.send(request("GET", key));
        ASSERT_EQ(c.read_response()->status, 200);
    }
    response stats = call(server.port(), "GET", "/_ringkv/stats", "");
    ASSERT_EQ(stats.status, 200);
    EXPECT_EQ(stats.header("content-type"), "application/json");
    EXPECT_NE(stats.body.find(R"("get_key":{"count":200,"statuses":{"200":200},"latency_us":{"p50":)"),
              std::string::npos) << stats.body;
    // Percentiles in order, and positive.
    const std::regex latency(R"("get_key":\{[^}]*\},"latency_us":\{"p50":([0-9.]+),"p90":([0-9.]+),"p99":([0-9.]+),)"
                             R"("p99.9":([0-9.]+),"p99.99":([0-9.]+),"max":([0-9.]+)\})");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(stats.body, m, latency)) << stats.body;
    double previous = 0;
    for (std::size_t i = 1; i <= 6; ++i) {
        const double v = std::stod(m[i]);
        EXPECT_GE(v, previous) << i;
        previous = v;
    }
    EXPECT_GT(std::stod(m[1]), 0);
    EXPECT_NE(stats.body.find(R"("cores":[{"core":)"), std::string::npos);

    response reset = call(server.port(), "DELETE", "/_ringkv/stats", "");
    EXPECT_EQ(reset.status, 204);
    stats = call(server.port(), "GET", "/_ringkv/stats", "");
    EXPECT_NE(stats.body.find(R"("get_key":{"count":0,"statuses":{},)"), std::string::npos) << stats.body;
    c.send(request("GET", key));
    ASSERT_EQ(c.read_response()->status, 200);
    stats = call(server.port(), "GET", "/_ringkv/stats", "");
    EXPECT_NE(stats.body.find(R"("get_key":{"count":1,"statuses":{"200":1},)"), std::string::npos) << stats.body;
    const std::string text = scrape(server.port());
    EXPECT_EQ(series_value(text, get_key_ok), 201);
}

TEST(observe, control_routes_refuse_bad_methods_paths_and_queries_with_json) {
    server_process server({"--threads", "1", "--journal", "4"});
    client c(server.port());
    const auto expect_error = [&c](const std::string& req, int status, const std::string& code) {
        c.send(req);
        auto r = c.read_response();
        ASSERT_TRUE(r) << req;
        EXPECT_EQ(r->status, status) << req << r->body;
        EXPECT_EQ(r->header("content-type"), "application/json") << req;
        EXPECT_NE(r->body.find("\"code\":\"" + code + "\""), std::string::npos) << r->body;
    };
    expect_error(request("POST", "/metrics", "", "{}"), 405, "10015");
    expect_error(request("PUT", "/_ringkv/stats", "", "{}"), 405, "10015");
    expect_error(request("DELETE", "/_ringkv/requests", ""), 405, "10015");
    expect_error(get("/_ringkv/statistics"), 404, "10005");
    expect_error(get("/_ringkv/stats/"), 404, "10005");
    for (const char* query : {"limit=0", "limit=", "limit", "limit=-1", "limit=1.5", "limit=1&limit=2", "limit=%31",
                              "limit=99999999999999999999999999a"}) {
        c.send(get(std::string("/_ringkv/requests?") + query));
        auto r = c.read_response();
        ASSERT_TRUE(r) << query;
        EXPECT_EQ(r->status, 422) << query;
        EXPECT_NE(r->body.find(R"("source":{"parameter":"limit"})"), std::string::npos) << query << r->body;
    }
    c.send(request("PUT", "/metrics", "", "{}"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->header("allow"), "GET, HEAD");
    c.send("HEAD /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
    r = c.read_response(5000, true);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(r->body.empty());
    c.send(get("/healthz"));  // the connection survived all of it
    EXPECT_EQ(c.read_response()->status, 200);
}

TEST(observe, the_journal_keeps_the_last_n_and_only_fingerprints_of_tokens) {
    server_process server({"--threads", "1", "--journal", "5"});
    const std::string long_path = "/v2/" + std::string(300, 'p');
    call(server.port(), "GET", long_path, "Authorization: Bearer secret-token-a\r\n");
    call(server.port(), "GET", "/v2/storage/kvs", "Authorization: Bearer secret-token-a\r\n");
    call(server.port(), "GET", "/v2/storage/kvs", "Authorization: Bearer secret-token-b\r\n");
    call(server.port(), "GET", "/healthz", "");
    response all = call(server.port(), "GET", "/_ringkv/requests?limit=100", "");
    ASSERT_EQ(all.status, 200);
    EXPECT_EQ(count_of(all.body, "\"time\":"), 4u) << all.body;
    EXPECT_EQ(all.body.find("secret-token"), std::string::npos);
    // Newest first.
    EXPECT_LT(all.body.find("/healthz"), all.body.find("\"path\":\"/v2/storage/kvs\""));
    // The path is cut at 256 bytes.
    EXPECT_NE(all.body.find("\"path\":\"" + long_path.substr(0, 256) + "\""), std::string::npos) << all.body;
    EXPECT_EQ(all.body.find(long_path.substr(0, 257)), std::string::npos);
    // Tokens as 8 hex digits: the same token twice, another differs, none is null.
    const std::regex token(R"re("token":(null|"([0-9a-f]{8})"))re");
    std::vector<std::string> fingerprints;
    for (auto it = std::sregex_iterator(all.body.begin(), all.body.end(), token); it != std::sregex_iterator(); ++it) {
        fingerprints.push_back((*it)[1]);
    }
    ASSERT_EQ(fingerprints.size(), 4u) << all.body;
    EXPECT_EQ(fingerprints[0], "null");         // /healthz
    EXPECT_NE(fingerprints[1], fingerprints[2]);  // b, a
    EXPECT_EQ(fingerprints[2], fingerprints[3]);  // a, a
    EXPECT_NE(all.body.find(R"("method":"GET","path":"/healthz","status":200,"bytes_in":)"), std::string::npos);

    // Bounded: after many more, still the last five (the journal reads
    // before its own request is recorded).
    client c(server.port());
    for (int i = 0; i < 2000; ++i) {
        c.send(get("/healthz"));
        ASSERT_EQ(c.read_response()->status, 200);
    }
    c.send(get("/_ringkv/requests?limit=1000"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(count_of(r->body, "\"time\":"), 5u);
    EXPECT_NE(r->body.find(R"("journal_entries_per_core":5)"), std::string::npos);
    c.send(get("/_ringkv/requests?limit=2"));
    r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(count_of(r->body, "\"time\":"), 2u);
    EXPECT_EQ(r->body.find("\"duration_us\":null"), std::string::npos) << r->body;
}

TEST(observe, without_a_journal_the_route_answers_an_empty_list) {
    server_process server({"--threads", "2"});
    call(server.port(), "GET", "/healthz", "");
    response r = call(server.port(), "GET", "/_ringkv/requests", "");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, R"({"data":[],"meta":{"returned":0,"journal_entries_per_core":0,"cores":2}})");
}

TEST(observe, the_admin_token_guards_stats_and_requests_but_not_metrics) {
    server_process server({"--threads", "1", "--admin-token", "adm1n", "--journal", "2"});
    for (const char* path : {"/_ringkv/stats", "/_ringkv/requests"}) {
        EXPECT_EQ(call(server.port(), "GET", path, "").status, 401) << path;
        EXPECT_EQ(call(server.port(), "GET", path, "Authorization: Bearer wrong\r\n").status, 401) << path;
        EXPECT_EQ(call(server.port(), "GET", path, "Authorization: Bearer adm1n\r\n").status, 200) << path;
    }
    EXPECT_EQ(call(server.port(), "DELETE", "/_ringkv/stats", "").status, 401);
    EXPECT_EQ(call(server.port(), "GET", "/metrics", "").status, 200);
    // The admin token never shows in the journal.
    response r = call(server.port(), "GET", "/_ringkv/requests", "Authorization: Bearer adm1n\r\n");
    EXPECT_EQ(r.body.find("adm1n"), std::string::npos);
}

TEST(observe, no_admin_removes_stats_but_keeps_metrics) {
    server_process server({"--threads", "1", "--no-admin"});
    EXPECT_EQ(call(server.port(), "GET", "/_ringkv/stats", "").status, 404);
    EXPECT_EQ(call(server.port(), "GET", "/_ringkv/requests", "").status, 404);
    EXPECT_EQ(call(server.port(), "GET", "/metrics", "").status, 200);
}

TEST(observe, no_metrics_turns_the_metric_routes_off) {
    server_process server({"--threads", "1", "--no-metrics"});
    call(server.port(), "GET", "/healthz", "");
    EXPECT_EQ(call(server.port(), "GET", "/metrics", "").status, 404);
    EXPECT_EQ(call(server.port(), "GET", "/_ringkv/stats", "").status, 404);
    EXPECT_EQ(call(server.port(), "GET", "/healthz", "").status, 200);
}

TEST(observe, server_timing_is_sent_only_when_asked_for) {
    server_process timed({"--threads", "1", "--server-timing"});
    const std::regex header(R"(app;dur=[0-9]+\.[0-9]{3})");
    client c(timed.port());
    for (const std::string& req : {get("/healthz"), get("/nowhere"), request("GET", "/v2/storage/kvs")}) {
        c.send(req);
        auto r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_TRUE(std::regex_match(r->header("server-timing"), header)) << r->header("server-timing");
    }
    server_process plain({"--threads", "1"});
    response r = call(plain.port(), "GET", "/healthz", "");
    EXPECT_EQ(r.header("server-timing"), "");
}

TEST(observe, a_scrape_during_pipelined_load_does_not_disturb_the_answers) {
    server_process server({"--threads", "2"});
    const std::string id = create_namespace(server.port(), "observed");
    std::vector<std::string> keys;
    for (int k = 0; k < 8; ++k) {
        keys.push_back("/v2/storage/kvs/" + id + "/keys/key" + std::to_string(k));
        ASSERT_EQ(call(server.port(), "PUT", keys.back(), org_one_auth, "value-" + std::to_string(k)).status, 201);
    }
    std::atomic<bool> done{false};
    std::atomic<int> scrapes{0};
    std::thread scraper([&] {
        while (!done) {
            const bool stats = scrapes % 2 == 1;
            response r = call(server.port(), "GET", stats ? "/_ringkv/stats" : "/metrics", "");
            if (r.status != 200) ADD_FAILURE() << r.status << " " << r.body;
            ++scrapes;
        }
    });
    client c(server.port());
    constexpr int batches = 300;
    constexpr int depth = 16;
    for (int b = 0; b < batches; ++b) {
        std::string batch;
        for (int i = 0; i < depth; ++i) batch += request("GET", keys[std::size_t((b + i) % 8)]);
        c.send(batch);
        for (int i = 0; i < depth; ++i) {
            auto r = c.read_response();
            ASSERT_TRUE(r) << b << "/" << i;
            ASSERT_EQ(r->status, 200);
            ASSERT_EQ(r->body, "value-" + std::to_string((b + i) % 8)) << b << "/" << i;
        }
    }
    done = true;
    scraper.join();
    EXPECT_GT(scrapes.load(), 2);
    const std::string text = scrape(server.port());
    EXPECT_EQ(series_value(text, get_key_ok), batches * depth);
}

}  // namespace
}  // namespace ringkv::testing

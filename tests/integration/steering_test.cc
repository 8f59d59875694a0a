// The steering half of the control plane through the real binary on two
// threads: rules (replace, append, list, clear, bad bodies), injected
// delays and faults on the wire, seeded probability, rate limits with
// their headers across connections, the virtual clock, and state resets.
#include "harness.hh"

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <thread>

namespace ringkv::testing {
namespace {

using clock_type = std::chrono::steady_clock;

// One request as `token` ("" for none) on a fresh connection.
response call_as(std::uint16_t port, const std::string& method, const std::string& path,
                 const std::string& token = "org-one", const std::optional<std::string>& body = std::nullopt) {
    return call(port, method, path, bearer(token), body);
}

// Replaces the rule list (PUT /_ringkv/rules; no admin token is set).
response put_rules(std::uint16_t port, const std::string& list) { return call(port, "PUT", "/_ringkv/rules", "", list); }

long elapsed_ms(clock_type::time_point since) {
    return long(std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - since).count());
}

class steering_test : public ::testing::Test {
protected:
    server_process server{{"--threads", "2", "--provision-delay", "0"}};

    response call(const std::string& method, const std::string& path, const std::string& token = "org-one",
                  const std::optional<std::string>& body = std::nullopt) {
        return call_as(server.port(), method, path, token, body);
    }
    response rules(const std::string& method, const std::string& body) {
        return testing::call(server.port(), method, "/_ringkv/rules", "", body);
    }
    std::string create(const std::string& name, const std::string& token = "org-one") {
        return create_namespace(server.port(), name, bearer(token));
    }
};

TEST_F(steering_test, rules_replace_append_list_clear_and_refuse_bad_bodies_whole) {
    EXPECT_EQ(rules("PUT", R"([{"name":"a","fault":{"kind":"status","status":503}}])").status, 200);
    response r = rules("POST", R"({"name":"b","match":{"route":"get_key"},"latency":{"distribution":"fixed","ms":1}})");
    EXPECT_EQ(r.status, 201) << r.body;
    r = call("GET", "/_ringkv/rules", "");
    EXPECT_NE(r.body.find(R"("name":"a")"), std::string::npos) << r.body;
    EXPECT_LT(r.body.find(R"("name":"a")"), r.body.find(R"("name":"b")"));
    // A list with one bad rule changes nothing (all or nothing).
    r = rules("PUT", R"([{"name":"c"},{"probability":2}])");
    EXPECT_EQ(r.status, 422);
    EXPECT_NE(r.body.find(R"("source":{"pointer":"/1/probability"})"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find(R"("code":"10015")"), std::string::npos);
    r = rules("PUT", R"([{"name":"c","colour":"red"}])");
    EXPECT_EQ(r.status, 422);
    EXPECT_NE(r.body.find(R"("pointer":"/0/colour")"), std::string::npos) << r.body;
    r = rules("PUT", R"([{"name":"c"})");
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find(R"("code":"10023")"), std::string::npos) << r.body;
    r = rules("POST", R"({"latency":{"distribution":"lognormal","median_ms":10,"p99_ms":5}})");
    EXPECT_EQ(r.status, 422);
    EXPECT_NE(r.body.find(R"("pointer":"/latency/p99_ms")"), std::string::npos) << r.body;
    r = call("GET", "/_ringkv/rules", "");
    EXPECT_EQ(r.body.find(R"("name":"c")"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find(R"("name":"b")"), std::string::npos) << r.body;
    EXPECT_EQ(call("GET", "/v2/storage/kvs").status, 503);  // "a" is in force on this connection's core
    EXPECT_EQ(call("DELETE", "/_ringkv/rules", "").status, 200);
    EXPECT_EQ(call("GET", "/_ringkv/rules", "").body, R"({"data":[]})");
    EXPECT_EQ(call("GET", "/v2/storage/kvs").status, 200);
}

TEST_F(steering_test, a_delay_holds_the_response_and_pipelined_answers_keep_their_order) {
    const std::string id = create("delays");
    for (const char* k : {"fast1", "slow", "fast2"}) EXPECT_EQ(call("PUT", key_path(id, k), "org-one", k).status, 201);
    ASSERT_EQ(rules("PUT", R"([{"match":{"route":"get_key","key_prefix":"slow"},
                              "latency":{"distribution":"fixed","ms":200}}])").status, 200);
    client c(server.port());
    const auto start = clock_type::now();
    c.send(request("GET", key_path(id, "fast1")) + request("GET", key_path(id, "slow")) + request("GET", key_path(id, "fast2")));
    auto first = c.read_response();
    ASSERT_TRUE(first);
    EXPECT_EQ(first->body, "fast1");
    EXPECT_LT(elapsed_ms(start), 150);  // the answer before the delayed one is not held with it
    auto second = c.read_response();
    ASSERT_TRUE(second);
    EXPECT_EQ(second->body, "slow");
    EXPECT_GE(elapsed_ms(start), 200);
    auto third = c.read_response();
    ASSERT_TRUE(third);
    EXPECT_EQ(third->body, "fast2");
    // The same connection goes on serving.
    c.send(request("GET", key_path(id, "fast1")));
    ASSERT_TRUE(c.read_response());
}

TEST_F(steering_test, a_client_that_leaves_during_a_delay_frees_its_connection_at_once) {
    const std::string id = create("leavers");
    ASSERT_EQ(call("PUT", key_path(id, "slow"), "org-one", "v").status, 201);
    ASSERT_EQ(rules("PUT", R"([{"match":{"route":"get_key"},"latency":{"distribution":"fixed","ms":600000}}])").status, 200);
    {
        client leaver(server.port());
        // A pipelined request waits behind the delayed one; the peer then goes.
        leaver.send(request("GET", key_path(id, "slow")) + request("GET", key_path(id, "slow")));
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    const auto start = clock_type::now();
    double open = -1;
    while (elapsed_ms(start) < 3000) {
        open = sum_over_cores(call("GET", "/metrics", "").body, "ringkv_connections_open");
        if (open == 1) break;  // the scrape's own
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_EQ(open, 1) << "the delayed connection still holds its slot";
    // A client that stays still gets its delayed answer (a short delay here).
    ASSERT_EQ(rules("PUT", R"([{"match":{"route":"get_key"},"latency":{"distribution":"fixed","ms":50}}])").status, 200);
    client stayer(server.port());
    stayer.send(request("GET", key_path(id, "slow")) + request("GET", key_path(id, "slow")));
    for (int i = 0; i < 2; ++i) {
        auto r = stayer.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->body, "v");
    }
}

TEST(steering, injections_are_counted_in_metrics_and_shown_in_server_timing) {
    server_process timed{{"--threads", "2", "--provision-delay", "0", "--server-timing"}};
    const auto on = [&](const std::string& method, const std::string& path, const std::optional<std::string>& body,
                        const std::string& token = "org-one") { return call_as(timed.port(), method, path, token, body); };
    response made = on("POST", "/v2/storage/kvs", R"({"name":"counted"})");
    ASSERT_EQ(made.status, 201);
    const std::string id = json_string(made.body, "id");
    ASSERT_EQ(put_rules(timed.port(), R"([{"match":{"route":"get_key"},"latency":{"distribution":"fixed","ms":20}},
        {"match":{"route":"delete_key"},"latency":{"distribution":"fixed","ms":5},"fault":{"kind":"status","status":503}},
        {"match":{"route":"list_keys"},"rate_limit":{"requests":1,"per_ms":60000,"burst":1}}])").status, 200);
    // A delayed answer, and a fault answered at the head: both name the delay.
    response slow = on("GET", "/v2/storage/kvs/" + id + "/keys/missing", std::nullopt);
    EXPECT_EQ(slow.status, 404);
    EXPECT_NE(slow.header("server-timing").find(", inject;dur=20.000"), std::string::npos) << slow.header("server-timing");
    response faulted = on("DELETE", "/v2/storage/kvs/" + id + "/keys/k", std::nullopt);
    EXPECT_EQ(faulted.status, 503);
    EXPECT_NE(faulted.header("server-timing").find(", inject;dur=5.000"), std::string::npos)
        << faulted.header("server-timing");
    EXPECT_EQ(on("GET", "/v2/storage/kvs/" + id + "/keys", std::nullopt).status, 200);
    EXPECT_EQ(on("GET", "/v2/storage/kvs/" + id + "/keys", std::nullopt).status, 429);
    const std::string text = on("GET", "/metrics", std::nullopt, "").body;
    EXPECT_EQ(sum_over_cores(text, "ringkv_injected_delays_total"), 2) << text;
    // 20 ms and 5 ms, kept in whole microseconds, written in seconds with
    // six decimals on every core.
    EXPECT_NE(text.find("# TYPE ringkv_injected_delay_seconds_total counter\n"), std::string::npos);
    const std::regex seconds_line(R"(ringkv_injected_delay_seconds_total\{core="[01]"\} 0\.0(00000|05000|20000|25000))");
    std::smatch found;
    std::string rest = text;
    int lines = 0;
    for (; std::regex_search(rest, found, seconds_line); rest = found.suffix()) ++lines;
    EXPECT_EQ(lines, 2) << text;
    EXPECT_EQ(sum_over_cores(text, "ringkv_injected_delay_seconds_total"), 0.025) << text;
    EXPECT_EQ(sum_over_cores(text, "ringkv_injected_faults_total", R"(kind="status")"), 1);
    EXPECT_EQ(sum_over_cores(text, "ringkv_injected_faults_total", R"(kind="reset")"), 0);
    EXPECT_EQ(sum_over_cores(text, "ringkv_rate_limited_requests_total"), 1);
    EXPECT_EQ(sum_over_cores(text, "ringkv_rate_admitted_requests_total"), 1);
    EXPECT_EQ(sum_over_cores(text, "ringkv_rate_table_full_total"), 0);
    EXPECT_EQ(promtool_complaints(text), "");
}

TEST_F(steering_test, status_faults_before_and_after_the_operation) {
    const std::string id = create("faults");
    ASSERT_EQ(rules("PUT", R"([{"match":{"route":"put_key","key_prefix":"before"},
                               "fault":{"kind":"status","status":503,"detail":"try later"}},
                              {"match":{"route":"put_key","key_prefix":"after"},
                               "fault":{"kind":"status","status":502,"code":10007,"when":"after"}}])").status, 200);
    response r = call("PUT", key_path(id, "before"), "org-one", "x");
    EXPECT_EQ(r.status, 503);
    EXPECT_NE(r.body.find(R"("detail":"try later")"), std::string::npos) << r.body;
    EXPECT_EQ(call("GET", key_path(id, "before")).status, 404);  // it did not run
    r = call("PUT", key_path(id, "after"), "org-one", "x");
    EXPECT_EQ(r.status, 502);
    EXPECT_NE(r.body.find(R"("code":"10007")"), std::string::npos) << r.body;
    EXPECT_EQ(call("GET", key_path(id, "after")).body, "x");  // it ran; its answer was lost
}

// A status fault is decided at the request's head; when the rule list is
// replaced (from another connection) before the body has arrived, the
// fault's rule is gone and it is no fault: the operation answers as if
// nothing had matched, never an invented 500. Both ways a status fault
// waits for the body: "when":"after", and a rate-limited rule (its bucket
// is asked after the body). "Expect: 100-continue" shows when the head has
// been decided, so no timing is involved.
TEST_F(steering_test, a_status_fault_whose_rules_are_replaced_before_the_body_is_no_fault) {
    const std::string id = create("raced");
    const std::string value(200'000, 'v');  // more than one read's worth
    const struct {
        std::string key, rule;
    } cases[] = {
        {"after", R"([{"match":{"route":"put_key"},"fault":{"kind":"status","status":503,"when":"after"}}])"},
        {"limited", R"([{"match":{"route":"put_key"},"rate_limit":{"requests":1000,"per_ms":1000},
                        "fault":{"kind":"status","status":503}}])"},
    };
    for (const auto& c : cases) {
        ASSERT_EQ(rules("PUT", c.rule).status, 200) << c.key;
        ASSERT_EQ(call("PUT", key_path(id, c.key + "-before"), "org-one", value).status, 503) << c.key;  // in force
        client writer(server.port());
        writer.send("PUT " + key_path(id, c.key) + " HTTP/1.1\r\nHost: t\r\n" + org_one_auth +
                    "Expect: 100-continue\r\nContent-Length: " + std::to_string(value.size()) + "\r\n\r\n" +
                    value.substr(0, 1000));
        const std::string interim = "HTTP/1.1 100 Continue\r\n\r\n";
        ASSERT_EQ(writer.read_raw(interim.size()), interim) << c.key;  // the head is decided, under the rule
        ASSERT_EQ(rules("PUT", "[]").status, 200);  // on every core before it answers
        writer.send(value.substr(1000));
        const std::optional<response> r = writer.read_response();
        ASSERT_TRUE(r) << c.key;
        EXPECT_EQ(r->status, 201) << c.key << ": " << r->body;
        EXPECT_EQ(call("GET", key_path(id, c.key)).body.size(), value.size()) << c.key;
    }
}

TEST_F(steering_test, transport_faults_on_the_wire) {
    ASSERT_EQ(rules("PUT", R"([{"match":{"token":"rst"},"fault":{"kind":"reset"}},
                              {"match":{"token":"fin"},"fault":{"kind":"close"}},
                              {"match":{"token":"hang"},"fault":{"kind":"hang"}},
                              {"match":{"token":"cut"},"fault":{"kind":"truncate"}},
                              {"match":{"token":"slow"},"fault":{"kind":"dribble","bytes_per_second":400}}])").status, 200);
    {
        client c(server.port());
        c.send(request("GET", "/v2/storage/kvs", bearer("rst")));
        pollfd p{c.fd(), POLLIN, 0};
        ASSERT_EQ(poll(&p, 1, 5000), 1);
        char byte;
        EXPECT_EQ(::recv(c.fd(), &byte, 1, 0), -1);
        EXPECT_EQ(errno, ECONNRESET);
    }
    {
        client c(server.port());
        c.send(request("GET", "/v2/storage/kvs", bearer("fin")));
        EXPECT_EQ(c.read_raw(1, 5000), "");
        EXPECT_TRUE(c.closed_by_server(1000));
    }
    {
        client c(server.port());
        c.send(request("GET", "/v2/storage/kvs", bearer("hang")));
        EXPECT_EQ(c.read_raw(1, 500), "");  // nothing, and still open
        EXPECT_FALSE(c.closed_by_server(100));
    }
    {
        client c(server.port());
        c.send(request("GET", "/v2/storage/kvs", bearer("cut")));
        const std::string raw = c.read_raw(100000, 5000);
        const std::size_t head_end = raw.find("\r\n\r\n");
        ASSERT_NE(head_end, std::string::npos) << raw;
        const std::size_t length_at = raw.find("Content-Length: ");
        ASSERT_NE(length_at, std::string::npos);
        const std::size_t promised = std::stoul(raw.substr(length_at + 16));
        EXPECT_EQ(raw.size() - head_end - 4, promised / 2) << raw;
        EXPECT_TRUE(c.closed_by_server(1000));
    }
    {
        client c(server.port());
        const auto start = clock_type::now();
        c.send(request("GET", "/v2/storage/kvs", bearer("slow")));
        auto r = c.read_response(5000);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200);
        EXPECT_GE(elapsed_ms(start), 250);  // ~170 bytes at 400 B/s
    }
    // Other tokens are untouched.
    EXPECT_EQ(call("GET", "/v2/storage/kvs", "calm").status, 200);
}

TEST_F(steering_test, a_seeded_fault_rate_is_near_its_probability_and_repeats) {
    const std::string rule = R"([{"match":{"route":"list_namespaces"},"probability":0.1,"seed":42,
                                  "fault":{"kind":"status","status":503}}])";
    const auto run = [&] {
        EXPECT_EQ(rules("PUT", rule).status, 200);
        client c(server.port());
        std::string statuses;
        for (int i = 0; i < 3000; ++i) {
            c.send(request("GET", "/v2/storage/kvs"));
            auto r = c.read_response();
            if (!r) break;
            statuses += r->status == 503 ? 'x' : '.';
        }
        return statuses;
    };
    const std::string first = run(), second = run();
    ASSERT_EQ(first.size(), 3000u);
    EXPECT_EQ(first, second);
    const auto faults = std::count(first.begin(), first.end(), 'x');
    EXPECT_GE(faults, 240);  // 8%
    EXPECT_LE(faults, 360);  // 12%
}

TEST_F(steering_test, a_rate_limit_counts_every_connection_and_answers_429_with_headers) {
    ASSERT_EQ(rules("PUT", R"([{"match":{"token":"limited"},"rate_limit":{"requests":1,"per_ms":3600000,"burst":10}}])").status, 200);
    // Ten connections (spread over both cores), two requests each: exactly
    // ten admitted, whichever core each landed on.
    int admitted = 0, refused = 0;
    for (int i = 0; i < 10; ++i) {
        client c(server.port());
        for (int j = 0; j < 2; ++j) {
            c.send(request("GET", "/v2/storage/kvs", bearer("limited")));
            auto r = c.read_response();
            ASSERT_TRUE(r);
            EXPECT_EQ(r->header("x-ratelimit-limit"), "1");
            EXPECT_FALSE(r->header("x-ratelimit-remaining").empty());
            EXPECT_FALSE(r->header("x-ratelimit-reset").empty());
            if (r->status == 200) {
                ++admitted;
            } else {
                ++refused;
                EXPECT_EQ(r->status, 429);
                EXPECT_EQ(r->header("retry-after"), "3600");
                EXPECT_EQ(r->header("x-ratelimit-remaining"), "0");
                EXPECT_NE(r->body.find(R"("code":"10011")"), std::string::npos);
                EXPECT_NE(r->body.find("You have exceeded the maximum number of allowed requests."), std::string::npos);
            }
        }
    }
    EXPECT_EQ(admitted, 10);
    EXPECT_EQ(refused, 10);
    // A 429 runs nothing; another token has no limit and no headers.
    response other = call("GET", "/v2/storage/kvs", "free");
    EXPECT_EQ(other.status, 200);
    EXPECT_TRUE(other.header("x-ratelimit-limit").empty());
    EXPECT_NE(call("GET", "/_ringkv/rules", "").body.find(R"("rate_limited":10)"), std::string::npos);
}

TEST_F(steering_test, the_virtual_clock_moves_expiry_delays_and_timestamps_forward) {
    server_process slow{{"--threads", "2", "--provision-delay", "3600000", "--delete-delay", "3600000"}};
    const auto on = [&](const std::string& method, const std::string& path, const std::optional<std::string>& body = {},
                        const std::string& token = "org-one") { return call_as(slow.port(), method, path, token, body); };
    response made = on("POST", "/v2/storage/kvs", R"({"name":"hour"})");
    ASSERT_EQ(made.status, 201);
    const std::string id = json_string(made.body, "id");
    const std::string created_at = json_string(made.body, "created_at");
    EXPECT_EQ(on("PUT", key_path(id, "k"), "v").status, 409);  // provisioning takes an hour
    EXPECT_EQ(on("POST", "/_ringkv/clock", R"({"advance_ms":3600000})", "").status, 200);
    EXPECT_EQ(on("PUT", key_path(id, "k") + "?ttl_secs=3600", "v").status, 201);
    EXPECT_EQ(on("GET", key_path(id, "k")).status, 200);
    response clock = on("GET", "/_ringkv/clock", {}, "");
    EXPECT_NE(clock.body.find(R"("offset_ms":3600000)"), std::string::npos) << clock.body;
    response later = on("POST", "/_ringkv/clock", R"({"advance_ms":3600000})", "");
    EXPECT_NE(later.body.find(R"("offset_ms":7200000)"), std::string::npos) << later.body;
    EXPECT_EQ(on("GET", key_path(id, "k")).status, 404);  // an hour's TTL, gone
    response listed = on("GET", "/v2/storage/kvs/" + id);
    EXPECT_EQ(json_string(listed.body, "created_at"), created_at);
    EXPECT_NE(json_string(listed.body, "updated_at"), created_at);  // provisioned an hour later
    EXPECT_EQ(on("POST", "/_ringkv/clock", R"({"advance_ms":-5})", "").status, 422);
    EXPECT_EQ(on("POST", "/_ringkv/clock", R"({"advance":5})", "").status, 422);
    EXPECT_EQ(on("POST", "/_ringkv/clock", R"({"advance_ms":)", "").status, 400);
    // Timestamps are 32-bit seconds: the clock stops short of 2106, counting
    // every advance, not one at a time.
    constexpr std::uint64_t forty_years_ms = 40ull * 365 * 24 * 3600 * 1000;
    EXPECT_EQ(on("POST", "/_ringkv/clock", R"({"advance_ms":)" + std::to_string(forty_years_ms) + "}", "").status, 200);
    response too_far = on("POST", "/_ringkv/clock", R"({"advance_ms":)" + std::to_string(forty_years_ms) + "}", "");
    EXPECT_EQ(too_far.status, 422) << too_far.body;
    EXPECT_NE(too_far.body.find(R"("pointer":"/advance_ms")"), std::string::npos) << too_far.body;
    clock = on("GET", "/_ringkv/clock", {}, "");
    EXPECT_NE(clock.body.find(R"("offset_ms":)" + std::to_string(7'200'000 + forty_years_ms)), std::string::npos) << clock.body;
    EXPECT_EQ(on("POST", "/_ringkv/clock", R"({"advance_ms":3153600000000})", "").status, 422);  // a century at once
    // Deletion delays pass with the clock too.
    EXPECT_EQ(on("DELETE", "/v2/storage/kvs/" + id).status, 200);
    EXPECT_EQ(on("GET", "/v2/storage/kvs/" + id).status, 200);  // deleting
    EXPECT_EQ(on("POST", "/_ringkv/clock", R"({"advance_ms":3600000})", "").status, 200);
    EXPECT_EQ(on("GET", "/v2/storage/kvs/" + id).status, 404);
}

TEST_F(steering_test, reset_removes_one_organization_or_all_and_keeps_rules) {
    const std::string a = create("a1", "org-a"), b = create("b1", "org-b");
    EXPECT_EQ(call("PUT", key_path(a, "k"), "org-a", "1").status, 201);
    EXPECT_EQ(call("PUT", key_path(b, "k"), "org-b", "2").status, 201);
    ASSERT_EQ(rules("PUT", R"([{"match":{"token":"nobody"},"fault":{"kind":"close"}}])").status, 200);
    response r = call("DELETE", "/_ringkv/state", "", R"({"token":"org-a"})");
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.body.find(R"("namespaces_removed":1)"), std::string::npos) << r.body;
    EXPECT_EQ(call("GET", key_path(a, "k"), "org-a").status, 404);
    EXPECT_NE(call("GET", "/v2/storage/kvs", "org-a").body.find(R"("total_results":0)"), std::string::npos);
    EXPECT_EQ(call("GET", key_path(b, "k"), "org-b").body, "2");
    EXPECT_EQ(call("POST", "/v2/storage/kvs", "org-a", R"({"name":"a1"})").status, 201);  // the name is free again
    EXPECT_EQ(call("DELETE", "/_ringkv/state", "", R"({"token":""})").status, 422);
    EXPECT_EQ(call("DELETE", "/_ringkv/state", "", R"({"tokens":"x"})").status, 422);
    EXPECT_EQ(call("DELETE", "/_ringkv/state", "").status, 200);
    EXPECT_EQ(call("GET", key_path(b, "k"), "org-b").status, 404);
    EXPECT_NE(call("GET", "/_ringkv/rules", "").body.find("nobody"), std::string::npos);  // rules stay
}

// Writers of one organization keep going while another is reset, many
// times over: every key they were told was stored is still there after.
TEST_F(steering_test, a_reset_during_load_loses_nothing_it_should_keep) {
    const std::string kept = create("kept", "org-keep");
    std::atomic<bool> stop{false};
    std::vector<std::string> stored;
    std::thread writer([&] {
        client c(server.port());
        for (int i = 0; !stop && i < 100000; ++i) {
            const std::string key = "k" + std::to_string(i);
            c.send(request("PUT", key_path(kept, key), bearer("org-keep"), key));
            auto r = c.read_response();
            if (!r) break;
            if (r->status == 201) stored.push_back(key);
        }
    });
    for (int round = 0; round < 20; ++round) {
        const std::string doomed = create("doomed" + std::to_string(round), "org-gone");
        EXPECT_EQ(call("PUT", key_path(doomed, "x"), "org-gone", "x").status, 201);
        EXPECT_EQ(call("DELETE", "/_ringkv/state", "", R"({"token":"org-gone"})").status, 200);
        EXPECT_EQ(call("GET", key_path(doomed, "x"), "org-gone").status, 404);
    }
    stop = true;
    writer.join();
    ASSERT_GT(stored.size(), 20u);
    client c(server.port());
    for (const std::string& key : stored) {
        c.send(request("GET", key_path(kept, key), bearer("org-keep")));
        auto r = c.read_response();
        ASSERT_TRUE(r);
        ASSERT_EQ(r->body, key);
    }
}

TEST(steering_start, rules_file_is_loaded_and_a_bad_one_stops_the_start) {
    const std::string path = ::testing::TempDir() + "ringkv-rules.json";
    {
        std::ofstream out(path);
        out << R"([{"match":{"route":"list_namespaces"},"fault":{"kind":"status","status":418}}])";
    }
    {
        server_process s{{"--rules", path}};
        EXPECT_EQ(exchange(s.port(), request("GET", "/v2/storage/kvs"))->status, 418);
    }
    {
        std::ofstream out(path);
        out << R"([{"fault":{"kind":"status","status":418,"colour":1}}])";
    }
    const process_result bad = run_to_exit({"--port", "0", "--rules", path});
    EXPECT_EQ(bad.exit_status, 2);
    EXPECT_NE(bad.err.find("/0/fault/colour"), std::string::npos) << bad.err;
    std::remove(path.c_str());
}

}  // namespace
}  // namespace ringkv::testing

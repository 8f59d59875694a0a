// ringkv-bench run for real against the real server: its JSON, its exit
// codes, its open-loop rate and request counts.
#include "harness.hh"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace ringkv::testing {
namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// The number after "name": in a JSON text (first occurrence).
double json_number(const std::string& json, const std::string& name) {
    const std::size_t at = json.find("\"" + name + "\": ");
    if (at == std::string::npos) return -1;
    return std::stod(json.substr(at + name.size() + 4));
}

process_result bench(const std::vector<std::string>& args, int timeout_ms = 30'000) {
    return run_program_to_exit("RINGKV_BENCH_BINARY", args, timeout_ms);
}

TEST(ringkv_bench, closed_loop_run_writes_a_consistent_histogram) {
    server_process server({"--threads", "2"});
    const std::string json = ::testing::TempDir() + "bench-closed.json";
    auto run = bench({"--url", "http://127.0.0.1:" + std::to_string(server.port()) + "/v2", "--threads", "2",
                      "--connections", "8", "--pipeline", "4", "--duration", "2", "--keys", "500",
                      "--mix", "get=80,put=10,delete=5,list=5", "--value-size", "1-300", "--zipf", "0.99",
                      "--json", json, "--quiet"});
    ASSERT_EQ(run.exit_status, 0) << run.err;
    EXPECT_NE(run.out.find("closed loop"), std::string::npos);
    const std::string text = read_file(json);
    const double requests = json_number(text, "requests");
    EXPECT_GT(requests, 1000);
    EXPECT_EQ(json_number(text, "errors"), 0);
    // The buckets add up to the requests, and the percentiles are ordered.
    double in_buckets = 0;
    const std::size_t start = text.find("\"buckets\": [");
    ASSERT_NE(start, std::string::npos);
    std::istringstream buckets(text.substr(start + 12));
    char c;
    double low, high, count;
    while (buckets >> c && c == '[' && buckets >> low >> c >> high >> c >> count >> c) {
        EXPECT_LE(low, high);
        in_buckets += count;
        buckets >> c;  // ',' or ']'
        if (c == ']') break;
    }
    EXPECT_EQ(in_buckets, requests);
    EXPECT_LE(json_number(text, "p50"), json_number(text, "p99"));
    EXPECT_LE(json_number(text, "p99"), json_number(text, "max"));
    EXPECT_GT(json_number(text, "status\": {\"200"), 0);
    EXPECT_EQ(server.stop(), 0);  // the run deleted its namespace and left the server healthy
}

TEST(ringkv_bench, open_loop_holds_its_rate_and_counts_requests) {
    server_process server({"--threads", "2"});
    const std::string url = "http://127.0.0.1:" + std::to_string(server.port());
    const std::string json = ::testing::TempDir() + "bench-open.json";
    auto run = bench({"--url", url, "--connections", "10", "--rate", "2000", "--duration", "2", "--warmup", "0.5",
                      "--json", json, "--quiet"});
    ASSERT_EQ(run.exit_status, 0) << run.err;
    const std::string text = read_file(json);
    EXPECT_NEAR(json_number(text, "throughput_rps"), 2000, 100);
    EXPECT_NEAR(json_number(text, "requests"), 4000, 40);
    auto counted = bench({"--url", url, "--connections", "7", "--requests", "1000", "--mix", "put=1", "--quiet"});
    ASSERT_EQ(counted.exit_status, 0) << counted.err;
    EXPECT_NE(counted.out.find("requests             1000 "), std::string::npos) << counted.out;
}

TEST(ringkv_bench, failures_are_clear_and_non_zero) {
    auto unreachable = bench({"--url", "http://127.0.0.1:1/v2", "--duration", "1"});
    EXPECT_EQ(unreachable.exit_status, 1);
    EXPECT_NE(unreachable.err.find("cannot connect to 127.0.0.1:1"), std::string::npos) << unreachable.err;
    auto flags = bench({"--rate", "fast"});
    EXPECT_EQ(flags.exit_status, 2);
    EXPECT_NE(flags.err.find("bad value for --rate"), std::string::npos);

    const std::string tokens = ::testing::TempDir() + "bench-tokens.txt";
    std::ofstream(tokens) << "good\n";
    server_process server({"--threads", "1", "--tokens", tokens});
    auto refused = bench({"--url", "http://127.0.0.1:" + std::to_string(server.port()), "--token", "bad", "--duration", "1"});
    EXPECT_EQ(refused.exit_status, 1);
    EXPECT_NE(refused.err.find("answered 401"), std::string::npos) << refused.err;
    // A namespace that is not this organization's: refused before the run.
    auto foreign = bench({"--url", "http://127.0.0.1:" + std::to_string(server.port()), "--token", "good",
                          "--namespace", "00000000-0000-4000-8000-000000000000", "--no-prefill", "--duration", "1",
                          "--quiet"});
    EXPECT_EQ(foreign.exit_status, 1);
    EXPECT_NE(foreign.err.find("answered 404"), std::string::npos) << foreign.err;
}

}  // namespace
}  // namespace ringkv::testing

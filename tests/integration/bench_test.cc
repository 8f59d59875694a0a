// ringkv-bench run for real against the real server: its JSON, its exit
// codes, its open-loop rate and request counts.
#include "harness.hh"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

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

// Only what does not depend on the machine's load is asserted: exact
// counts, and the open-loop schedule as a floor (request i of a connection
// is never sent before its due time, so the run cannot finish sooner than
// the schedule's last due time: it never runs faster than --rate). How close the
// generator keeps to its rate is measured in bench/, not here.
TEST(ringkv_bench, open_loop_keeps_to_its_schedule_and_counts_requests) {
    server_process server({"--threads", "2"});
    const std::string url = "http://127.0.0.1:" + std::to_string(server.port());
    const std::string json = ::testing::TempDir() + "bench-open.json";
    // 1000 requests at 2000/s over 10 connections: each connection sends
    // 100, one every 5 ms, connection c starting c * 0.5 ms in; the last is
    // due 99 * 5 + 4.5 = 499.5 ms after the start.
    auto run = bench({"--url", url, "--connections", "10", "--rate", "2000", "--requests", "1000", "--warmup", "0",
                      "--json", json, "--quiet"}, 120'000);
    ASSERT_EQ(run.exit_status, 0) << run.err;
    std::string text = read_file(json);
    EXPECT_EQ(json_number(text, "requests"), 1000) << text;
    EXPECT_EQ(json_number(text, "errors"), 0) << text;
    EXPECT_GE(json_number(text, "seconds"), 0.4995) << "sent ahead of the open-loop schedule: " << text;
    // A timed run never sends more than its schedule holds: at most
    // rate * duration, plus one per connection for the turn at the edge.
    run = bench({"--url", url, "--connections", "10", "--rate", "2000", "--duration", "1", "--warmup", "0",
                 "--json", json, "--quiet"}, 120'000);
    ASSERT_EQ(run.exit_status, 0) << run.err;
    text = read_file(json);
    EXPECT_GT(json_number(text, "requests"), 0) << text;
    EXPECT_LE(json_number(text, "requests"), 2000 + 10) << text;
    EXPECT_EQ(json_number(text, "errors"), 0) << text;
    auto counted = bench({"--url", url, "--connections", "7", "--requests", "1000", "--mix", "put=1", "--quiet"});
    ASSERT_EQ(counted.exit_status, 0) << counted.err;
    EXPECT_NE(counted.out.find("requests             1000 "), std::string::npos) << counted.out;
}

// A server that answers the namespace check, then reads every request and
// answers none: what a hung server looks like to a client.
class stalling_server {
public:
    stalling_server() {
        _listener = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(_listener, reinterpret_cast<sockaddr*>(&address), sizeof(address));
        socklen_t length = sizeof(address);
        ::getsockname(_listener, reinterpret_cast<sockaddr*>(&address), &length);
        _port = ntohs(address.sin_port);
        ::listen(_listener, 64);
        _thread = std::thread([this] { serve(); });
    }
    ~stalling_server() {
        _stop = true;
        _thread.join();
        for (int fd : _clients) ::close(fd);
        ::close(_listener);
    }
    std::uint16_t port() const { return _port; }

private:
    void serve() {
        while (!_stop) {
            std::vector<pollfd> fds{{_listener, POLLIN, 0}};
            for (int fd : _clients) fds.push_back({fd, POLLIN, 0});
            if (poll(fds.data(), fds.size(), 50) <= 0) continue;
            if (fds[0].revents & POLLIN) _clients.push_back(::accept(_listener, nullptr, nullptr));
            for (std::size_t i = 1; i < fds.size(); ++i) {
                if (!(fds[i].revents & POLLIN)) continue;
                char buffer[65536];
                const ssize_t n = ::recv(fds[i].fd, buffer, sizeof(buffer), 0);
                if (n > 0 && std::string(buffer, std::size_t(n)).starts_with("GET /v2/storage/kvs/" + namespace_id + " ")) {
                    const std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"data\":{}}";
                    ::send(fds[i].fd, answer.data(), answer.size(), MSG_NOSIGNAL);
                }
            }
        }
    }
    int _listener = -1;
    std::uint16_t _port = 0;
    std::vector<int> _clients;
    std::atomic<bool> _stop{false};
    std::thread _thread;

public:
    static inline const std::string namespace_id = "00000000-0000-4000-8000-000000000000";
};

TEST(ringkv_bench, a_server_that_stops_answering_fails_the_run_in_time) {
    stalling_server hung;
    const auto start = std::chrono::steady_clock::now();
    auto run = bench({"--url", "http://127.0.0.1:" + std::to_string(hung.port()), "--namespace",
                      stalling_server::namespace_id, "--no-prefill", "--duration", "1", "--timeout", "1", "--quiet"});
    EXPECT_EQ(run.exit_status, 1);
    EXPECT_NE(run.err.find("no response within --timeout"), std::string::npos) << run.err;
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
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

// --tokens 3: three organizations, each with one namespace of its own and
// load from its own connections. The server accepts only those three tokens
// and one namespace each, and keeps deleted namespaces listed ("deleting"),
// so each organization's listing shows the one namespace the run made.
TEST(ringkv_bench, tokens_spread_the_run_over_organizations) {
    const std::string tokens = ::testing::TempDir() + "bench-org-tokens.txt";
    std::ofstream(tokens) << "org-0\norg-1\norg-2\n";
    server_process server({"--threads", "2", "--tokens", tokens, "--namespaces-per-org", "1", "--delete-delay", "60000"});
    const std::string json = ::testing::TempDir() + "bench-tokens.json";
    auto run = bench({"--url", "http://127.0.0.1:" + std::to_string(server.port()), "--token", "org", "--tokens", "3",
                      "--connections", "6", "--requests", "3000", "--mix", "get=50,put=50", "--keys", "100",
                      "--json", json, "--quiet"});
    ASSERT_EQ(run.exit_status, 0) << run.err;
    EXPECT_NE(run.out.find("6 connection(s) over 3 organization(s)"), std::string::npos) << run.out;
    EXPECT_EQ(json_number(read_file(json), "organizations"), 3);
    EXPECT_EQ(json_number(read_file(json), "errors"), 0);
    for (const std::string token : {"org-0", "org-1", "org-2"}) {
        auto listed = exchange(server.port(), get("/v2/storage/kvs", "Authorization: Bearer " + token + "\r\n"));
        ASSERT_TRUE(listed);
        EXPECT_EQ(listed->status, 200);
        EXPECT_NE(listed->body.find("\"total_results\":1}"), std::string::npos) << token << ": " << listed->body;
        EXPECT_EQ(json_string(listed->body, "status"), "deleting") << token;
    }
}

TEST(ringkv_bench, server_stats_print_the_servers_own_percentiles_beside_the_clients) {
    server_process server({"--threads", "2", "--admin-token", "adm"});
    const std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/v2";
    const std::vector<std::string> load = {"--url", url, "--connections", "4", "--requests", "3000", "--keys", "100",
                                           "--mix", "get=80,put=20", "--quiet", "--server-stats"};
    auto refused = bench(load);
    EXPECT_EQ(refused.exit_status, 1);
    EXPECT_NE(refused.err.find("--server-stats: the server wants its admin token"), std::string::npos) << refused.err;
    std::vector<std::string> with_token = load;
    with_token.insert(with_token.end(), {"--admin-token", "adm"});
    auto run = bench(with_token);
    ASSERT_EQ(run.exit_status, 0) << run.err;
    const std::size_t server_part = run.out.find("  server (");
    ASSERT_NE(server_part, std::string::npos) << run.out;
    // The window starts with the run: the server counted exactly its GETs
    // and PUTs (the prefill before it is left out).
    const std::regex row(R"(  (get_key|put_key) +([0-9]+)  p50 [0-9.]+ [mun]?s  p90 )");
    std::uint64_t counted = 0;
    const std::string rows = run.out.substr(server_part);
    for (auto it = std::sregex_iterator(rows.begin(), rows.end(), row); it != std::sregex_iterator(); ++it) {
        counted += std::stoull((*it)[2]);
    }
    EXPECT_EQ(counted, 3000u) << run.out;

    server_process closed({"--threads", "1", "--no-admin"});
    auto missing = bench({"--url", "http://127.0.0.1:" + std::to_string(closed.port()) + "/v2", "--requests", "10",
                          "--quiet", "--server-stats"});
    EXPECT_EQ(missing.exit_status, 1);
    EXPECT_NE(missing.err.find("has no /_ringkv/stats"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace ringkv::testing

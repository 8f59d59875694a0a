// The HTTP core through the real binary: framing, pipelining, limits,
// timeouts, the connection bound, flags and shutdown.
#include "harness.hh"

#include <gtest/gtest.h>

#include <sys/resource.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

namespace ringkv::testing {
namespace {

const std::string not_found_body =
    R"({"errors":[{"code":"10005","title":"Resource not found","detail":"no route matches this path",)"
    R"("meta":{"url":"https://docs.telnyx.com/api/errors/10005"}}]})";

class server_test : public ::testing::Test {
protected:
    server_process server{{"--threads", "2"}};
};

TEST_F(server_test, healthz_answers_200_with_date_and_length) {
    auto r = exchange(server.port(), get("/healthz"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, R"({"data":{"status":"online"}})");
    EXPECT_EQ(r->header("content-type"), "application/json");
    EXPECT_EQ(r->header("content-length"), "28");
    EXPECT_EQ(r->header("date").size(), 29u);  // "Thu, 26 Nov 2026 16:43:23 GMT"
    EXPECT_EQ(r->header("date").substr(26), "GMT");
}

TEST_F(server_test, head_has_the_headers_and_no_body) {
    client c(server.port());
    c.send("HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\n" + get("/healthz"));
    auto head = c.read_response(5000, true);
    ASSERT_TRUE(head);
    EXPECT_EQ(head->status, 200);
    EXPECT_EQ(head->header("content-length"), "28");
    auto after = c.read_response();  // proves no body bytes were sent
    ASSERT_TRUE(after);
    EXPECT_EQ(after->body, R"({"data":{"status":"online"}})");
}

TEST_F(server_test, unknown_path_is_404_with_the_json_error) {
    auto r = exchange(server.port(), get("/v2/nothing/here"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404);
    EXPECT_EQ(r->body, not_found_body);
    EXPECT_EQ(r->header("content-type"), "application/json");
}

TEST_F(server_test, wrong_method_is_405_with_allow) {
    auto r = exchange(server.port(), "DELETE /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 405);
    EXPECT_EQ(r->header("allow"), "GET, HEAD");
    EXPECT_NE(r->body.find(R"("code":"10015")"), std::string::npos);
}

TEST_F(server_test, pipelined_responses_come_back_in_order) {
    client c(server.port());
    std::string burst;
    constexpr int count = 500;
    for (int i = 0; i < count; ++i) burst += get(i % 3 == 0 ? "/missing" : "/healthz");
    c.send(burst);
    for (int i = 0; i < count; ++i) {
        auto r = c.read_response();
        ASSERT_TRUE(r) << "response " << i;
        ASSERT_EQ(r->status, i % 3 == 0 ? 404 : 200) << "response " << i;
    }
}

TEST_F(server_test, keep_alive_survives_many_requests_and_a_chunked_body) {
    client c(server.port());
    for (int i = 0; i < 20; ++i) {
        c.send(get("/healthz"));
        ASSERT_EQ(c.read_response()->status, 200);
    }
    c.send("POST /nope HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nabcd\r\n0\r\nX-Trailer: 1\r\n\r\n");
    EXPECT_EQ(c.read_response()->status, 404);
    c.send("GET /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
    EXPECT_EQ(c.read_response()->status, 200);
    c.send(get("/healthz"));
    EXPECT_EQ(c.read_response()->status, 200);
}

TEST_F(server_test, http10_closes_unless_keep_alive) {
    client plain(server.port());
    plain.send("GET /healthz HTTP/1.0\r\n\r\n");
    auto r = plain.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(plain.closed_by_server());

    client kept(server.port());
    kept.send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    r = kept.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->header("connection"), "keep-alive");
    kept.send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    EXPECT_EQ(kept.read_response()->status, 200);
}

TEST_F(server_test, connection_close_is_honoured) {
    client c(server.port());
    c.send(get("/healthz", "Connection: close\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_TRUE(c.closed_by_server());
}

TEST_F(server_test, content_length_over_a_mebibyte_is_413_before_the_body) {
    client c(server.port());
    c.send("GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 1048577\r\n\r\n");  // no body sent
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_TRUE(c.closed_by_server());
}

TEST_F(server_test, a_body_of_exactly_a_mebibyte_is_accepted) {
    client c(server.port());
    c.send("GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 1048576\r\n\r\n" + std::string(1048576, 'v'));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
}

TEST_F(server_test, chunked_body_is_413_once_it_passes_the_limit) {
    client c(server.port());
    c.send("GET /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    const std::string chunk = "10000\r\n" + std::string(0x10000, 'x') + "\r\n";
    for (int i = 0; i < 16; ++i) c.send(chunk);  // exactly 1 MiB: still fine
    c.send("1\r\nx\r\n");                        // one byte more
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
    EXPECT_TRUE(c.closed_by_server());
}

TEST_F(server_test, expect_continue_gets_100_only_when_acceptable) {
    client ok(server.port());
    ok.send("GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    auto interim = ok.read_response();
    ASSERT_TRUE(interim);
    EXPECT_EQ(interim->status, 100);
    ok.send("hello");
    EXPECT_EQ(ok.read_response()->status, 200);

    client refused(server.port());
    refused.send("PUT /nowhere HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    auto final_answer = refused.read_response();
    ASSERT_TRUE(final_answer);
    EXPECT_EQ(final_answer->status, 404);

    client too_big(server.port());
    too_big.send("GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\nExpect: 100-continue\r\n\r\n");
    auto r = too_big.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
}

TEST_F(server_test, malformed_request_is_400_and_close) {
    client c(server.port());
    c.send("THIS IS NOT HTTP\r\n\r\n");
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_NE(r->body.find(R"("code":"10015")"), std::string::npos);
    EXPECT_TRUE(c.closed_by_server());
}

TEST_F(server_test, long_target_is_414_and_big_header_block_is_431) {
    auto r = exchange(server.port(), get("/" + std::string(8192, 'a')));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 414);
    r = exchange(server.port(), get("/healthz", "X-Big: " + std::string(17000, 'b') + "\r\n"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 431);
    r = exchange(server.port(), get("/healthz", "X-Fits: " + std::string(16000, 'b') + "\r\n"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
}

TEST_F(server_test, many_connections_across_threads) {
    std::vector<std::unique_ptr<client>> clients;
    for (int i = 0; i < 200; ++i) clients.push_back(std::make_unique<client>(server.port()));
    for (auto& c : clients) c->send(get("/healthz"));
    for (auto& c : clients) {
        auto r = c->read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200);
    }
}

TEST(server_timeouts, slowloris_head_is_cut_off_with_408) {
    server_process server({"--threads", "1", "--header-timeout-ms", "300"});
    client c(server.port());
    c.send("GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ");
    const auto start = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    c.send("a");  // trickling bytes does not extend the deadline
    auto r = c.read_response(3000);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 408);
    EXPECT_TRUE(c.closed_by_server());
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST(server_timeouts, silent_new_connection_and_idle_keep_alive_are_closed) {
    server_process server({"--threads", "1", "--header-timeout-ms", "200", "--idle-timeout-ms", "300"});
    client silent(server.port());
    EXPECT_TRUE(silent.closed_by_server(3000));
    client idle(server.port());
    idle.send(get("/healthz"));
    ASSERT_EQ(idle.read_response()->status, 200);
    EXPECT_TRUE(idle.closed_by_server(3000));
}

TEST(server_limits, connections_past_the_bound_get_503) {
    server_process server({"--threads", "1", "--connections-per-core", "2"});
    client a(server.port()), b(server.port());
    a.send(get("/healthz"));
    b.send(get("/healthz"));
    ASSERT_EQ(a.read_response()->status, 200);
    ASSERT_EQ(b.read_response()->status, 200);
    client c(server.port());
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_TRUE(c.closed_by_server());
    // The two admitted connections still work.
    a.send(get("/healthz"));
    EXPECT_EQ(a.read_response()->status, 200);
}

TEST(server_shutdown, sigterm_closes_idle_connections_and_exits_0) {
    server_process server({"--threads", "2"});
    client idle(server.port());
    idle.send(get("/healthz"));
    ASSERT_EQ(idle.read_response()->status, 200);
    client mid(server.port());
    mid.send("GET /healthz HTTP/1.1\r\nHost: t\r\n");  // a request in progress...
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::thread finisher([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        mid.send("\r\n");  // ...finished during the drain
    });
    const auto start = std::chrono::steady_clock::now();
    const int status = server.stop();
    finisher.join();
    EXPECT_EQ(status, 0);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
    EXPECT_TRUE(idle.closed_by_server(1000));
    auto r = mid.read_response(1000);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->header("connection"), "close");
}

TEST(server_flags, bad_flags_and_busy_ports_fail_with_one_line) {
    auto bad = run_to_exit({"--threads", "zero"});
    EXPECT_EQ(bad.exit_status, 2);
    EXPECT_EQ(bad.err, "ringkv: bad value for --threads 'zero' (see --help)\n");
    auto unknown = run_to_exit({"--frobnicate"});
    EXPECT_EQ(unknown.exit_status, 2);
    EXPECT_NE(unknown.err.find("unknown option --frobnicate"), std::string::npos);

    server_process running({"--threads", "1"});
    auto busy = run_to_exit({"--port", std::to_string(running.port())});
    EXPECT_EQ(busy.exit_status, 1);
    EXPECT_NE(busy.err.find("port already in use"), std::string::npos);
    EXPECT_EQ(std::count(busy.err.begin(), busy.err.end(), '\n'), 1);

    auto help = run_to_exit({"--help"});
    EXPECT_EQ(help.exit_status, 0);
    EXPECT_NE(help.out.find("--header-timeout-ms"), std::string::npos);
    auto version = run_to_exit({"--version"});
    EXPECT_EQ(version.exit_status, 0);
    EXPECT_EQ(version.out.rfind("ringkv ", 0), 0u);
}


// The options that only mean something with a data directory are refused
// without one, whichever of them is given (and whatever its value).
TEST(server_flags, persistence_options_without_a_data_dir_are_refused) {
    for (const std::vector<std::string>& flags : std::vector<std::vector<std::string>>{
             {"--log", "always"}, {"--snapshot-every-s", "5"}, {"--snapshot-mb-per-s", "16"},
             {"--snapshot-mb-per-s", "0"}}) {
        SCOPED_TRACE(flags[0] + " " + flags[1]);
        auto refused = run_to_exit(flags);
        EXPECT_EQ(refused.exit_status, 2);
        EXPECT_NE(refused.err.find("need --data-dir"), std::string::npos) << refused.err;
    }
    auto out_of_range = run_to_exit({"--snapshot-mb-per-s", "1048577", "--data-dir", "/tmp"});
    EXPECT_EQ(out_of_range.exit_status, 2);
    EXPECT_EQ(out_of_range.err, "ringkv: bad value for --snapshot-mb-per-s '1048577' (see --help)\n");
}

// POST /v2/storage/kvs on `c` (a reused connection); the status.
int create_namespace_status(client& c, const std::string& name) {
    const std::string body = R"({"name":")" + name + R"("})";
    c.send("POST /v2/storage/kvs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer env-org\r\n"
           "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
    auto r = c.read_response();
    return r ? r->status : -1;
}

// Sets an environment variable for the life of the object (the server
// started meanwhile inherits it).
struct scoped_environment {
    scoped_environment(const char* name, const char* value) : name(name) { setenv(name, value, 1); }
    ~scoped_environment() { unsetenv(name); }
    const char* name;
};

// A thread the kernel refuses at start (a core's, or the one that waits
// for every core to start, under --threads 1) stops the start with one
// line naming it and exit status 1. It used to end in an uncaught
// std::system_error: terminate, SIGABRT.
TEST(server_flags, a_thread_the_kernel_refuses_at_start_fails_with_one_line) {
    for (const std::string threads : {"1", "2", "3"}) {
        const process_result refused = run_to_exit_refusing_threads({"--port", "0", "--threads", threads});
        EXPECT_EQ(refused.exit_status, 1) << threads << ": " << refused.err;
        const std::string what = threads == "1" ? "the thread that waits for every core to start" : "core 1's thread";
        EXPECT_EQ(refused.err, "ringkv: starting " + what + ": Resource temporarily unavailable\n") << threads;
        EXPECT_EQ(refused.out, "") << threads;
    }
}

TEST(server_flags, every_option_has_an_environment_variable_and_the_flag_wins) {
    {
        scoped_environment limit("RINGKV_NAMESPACES_PER_ORG", "1");
        server_process from_environment({"--threads", "1"});
        client c(from_environment.port());
        EXPECT_EQ(create_namespace_status(c, "first"), 201);
        EXPECT_EQ(create_namespace_status(c, "second"), 422);

        server_process flag_wins({"--threads", "1", "--namespaces-per-org", "2"});
        client d(flag_wins.port());
        EXPECT_EQ(create_namespace_status(d, "first"), 201);
        EXPECT_EQ(create_namespace_status(d, "second"), 201);
        EXPECT_EQ(create_namespace_status(d, "third"), 422);
    }
    {
        scoped_environment bad("RINGKV_THREADS", "zero");
        auto refused = run_to_exit({});
        EXPECT_EQ(refused.exit_status, 2);
        EXPECT_EQ(refused.err, "ringkv: bad value for RINGKV_THREADS 'zero' (see --help)\n");
        // The command line wins: the bad variable is not even read.
        server_process started({"--threads", "1"});
        auto r = exchange(started.port(), get("/healthz"));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200);
    }
    scoped_environment bad_switch("RINGKV_NO_ADMIN", "maybe");
    auto refused = run_to_exit({});
    EXPECT_EQ(refused.exit_status, 2);
    EXPECT_EQ(refused.err, "ringkv: bad value for RINGKV_NO_ADMIN 'maybe' (see --help)\n");
}

TEST(server_flags, the_readme_lists_the_options_exactly_as_help_prints_them) {
    const char* root = std::getenv("RINGKV_SOURCE_ROOT");
    ASSERT_NE(root, nullptr);
    std::ifstream file(std::string(root) + "/README.md");
    std::stringstream readme;
    readme << file.rdbuf();
    const std::string help = run_to_exit({"--help"}).out;
    const std::size_t options = help.find("Options:\n");
    ASSERT_NE(options, std::string::npos);
    const std::string block = "```\n" + help.substr(options + 9) + "```\n";
    EXPECT_NE(readme.str().find(block), std::string::npos) << "README.md's options block differs from --help:\n" << block;
}

TEST(control_plane, an_unknown_control_path_is_a_json_404_on_a_reused_connection) {
    server_process server({"--threads", "1"});
    client c(server.port());
    for (const char* path : {"/_ringkv/", "/_ringkv/nothing", "/_ringkv/stats/../x", "/_ringkv"}) {
        c.send(get(path));
        auto r = c.read_response();
        ASSERT_TRUE(r) << path;
        EXPECT_EQ(r->status, 404) << path;
        EXPECT_EQ(r->header("content-type"), "application/json") << path;
        EXPECT_NE(r->body.find(R"("code":"10005")"), std::string::npos) << path;
    }
    c.send(get("/healthz"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
}

// Started with a soft open-file limit of 64 (a shell's default is often
// 1024, below the default bound), the server raises it towards the hard
// limit so every connection its bound allows is accepted and served, not
// left waiting in the kernel's queue.
TEST(server_limits, the_open_file_limit_is_raised_to_hold_the_connection_bound) {
    constexpr int connections = 200;
    rlimit saved{};
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
    ASSERT_GE(saved.rlim_max, rlim_t(300 + 4 + 64)) << "the hard open-file limit is too low for this test";
    rlimit low = saved;
    low.rlim_cur = 64;
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
    server_process server({"--threads", "1", "--connections-per-core", "300"});  // inherits the low limit
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);

    std::ifstream limits("/proc/" + std::to_string(server.pid()) + "/limits");
    std::string line;
    while (std::getline(limits, line) && !line.starts_with("Max open files")) {}
    std::istringstream fields(line.substr(std::string("Max open files").size()));
    unsigned long long soft = 0;
    fields >> soft;
    EXPECT_GE(soft, 300u + 4 + 64) << line;

    std::vector<std::unique_ptr<client>> clients;
    for (int i = 0; i < connections; ++i) {
        clients.push_back(std::make_unique<client>(server.port()));
        clients.back()->send(get("/healthz"));
    }
    for (int i = 0; i < connections; ++i) {
        auto r = clients[i]->read_response();
        ASSERT_TRUE(r) << "connection " << i << " was not served";
        EXPECT_EQ(r->status, 200);
    }
}

}  // namespace
}  // namespace ringkv::testing

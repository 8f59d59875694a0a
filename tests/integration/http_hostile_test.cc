// Hostile input against the real binary (issue: no input can crash, corrupt,
// leak or starve ringkv). One connection is reused across many requests, as
// a load generator does; a case that ends in a close is preceded by a good
// request on the same connection.
#include "harness.hh"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <cstdlib>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

namespace ringkv::testing {
namespace {

using namespace std::chrono_literals;

const std::string auth = "Authorization: Bearer t\r\n";

std::string request(const std::string& method, const std::string& path, const std::string& body = "",
                    const std::string& headers = "") {
    std::string r = method + " " + path + " HTTP/1.1\r\nHost: t\r\n" + auth + headers;
    if (!body.empty() || method == "PUT" || method == "POST") r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    return r + "\r\n" + body;
}

std::string key_path(const std::string& id, const std::string& key) { return "/v2/storage/kvs/" + id + "/keys/" + key; }

// Creates a namespace on `c` and returns its id.
std::string create_namespace(client& c, const std::string& name) {
    c.send(request("POST", "/v2/storage/kvs", R"({"name":")" + name + "\"}"));
    const auto r = c.read_response();
    EXPECT_TRUE(r);
    if (!r) return "";
    EXPECT_EQ(r->status, 201) << r->body;
    const std::string marker = "\"id\":\"";
    const std::size_t at = r->body.find(marker);
    return at == std::string::npos ? "" : r->body.substr(at + marker.size(), 36);
}

// A PUT of exactly `total` bytes, head and body.
std::string put_of_size(const std::string& path, std::size_t total) {
    const std::size_t head = request("PUT", path, "", "Content-Type: text/plain\r\n").size() - 1;  // "0"
    std::size_t body = total - head;
    while (head + std::to_string(body).size() + body > total) --body;
    return request("PUT", path, std::string(body, 'x'), "Content-Type: text/plain\r\n");
}

int status_of(client& c, const std::string& bytes, bool head_only = false) {
    c.send(bytes);
    const auto r = c.read_response(5000, head_only);
    return r ? r->status : 0;
}

// After a request whose answer is `status`: the server closes, and nothing
// (no second answer: 408, 400, 413) came before the close.
void expect_one_answer_then_close(client& c, int status) {
    const auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status);
    EXPECT_TRUE(c.closed_by_server(3000));
    EXPECT_EQ(c.read_raw(1, 100), "") << "a second answer";
}

// A good request first, so the bad one arrives on a used connection; then
// `bad` must get `status`, Connection: close, and the close.
void expect_refused(std::uint16_t port, const std::string& bad, int status) {
    client c(port);
    ASSERT_EQ(status_of(c, get("/healthz")), 200);
    c.send(bad);
    const auto r = c.read_response();
    ASSERT_TRUE(r) << ::testing::PrintToString(bad);
    EXPECT_EQ(r->status, status) << ::testing::PrintToString(bad);
    EXPECT_EQ(r->header("connection"), "close") << ::testing::PrintToString(bad);
    EXPECT_TRUE(c.closed_by_server(2000)) << ::testing::PrintToString(bad);
}

class http_hostile : public ::testing::Test {
protected:
    server_process server{{"--threads", "2"}};
};

TEST_F(http_hostile, many_requests_share_one_connection) {
    client c(server.port());
    for (int i = 0; i < 100; ++i) ASSERT_EQ(status_of(c, get("/healthz")), 200);
}

// Defect 1: a request ending exactly at the read buffer's end (32 KiB), and
// at every offset around it, first on a connection, then more requests on
// the same connection.
TEST_F(http_hostile, requests_ending_at_and_around_the_read_buffer_end_keep_the_server_up) {
    std::string id;
    {
        client setup(server.port());
        id = create_namespace(setup, "wrap");
    }
    client reused(server.port());
    for (std::size_t total = 32768 - 64; total <= 32768 + 64; ++total) {
        const std::string bytes = put_of_size(key_path(id, "k"), total);
        ASSERT_EQ(bytes.size(), total);
        client c(server.port());
        for (client* on : {&c, &reused}) {
            const int status = status_of(*on, bytes);
            ASSERT_TRUE(status == 200 || status == 201) << "request of " << total << " bytes: " << status;
            ASSERT_EQ(status_of(*on, get("/healthz")), 200) << "after " << total << " bytes";
        }
    }
}

TEST_F(http_hostile, a_32_kib_first_request_does_not_abort_the_server) {
    client c(server.port());
    std::string id;
    {
        client setup(server.port());
        id = create_namespace(setup, "first");
    }
    const std::string bytes = put_of_size(key_path(id, "k"), 32768);
    ASSERT_EQ(bytes.size(), 32768u);
    EXPECT_EQ(status_of(c, bytes), 201);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(status_of(c, request("GET", key_path(id, "k"))), 200);
}

// Defect 2: a big body on a keep-alive connection must not overwrite the
// head it belongs to; the stored Content-Type is exactly what was sent.
TEST_F(http_hostile, content_type_survives_a_64_kib_body) {
    client c(server.port());
    const std::string id = create_namespace(c, "ct");
    const std::string value(64 * 1024, 'v');
    for (int round = 0; round < 3; ++round) {
        ASSERT_EQ(status_of(c, get("/healthz")), 200);
        const int put = status_of(c, request("PUT", key_path(id, "big"), value, "Content-Type: text/plain\r\n"));
        ASSERT_TRUE(put == 201 || put == 200);
        c.send(request("GET", key_path(id, "big")));
        const auto r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200);
        EXPECT_EQ(r->header("content-type"), "text/plain");
        EXPECT_EQ(r->body, value);
    }
}

// Defect 5: bytes after chunk data other than CRLF are 400; the PUT hidden
// behind them never runs.
TEST_F(http_hostile, a_request_smuggled_in_a_chunked_body_never_runs) {
    std::string id;
    {
        client setup(server.port());
        id = create_namespace(setup, "smuggle");
    }
    client c(server.port());
    ASSERT_EQ(status_of(c, get("/healthz")), 200);
    c.send("POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n" +
           request("PUT", key_path(id, "hidden"), "evil"));
    const auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_NE(r->status, 200);
    EXPECT_TRUE(c.closed_by_server(2000));
    client check(server.port());
    EXPECT_EQ(status_of(check, request("GET", key_path(id, "hidden"))), 404);
}

// Defect 6: RFC 9112 framing. 400 and close, 505 for versions.
TEST_F(http_hostile, strict_http_1_1_framing_is_refused_and_closed) {
    const std::string host = "Host: t\r\n";
    for (const std::string& bad : {
             "GET /healthz HTTP/1.1\r\n" + host + "Bad Name: x\r\n\r\n",
             "GET /healthz HTTP/1.1\r\n" + host + ": v\r\n\r\n",
             std::string("GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n"),
             "GET  /healthz HTTP/1.1\r\n" + host + "\r\n",
             "GET /healthz  HTTP/1.1\r\n" + host + "\r\n",
             std::string("GET /healthz\r\n"),
             std::string("GET /healthz HTTP/1.1\r\n\r\n"),
             "GET /healthz HTTP/1.1\r\n" + host + host + "\r\n",
             "GET /healthz HTTP/1.1\r\n" + host + "Content-Type: text/plain\r\n injected\r\n\r\n",
             "POST /healthz HTTP/1.1\r\n" + host + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
             "POST /healthz HTTP/1.1\r\n" + host + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
             "POST /healthz HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
             "POST /healthz HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip\r\n\r\n",
             "GET /v2/storage/kvs HTTP/1.1\r\n" + host + "Authorization: Bearer a\r\nAuthorization: Bearer b\r\n\r\n",
             "GET /healthz HTTP/1.1\r\n" + host + "Content-Type: a/b\r\nContent-Type: c/d\r\n\r\n",
         }) {
        expect_refused(server.port(), bad, 400);
    }
    for (const char* version : {"2.0", "1.2", "3.0", "0.9"}) {
        expect_refused(server.port(), std::string("GET /healthz HTTP/") + version + "\r\n" + host + "\r\n", 505);
    }
}

// Defect 6: obs-fold in Content-Type used to store a raw CRLF (release) or
// abort (debug); nothing is stored and no later response carries it.
TEST_F(http_hostile, a_folded_content_type_is_refused_and_not_stored) {
    std::string id;
    {
        client setup(server.port());
        id = create_namespace(setup, "fold");
    }
    expect_refused(server.port(),
                   "PUT " + key_path(id, "f") + " HTTP/1.1\r\nHost: t\r\n" + auth +
                       "Content-Type: text/plain\r\n X-Injected: 1\r\nContent-Length: 1\r\n\r\nv",
                   400);
    client c(server.port());
    EXPECT_EQ(status_of(c, request("GET", key_path(id, "f"))), 404);
}

// Defect 6: extensions and trailers are accepted (llhttp 8.1 refused
// "5;a=b;c=d"), on a connection that goes on working.
TEST_F(http_hostile, chunk_extensions_and_trailers_are_accepted) {
    client c(server.port());
    const std::string id = create_namespace(c, "chunks");
    c.send("PUT " + key_path(id, "c") + " HTTP/1.1\r\nHost: t\r\n" + auth +
           "Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
           "5;a=b;c=d\r\nhello\r\n6 ; q=\"x;y\"\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n");
    const auto put = c.read_response();
    ASSERT_TRUE(put);
    EXPECT_EQ(put->status, 201) << put->body;
    c.send(request("GET", key_path(id, "c")));
    const auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "hello world");
}

// Defect 6: CONNECT gets one answer (405, close), OPTIONS * one (404).
TEST_F(http_hostile, connect_and_options_star_get_exactly_one_answer) {
    {
        client c(server.port());
        ASSERT_EQ(status_of(c, get("/healthz")), 200);
        c.send("CONNECT host:443 HTTP/1.1\r\nHost: host:443\r\n\r\n");
        const auto r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 405);
        EXPECT_EQ(r->header("connection"), "close");
        EXPECT_FALSE(r->header("allow").empty());
        EXPECT_TRUE(c.closed_by_server(2000));
        EXPECT_EQ(c.read_raw(1, 100), "") << "a second answer";
    }
    client c(server.port());
    EXPECT_EQ(status_of(c, "OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n"), 404);
    EXPECT_EQ(status_of(c, get("/healthz")), 200) << "a second answer, or a closed connection";
}

// Defect 6: Upgrade is ignored: answered as HTTP/1.1, connection usable.
TEST_F(http_hostile, upgrade_requests_are_answered_as_http_1_1_and_the_connection_stays_usable) {
    client c(server.port());
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(status_of(c, get("/healthz", "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n")), 200);
        EXPECT_EQ(status_of(c, get("/healthz")), 200);
        EXPECT_EQ(status_of(c, get("/healthz", "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n")), 200);
        EXPECT_EQ(status_of(c, get("/healthz")), 200);
    }
}

// Defect 7: a request answered at head time (404) whose body is still being
// discarded when the timeout fires gets no second response.
TEST(http_hostile_timeouts, a_request_answered_at_head_gets_no_408_when_its_body_times_out) {
    server_process server({"--threads", "2", "--header-timeout-ms", "300"});
    client c(server.port());
    ASSERT_EQ(status_of(c, get("/healthz")), 200);
    c.send("PUT /nowhere HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n0123456789");
    expect_one_answer_then_close(c, 404);
}

// Defect 7: a refused Expect: 100-continue closes, and says so in its head.
TEST_F(http_hostile, a_refused_expect_continue_says_connection_close) {
    client c(server.port());
    ASSERT_EQ(status_of(c, get("/healthz")), 200);
    c.send("PUT " + key_path("00000000-0000-4000-8000-000000000000", "k") + " HTTP/1.1\r\nHost: t\r\n" + auth +
           "Content-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    const auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404);
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_TRUE(c.closed_by_server(2000));
}

// Defect 7: HTTP/1.0 has no 100 Continue (RFC 9110 10.1.1).
TEST_F(http_hostile, http_1_0_clients_are_never_sent_100_continue) {
    client setup(server.port());
    const std::string id = create_namespace(setup, "ten");
    client c(server.port());
    c.send("PUT " + key_path(id, "k") + " HTTP/1.0\r\nConnection: keep-alive\r\n" + auth +
           "Content-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    EXPECT_EQ(c.read_raw(1, 300), "") << "an interim response to HTTP/1.0";
    c.send("hello");
    const auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 201);
    EXPECT_EQ(status_of(c, "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), 200);
}

// Defect 8: bare CRLFs before a request or between requests do not restart
// the header or idle clock.
TEST(http_hostile_timeouts, a_crlf_trickle_is_closed_within_the_timeouts) {
    server_process server({"--threads", "2", "--header-timeout-ms", "400", "--idle-timeout-ms", "600"});
    const auto trickle_until_closed = [](client& c) {
        const auto start = std::chrono::steady_clock::now();
        while (std::chrono::steady_clock::now() - start < 3s) {
            c.send("\r\n");
            if (c.closed_by_server(100)) return std::chrono::steady_clock::now() - start;
        }
        return std::chrono::steady_clock::duration::max();
    };
    {
        client c(server.port());
        EXPECT_LT(trickle_until_closed(c), 1500ms) << "before the first request";
    }
    {
        client c(server.port());
        ASSERT_EQ(status_of(c, get("/healthz")), 200);
        EXPECT_LT(trickle_until_closed(c), 1500ms) << "between requests";
    }
    client c(server.port());
    ASSERT_EQ(status_of(c, get("/healthz")), 200);
    std::this_thread::sleep_for(300ms);  // idle, but within the idle timeout
    ASSERT_EQ(status_of(c, get("/healthz")), 200);
}

// Defect 13: a body sent with a GET is read and dropped; the answer is right
// and the connection stays usable.
TEST_F(http_hostile, a_get_with_a_big_body_is_answered_and_the_connection_stays_usable) {
    client c(server.port());
    const std::string id = create_namespace(c, "getbody");
    ASSERT_EQ(status_of(c, request("PUT", key_path(id, "k"), "value", "Content-Type: text/plain\r\n")), 201);
    for (int i = 0; i < 3; ++i) {
        c.send(request("GET", key_path(id, "k"), std::string(1024 * 1024, 'g')));
        const auto r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200);
        EXPECT_EQ(r->body, "value");
        EXPECT_EQ(status_of(c, get("/healthz", "Content-Length: 300000\r\n") + std::string(300000, 'h')), 200);
    }
}

// HTTP review 1: the codings of all Transfer-Encoding lines count; "gzip"
// then "chunked" on two lines is "gzip, chunked": 400, close, nothing stored.
TEST_F(http_hostile, a_transfer_coding_list_split_over_two_lines_is_refused_and_nothing_is_stored) {
    client c(server.port());
    const std::string id = create_namespace(c, "telines");
    for (const std::string& codings : {std::string("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"),
                                       std::string("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n")}) {
        expect_refused(server.port(),
                       "PUT " + key_path(id, "te") + " HTTP/1.1\r\nHost: t\r\n" + auth +
                           "Content-Type: text/plain\r\n" + codings + "\r\n5\r\nhello\r\n0\r\n\r\n",
                       400);
    }
    EXPECT_EQ(status_of(c, request("GET", key_path(id, "te"))), 404);
}

// HTTP review 2: an answer at head time to a request whose body the server
// will not read whole (Content-Length past discarded_body_bytes_max) says
// Connection: close and closes at once, without reading a megabyte first.
TEST_F(http_hostile, an_early_answer_to_a_body_it_will_not_read_says_close_and_closes) {
    client c(server.port());
    ASSERT_EQ(status_of(c, get("/healthz")), 200);
    // Within the discard limit: the answer keeps the connection, which stays usable.
    c.send("PUT " + key_path("00000000-0000-4000-8000-000000000000", "k") +
           " HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n");
    const auto kept = c.read_response();
    ASSERT_TRUE(kept);
    EXPECT_EQ(kept->status, 401);
    EXPECT_NE(kept->header("connection"), "close");
    c.send(std::string(1000, 'b'));
    EXPECT_EQ(status_of(c, get("/healthz")), 200);
    // Past it: the body is never sent, yet the answer comes and the server closes.
    const auto start = std::chrono::steady_clock::now();
    c.send("PUT " + key_path("00000000-0000-4000-8000-000000000000", "k") +
           " HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\n");
    const auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_TRUE(c.closed_by_server(3000));
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2500ms) << "the close waited for the body";
}

// HTTP review 2: a chunked body's length is unknown at head time, so an early
// answer keeps the connection; a chunked body past the discard limit then
// closes it, after that one answer (never a second one).
TEST_F(http_hostile, a_chunked_body_past_the_discard_limit_after_an_early_answer_closes_without_a_second_answer) {
    client c(server.port());
    ASSERT_EQ(status_of(c, get("/healthz")), 200);
    const std::string head = "PUT " + key_path("00000000-0000-4000-8000-000000000000", "k") +
                             " HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
    EXPECT_EQ(status_of(c, head + "5\r\nhello\r\n0\r\n\r\n"), 401);
    EXPECT_EQ(status_of(c, get("/healthz")), 200);
    c.send(head + "200000\r\n");  // 2 MiB in one chunk: past the limit
    expect_one_answer_then_close(c, 401);
}

// HTTP review 5: every line of a head ends in CRLF. A bare LF after the
// request line, a header line, as the blank line ending the head, or before
// the request is 400 and close; blank CRLF lines before a request are fine.
TEST_F(http_hostile, a_bare_lf_in_a_head_is_refused_and_blank_crlf_lines_are_not) {
    for (const std::string& bad : {
             std::string("GET /healthz HTTP/1.1\nHost: x\r\n\r\n"),
             std::string("GET /healthz HTTP/1.1\r\nHost: x\n\r\n"),
             std::string("GET /healthz HTTP/1.1\r\nHost: x\r\n\n"),
             std::string("\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"),
         }) {
        expect_refused(server.port(), bad, 400);
    }
    client c(server.port());
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(status_of(c, "\r\n" + get("/healthz")), 200);
        EXPECT_EQ(status_of(c, "\r\n\r\n" + get("/healthz")), 200);
    }
}

// A socket with a tiny receive buffer, for a client that reads slowly.
int slow_socket(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int bytes = 4096;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// HTTP review 6: a whole flush has one deadline (the idle timeout from its
// start). A client reading a few KB every 100 ms, well within the idle
// timeout each time, used to hold a 1 MB response open for as long as it
// liked; it is cut off once the idle timeout has passed.
TEST(http_hostile_timeouts, a_slow_reader_is_cut_off_after_the_idle_timeout_in_total) {
    server_process server({"--threads", "1", "--idle-timeout-ms", "600"});
    std::string id;
    const std::string value(1'000'000, 'v');
    {
        client setup(server.port());
        id = create_namespace(setup, "slow");
        ASSERT_EQ(status_of(setup, request("PUT", key_path(id, "big"), value, "Content-Type: text/plain\r\n")), 201);
    }
    const int fd = slow_socket(server.port());
    ASSERT_GE(fd, 0);
    // More than the kernel's socket buffers hold (4 MiB at most by default),
    // so the server's sends wait on the client's reads.
    constexpr int responses = 8;
    std::string get_big;
    for (int i = 0; i < responses; ++i) get_big += request("GET", key_path(id, "big"));
    ASSERT_EQ(::send(fd, get_big.data(), get_big.size(), MSG_NOSIGNAL), ssize_t(get_big.size()));
    std::size_t received = 0;
    bool closed = false;
    char chunk[65536];
    const auto read_for = [&](std::chrono::milliseconds span, std::chrono::milliseconds pause, std::size_t bytes) {
        const auto until = std::chrono::steady_clock::now() + span;
        while (!closed && std::chrono::steady_clock::now() < until) {
            std::this_thread::sleep_for(pause);
            const ssize_t n = ::recv(fd, chunk, bytes, MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) closed = true;
            if (n > 0) received += std::size_t(n);
        }
    };
    read_for(2500ms, 100ms, 8192);  // slowly: the flush passes its deadline
    // Then fast, until the close: what the kernel had queued arrives, and
    // then the close, the responses cut short. (Unfixed, the flush went on
    // and every response arrived whole before the idle close.)
    const auto until = std::chrono::steady_clock::now() + 15s;
    while (!closed && std::chrono::steady_clock::now() < until) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
        if (n <= 0) closed = true;
        else received += std::size_t(n);
    }
    ::close(fd);
    EXPECT_TRUE(closed);
    EXPECT_LT(received, responses * value.size()) << "every response was sent: the slow reader was never cut off";
    client after(server.port());
    EXPECT_EQ(status_of(after, get("/healthz")), 200);
}

// ASan holds freed memory in quarantine, so RSS says nothing about what a
// connection keeps; the memory tests run in builds without it (the server is
// built like the tests).
#if defined(__SANITIZE_ADDRESS__)
constexpr bool rss_is_meaningful = false;
#else
constexpr bool rss_is_meaningful = true;
#endif

// Idle connections cost little memory: the server's VmRSS, in KiB.
long rss_kib(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    }
    return -1;
}

// meson test sets MALLOC_PERTURB_, and glibc then fills every allocation
// with a pattern: every page of each connection's 32 KiB read buffer would
// be resident at once, whatever the server touches. The servers these
// tests measure are started without it (as in production); it is put back
// for the tests after.
class without_malloc_perturb {
public:
    without_malloc_perturb() {
        if (const char* value = std::getenv(name)) _saved = value;
        ::unsetenv(name);
    }
    ~without_malloc_perturb() {
        if (_saved) ::setenv(name, _saved->c_str(), 1);
    }
    without_malloc_perturb(const without_malloc_perturb&) = delete;
    without_malloc_perturb& operator=(const without_malloc_perturb&) = delete;

private:
    static constexpr const char* name = "MALLOC_PERTURB_";
    std::optional<std::string> _saved;
};

// The server's RSS once one connection has come and gone (what every
// server holds anyway: its per-core buffers, the allocator's first arenas).
long rss_after_one_request_kib(server_process& server) {
    {
        client warm(server.port());
        if (status_of(warm, get("/healthz")) != 200) return -1;
    }
    std::this_thread::sleep_for(100ms);
    return rss_kib(server.pid());
}

// Half the connections below have sent a request and hold their read buffer
// (32 KiB), of which the page their request was written to is resident
// (all of it where the allocator hands out memory touched before): about 6
// KiB per connection on average, the connection's own state included;
// every page of those buffers resident (MALLOC_PERTURB_ does it) adds 16.
// (A read buffer given back while idle, as a silent connection holds none,
// would allow less; see the notes in connection.cc.)
constexpr long idle_connection_kib_max = 14;
// After big requests and responses each connection may hold its read buffer
// (32 KiB, resident in full when carved from memory the allocator recycled
// from a listing); the body and output buffers used to stay on top (1 MB, or
// the size of the listing: 265 KB).
constexpr long idle_connection_after_big_kib_max = 48;

TEST(http_idle_memory, idle_connections_are_cheap) {
    if (!rss_is_meaningful) GTEST_SKIP() << "ASan quarantines freed memory";
    const without_malloc_perturb untouched_pages_stay_out;
    server_process server({"--threads", "1"});
    const long before = rss_after_one_request_kib(server);
    ASSERT_GT(before, 0);
    constexpr int connections = 500;
    std::vector<std::unique_ptr<client>> idle;
    for (int i = 0; i < connections; ++i) {
        idle.push_back(std::make_unique<client>(server.port()));
        if (i % 2 == 1) {
            ASSERT_EQ(status_of(*idle.back(), get("/healthz")), 200);
        }
    }
    std::this_thread::sleep_for(200ms);
    const long growth = rss_kib(server.pid()) - before;
    EXPECT_LT(growth, connections * idle_connection_kib_max)
        << growth / connections << " KiB per idle connection";
    EXPECT_EQ(status_of(*idle.front(), get("/healthz")), 200);
    EXPECT_EQ(status_of(*idle.back(), get("/healthz")), 200);
}

// HTTP review 3 and 4: after a 1 MB request body or a long key listing, an
// idle connection gives back its body buffer, its output buffer and its read
// buffer; each used to keep a megabyte, or the size of the listing.
TEST(http_idle_memory, idle_connections_after_big_bodies_and_listings_are_cheap) {
    if (!rss_is_meaningful) GTEST_SKIP() << "ASan quarantines freed memory";
    const without_malloc_perturb untouched_pages_stay_out;
    server_process server({"--threads", "1"});
    std::string id;
    const std::string big_body(1'000'000, 'x');
    {
        client setup(server.port());
        id = create_namespace(setup, "idle");
        std::string puts;
        constexpr int keys = 1000;
        for (int i = 0; i < keys; ++i) {
            puts += request("PUT", key_path(id, std::string(200, 'k') + std::to_string(i)), "v",
                            "Content-Type: text/plain\r\n");
        }
        setup.send(puts);
        for (int i = 0; i < keys; ++i) {
            const auto r = setup.read_response();
            ASSERT_TRUE(r);
            ASSERT_EQ(r->status, 201);
        }
    }
    std::vector<std::unique_ptr<client>> idle;
    const auto open_and_use = [&](int connections) {
        for (int i = 0; i < connections; ++i) {
            idle.push_back(std::make_unique<client>(server.port()));
            client& c = *idle.back();
            if (i % 2 == 0) {
                const int status = status_of(c, request("POST", "/v2/storage/kvs", big_body));
                ASSERT_TRUE(status >= 400 && status < 500) << status;
            } else {
                c.send(request("GET", "/v2/storage/kvs/" + id + "/keys"));
                const auto r = c.read_response();
                ASSERT_TRUE(r);
                ASSERT_GT(r->body.size(), 200'000u);
            }
        }
    };
    // A first group warms what the server keeps once (its per-core buffers,
    // the allocator's high-water mark after a megabyte); the second is measured.
    open_and_use(20);
    std::this_thread::sleep_for(100ms);
    const long before = rss_kib(server.pid());
    ASSERT_GT(before, 0);
    constexpr int connections = 200;
    open_and_use(connections);
    std::this_thread::sleep_for(200ms);
    const long growth = rss_kib(server.pid()) - before;
    EXPECT_LT(growth, connections * idle_connection_after_big_kib_max)
        << growth / connections << " KiB per idle connection";
    for (auto& c : idle) EXPECT_EQ(status_of(*c, get("/healthz")), 200);
}

// Keep-alive connections that have sent many requests, each after the
// answer to the last: every request is read into the first bytes of the
// read buffer (the parser starts over when a message is finished with
// nothing after it), so the rest of its 32 KiB is never touched. The buffer
// used to be walked through request by request: after 100 requests of
// about 450 bytes all of it was resident, 37 KiB per connection.
constexpr long keep_alive_connection_kib_max = 20;

TEST(http_idle_memory, keep_alive_connections_after_many_requests_are_cheap) {
    if (!rss_is_meaningful) GTEST_SKIP() << "ASan quarantines freed memory";
    const without_malloc_perturb untouched_pages_stay_out;
    server_process server({"--threads", "1"});
    const long before = rss_after_one_request_kib(server);
    ASSERT_GT(before, 0);
    constexpr int connections = 200, requests = 100;
    const std::string padded = get("/healthz", "X-Pad: " + std::string(400, 'p') + "\r\n");
    std::vector<std::unique_ptr<client>> used;
    for (int i = 0; i < connections; ++i) used.push_back(std::make_unique<client>(server.port()));
    for (int round = 0; round < requests; ++round) {
        for (auto& c : used) ASSERT_EQ(status_of(*c, padded), 200) << "round " << round;
    }
    std::this_thread::sleep_for(200ms);
    const long growth = rss_kib(server.pid()) - before;
    EXPECT_LT(growth, connections * keep_alive_connection_kib_max)
        << growth / connections << " KiB per keep-alive connection";
}

// Defect 13: a body on a route that takes none (GET) is dropped as it
// arrives; it used to be buffered, up to a megabyte per connection, while it
// was still arriving.
TEST(http_idle_memory, a_get_body_still_arriving_is_not_buffered) {
    if (!rss_is_meaningful) GTEST_SKIP() << "ASan quarantines freed memory";
    const without_malloc_perturb untouched_pages_stay_out;
    server_process server({"--threads", "1"});
    const long before = rss_after_one_request_kib(server);
    ASSERT_GT(before, 0);
    constexpr int connections = 100;
    constexpr std::size_t declared = 1'000'000, sent = 900'000;  // the rest never comes
    const std::string head = "GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(declared) + "\r\n\r\n";
    const std::string part(sent, 'x');
    std::vector<std::unique_ptr<client>> senders;
    for (int i = 0; i < connections; ++i) {
        senders.push_back(std::make_unique<client>(server.port()));
        senders.back()->send(head + part);
    }
    std::this_thread::sleep_for(300ms);
    const long growth = rss_kib(server.pid()) - before;
    EXPECT_LT(growth, connections * idle_connection_after_big_kib_max)
        << growth / connections << " KiB per connection with a body still arriving";
    senders.front()->send(std::string(declared - sent, 'x'));  // the rest: answered, still usable
    const auto r = senders.front()->read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(status_of(*senders.front(), get("/healthz")), 200);
}

}  // namespace
}  // namespace ringkv::testing

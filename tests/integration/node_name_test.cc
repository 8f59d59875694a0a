// --node-name: the header that tells a client behind a proxy which node
// answered (docs/scale-out.md, bench/scale-out.sh). It must be on every
// answer the server gives, from any layer, and on none without the flag.
#include "harness.hh"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ringkv::testing {
namespace {

constexpr const char* auth = "Authorization: Bearer node-test\r\n";

TEST(node_name, every_answer_names_the_node_on_a_reused_connection) {
    server_process server({"--threads", "2", "--node-name", "node-7.eu_west"});
    client c(server.port());
    // Success, an API error, a key on another core, a 405, a 204, a HEAD.
    c.send(get("/healthz") + get("/v2/storage/kvs/not-a-uuid", auth) +
           "POST /v2/storage/kvs HTTP/1.1\r\nHost: t\r\n" + auth + "Content-Length: 13\r\n\r\n{\"name\":\"nn\"}" +
           "PATCH /v2/storage/kvs HTTP/1.1\r\nHost: t\r\n" + auth + "\r\n" + get("/nowhere") +
           "HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    const int expected[] = {200, 400, 201, 405, 404};
    std::string id;
    for (const int status : expected) {
        auto r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, status);
        EXPECT_EQ(r->header("x-ringkv-node"), "node-7.eu_west") << status;
        if (status == 201) id = json_string(r->body, "id");
    }
    auto head = c.read_response(5000, true);
    ASSERT_TRUE(head);
    EXPECT_EQ(head->header("x-ringkv-node"), "node-7.eu_west");
    for (int k = 0; k < 8; ++k) {  // keys on both cores: the owner core does not write the head
        c.send("PUT /v2/storage/kvs/" + id + "/keys/k" + std::to_string(k) + " HTTP/1.1\r\nHost: t\r\n" + auth +
               "Content-Length: 1\r\n\r\nv" + "DELETE /v2/storage/kvs/" + id + "/keys/k" + std::to_string(k) +
               " HTTP/1.1\r\nHost: t\r\n" + auth + "\r\n");
        for (const int status : {201, 204}) {
            auto r = c.read_response();
            ASSERT_TRUE(r);
            EXPECT_EQ(r->status, status);
            EXPECT_EQ(r->header("x-ringkv-node"), "node-7.eu_west");
        }
    }
    // Answers of the HTTP layer itself: a malformed request (400, closed).
    client broken(server.port());
    broken.send("GET / HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\n");
    auto r = broken.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_EQ(r->header("x-ringkv-node"), "node-7.eu_west");
}

TEST(node_name, the_connection_bound_503_names_the_node_too) {
    server_process server({"--threads", "1", "--connections-per-core", "1", "--node-name", "n1"});
    client held(server.port());
    held.send(get("/healthz"));
    ASSERT_TRUE(held.read_response());
    client refused(server.port());
    auto r = refused.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_EQ(r->header("x-ringkv-node"), "n1");
}

TEST(node_name, no_flag_no_header_and_bad_names_are_refused) {
    server_process server({"--threads", "1"});
    auto r = exchange(server.port(), get("/healthz"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->headers.count("x-ringkv-node"), 0u);
    const std::vector<std::string> bad_names = {"", "a b", "a\r\nX-Evil: 1", "n\xc3\xa9", "a:b", std::string(65, 'n')};
    for (const std::string& bad : bad_names) {
        auto run = run_to_exit({"--node-name", bad});
        EXPECT_EQ(run.exit_status, 2) << bad;
        EXPECT_NE(run.err.find("bad value for --node-name"), std::string::npos) << run.err;
    }
    EXPECT_EQ(run_to_exit({"--node-name", std::string(64, 'n'), "--port", "1", "--bind", "not-an-address"}).exit_status,
              1);  // 64 characters are a name: start-up gets as far as the bad address
}

}  // namespace
}  // namespace ringkv::testing

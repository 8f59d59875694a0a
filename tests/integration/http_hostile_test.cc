// Hostile input against the real binary (issue: no input can crash, corrupt,
// leak or starve ringkv). One connection is reused across many requests.
#include "harness.hh"

#include <gtest/gtest.h>

namespace ringkv::testing {
namespace {

TEST(http_hostile, many_requests_share_one_connection) {
    server_process server({"--threads", "2"});
    client c(server.port());
    for (int i = 0; i < 100; ++i) {
        c.send(get("/healthz"));
        const auto r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200);
    }
}

}  // namespace
}  // namespace ringkv::testing

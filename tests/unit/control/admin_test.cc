#include <ringkv/control/admin.hh>

#include <gtest/gtest.h>

namespace ringkv::control {
namespace {

using net::http::method;

io::task<> answer_nothing(net::http::request&, net::http::response_writer&) { co_return; }

admin_table table_of(admin_options options) {
    admin_table table(std::move(options));
    table.add("/_ringkv/stats", {method::get, method::delete_}, answer_nothing);
    table.add("/metrics", {method::get}, answer_nothing);
    return table;
}

TEST(admin_table, finds_exact_paths_and_owns_the_whole_admin_prefix) {
    const admin_table table = table_of({});
    ASSERT_NE(table.find("/_ringkv/stats"), nullptr);
    EXPECT_EQ(table.find("/_ringkv/stats/"), nullptr);
    EXPECT_EQ(table.find("/_ringkv/Stats"), nullptr);
    EXPECT_EQ(table.find("/_ringkv/"), nullptr);
    EXPECT_TRUE(table.owns("/_ringkv/anything"));  // a 404 of the control plane
    EXPECT_TRUE(table.owns("/metrics"));
    EXPECT_FALSE(table.owns("/metrics/"));
    EXPECT_FALSE(table.owns("/v2/storage/kvs"));
    EXPECT_FALSE(table.owns("/_ringkv"));
}

TEST(admin_table, head_goes_with_get_and_allow_lists_every_method) {
    const admin_table table = table_of({});
    const admin_table::route& stats = *table.find("/_ringkv/stats");
    EXPECT_TRUE(stats.allows(method::get));
    EXPECT_TRUE(stats.allows(method::head));
    EXPECT_TRUE(stats.allows(method::delete_));
    EXPECT_FALSE(stats.allows(method::post));
    EXPECT_FALSE(stats.allows(method::put));
    EXPECT_EQ(stats.allow_header, "Allow: GET, HEAD, DELETE\r\n");
    EXPECT_EQ(table.find("/metrics")->allow_header, "Allow: GET, HEAD\r\n");
}

TEST(admin_table, the_admin_token_guards_admin_paths_only) {
    const admin_table table = table_of({"s3cret", true});
    const admin_table::route& stats = *table.find("/_ringkv/stats");
    EXPECT_TRUE(table.admitted(stats, "Bearer s3cret"));
    EXPECT_TRUE(table.admitted(stats, "bearer   s3cret "));
    EXPECT_TRUE(table.admitted(stats, "Bearer\ts3cret"));  // as the KV API reads a token
    EXPECT_FALSE(table.admitted(stats, "Bearers3cret"));
    EXPECT_FALSE(table.admitted(stats, ""));
    EXPECT_FALSE(table.admitted(stats, "Bearer"));
    EXPECT_FALSE(table.admitted(stats, "Bearer s3cre"));
    EXPECT_FALSE(table.admitted(stats, "Bearer s3cret2"));
    EXPECT_FALSE(table.admitted(stats, "Bearer S3CRET"));
    EXPECT_FALSE(table.admitted(stats, "Basic s3cret"));
    EXPECT_FALSE(table.admitted(stats, "s3cret"));
    EXPECT_TRUE(table.admitted(*table.find("/metrics"), ""));  // always open

    const admin_table open = table_of({});
    EXPECT_TRUE(open.admitted(*open.find("/_ringkv/stats"), ""));
}

TEST(admin_table, no_admin_removes_the_admin_paths_but_not_metrics) {
    const admin_table table = table_of({"", false});
    EXPECT_EQ(table.find("/_ringkv/stats"), nullptr);
    EXPECT_FALSE(table.owns("/_ringkv/stats"));  // the KV API's own 404
    EXPECT_NE(table.find("/metrics"), nullptr);
}

}  // namespace
}  // namespace ringkv::control

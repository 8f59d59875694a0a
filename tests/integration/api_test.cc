// Every route and rule of API.md, through the real binary on two threads
// (so about half the keys live on the other core from the connection).
#include "harness.hh"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <set>
#include <thread>

namespace ringkv::testing {
namespace {

const std::string auth = "Authorization: Bearer org-one\r\n";
const std::string other_auth = "Authorization: Bearer org-two\r\n";

class api_test : public ::testing::Test {
protected:
    server_process server{{"--threads", "2"}};

    response call(const std::string& method, const std::string& path, const std::string& headers = auth,
                  const std::optional<std::string>& body = std::nullopt) {
        return testing::call(server.port(), method, path, headers, body);
    }
    std::string create(const std::string& name, const std::string& headers = auth, const std::string& extra = "") {
        response r = call("POST", "/v2/storage/kvs", headers, R"({"name":")" + name + "\"" + extra + "}");
        EXPECT_EQ(r.status, 201) << r.body;
        return json_string(r.body, "id");
    }
    void expect_error(const response& r, int status, const std::string& code, const std::string& source = "") {
        EXPECT_EQ(r.status, status) << r.body;
        EXPECT_EQ(r.header("content-type"), "application/json");
        EXPECT_NE(r.body.find("\"code\":\"" + code + "\""), std::string::npos) << r.body;
        EXPECT_NE(r.body.find("\"meta\":{\"url\":\"https://docs.telnyx.com/api/errors/" + code + "\"}"),
                  std::string::npos) << r.body;
        if (!source.empty()) {
            EXPECT_NE(r.body.find("\"source\":" + source), std::string::npos) << r.body;
        }
    }
};

TEST_F(api_test, authentication_is_required_and_any_token_is_an_organization) {
    expect_error(call("GET", "/v2/storage/kvs", ""), 401, "10009");
    expect_error(call("GET", "/v2/storage/kvs", "Authorization: Bearer \r\n"), 401, "10009");
    expect_error(call("GET", "/v2/storage/kvs", "Authorization: Basic abc\r\n"), 401, "10009");
    EXPECT_EQ(call("GET", "/v2/storage/kvs", "Authorization: bearer   lower-case-scheme  \r\n").status, 200);
}

TEST_F(api_test, namespace_create_retrieve_and_exact_shape) {
    response created = call("POST", "/v2/storage/kvs", auth, R"({"name":"my-cache"})");
    ASSERT_EQ(created.status, 201);
    const std::string id = json_string(created.body, "id");
    ASSERT_EQ(id.size(), 36u);
    EXPECT_EQ(id[14], '4');  // UUID v4
    const std::string stamp = json_string(created.body, "created_at");
    EXPECT_EQ(stamp.size(), 20u);
    EXPECT_EQ(created.body, R"({"data":{"record_type":"storage_kv","id":")" + id +
                                R"(","name":"my-cache","status":"pending","created_at":")" + stamp +
                                R"(","updated_at":")" + stamp + R"("}})");
    response got = call("GET", "/v2/storage/kvs/" + id);
    EXPECT_EQ(got.status, 200);
    EXPECT_EQ(json_string(got.body, "status"), "provision_ok");
    std::string upper = id;
    std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
    response by_upper = call("GET", "/v2/storage/kvs/" + upper);
    EXPECT_EQ(by_upper.status, 200);
    EXPECT_EQ(json_string(by_upper.body, "id"), id);  // answered in lower case
}

TEST_F(api_test, namespace_create_validation) {
    expect_error(call("POST", "/v2/storage/kvs", auth, "{not json"), 400, "10023");
    expect_error(call("POST", "/v2/storage/kvs", auth, ""), 400, "10023");
    expect_error(call("POST", "/v2/storage/kvs", auth, R"(["name"])"), 422, "10015");
    expect_error(call("POST", "/v2/storage/kvs", auth, R"({"other":1})"), 422, "10004", R"({"pointer":"/name"})");
    expect_error(call("POST", "/v2/storage/kvs", auth, R"({"name":"Upper"})"), 422, "10015", R"({"pointer":"/name"})");
    expect_error(call("POST", "/v2/storage/kvs", auth, R"({"name":""})"), 422, "10015", R"({"pointer":"/name"})");
    expect_error(call("POST", "/v2/storage/kvs", auth, R"({"name":5})"), 422, "10015", R"({"pointer":"/name"})");
    expect_error(call("POST", "/v2/storage/kvs", auth, R"({"name":")" + std::string(256, 'a') + "\"}"), 422, "10015");
    EXPECT_EQ(call("POST", "/v2/storage/kvs", auth, R"({"name":")" + std::string(255, 'a') + "\"}").status, 201);
    expect_error(call("POST", "/v2/storage/kvs", auth, R"({"name":"x","ttl_support":"yes"})"), 422, "10015",
                 R"({"pointer":"/ttl_support"})");
    create("dup");
    expect_error(call("POST", "/v2/storage/kvs", auth, R"({"name":"dup"})"), 409, "10012");
    create("dup", other_auth);  // names are unique per organization only
}

TEST_F(api_test, tenancy_hides_other_organizations_namespaces) {
    const std::string id = create("mine");
    expect_error(call("GET", "/v2/storage/kvs/" + id, other_auth), 404, "10005");
    expect_error(call("GET", key_path(id, "k"), other_auth), 404, "10005");
    expect_error(call("DELETE", "/v2/storage/kvs/" + id, other_auth), 404, "10005");
    EXPECT_EQ(call("GET", "/v2/storage/kvs", other_auth).body.find(id), std::string::npos);
}

TEST_F(api_test, ids_must_be_uuids_and_routes_and_methods_are_checked) {
    expect_error(call("GET", "/v2/storage/kvs/not-a-uuid"), 400, "10006", R"({"pointer":"/id"})");
    expect_error(call("GET", "/v2/storage/kvs/00000000-0000-4000-8000-000000000000"), 404, "10005");
    expect_error(call("GET", "/v2/storage/kvs/x/y"), 404, "10005");
    response r = call("PATCH", "/v2/storage/kvs");
    expect_error(r, 405, "10015");
    EXPECT_EQ(r.header("allow"), "GET, HEAD, POST");
    EXPECT_EQ(call("PUT", "/v2/storage/kvs/x").header("allow"), "GET, HEAD, DELETE");
    EXPECT_EQ(call("POST", "/v2/storage/kvs/x/keys").header("allow"), "GET, HEAD");
    EXPECT_EQ(call("POST", "/v2/storage/kvs/x/keys/k").header("allow"), "GET, HEAD, PUT, DELETE");
}

TEST_F(api_test, namespace_list_pages_in_creation_order) {
    std::vector<std::string> ids;
    for (int i = 0; i < 5; ++i) ids.push_back(create("ns-" + std::to_string(4 - i)));  // names sort the other way
    response page = call("GET", "/v2/storage/kvs?page%5Bnumber%5D=2&page%5Bsize%5D=2");
    ASSERT_EQ(page.status, 200);
    EXPECT_NE(page.body.find(R"("meta":{"page_number":2,"page_size":2,"total_pages":3,"total_results":5})"), std::string::npos) << page.body;
    EXPECT_LT(page.body.find(ids[2]), page.body.find(ids[3]));
    EXPECT_EQ(count_of(page.body, "storage_kv\""), 2u);
    // A page number whose offset overflows 64 bits is still past the end.
    EXPECT_NE(call("GET", "/v2/storage/kvs?page[number]=4611686018427387905&page[size]=4").body.find(R"({"data":[],)"),
              std::string::npos);
    response beyond = call("GET", "/v2/storage/kvs?page[number]=9&page[size]=2");
    EXPECT_NE(beyond.body.find(R"({"data":[],"meta":{"page_number":9,"page_size":2,"total_pages":3,"total_results":5}})"), std::string::npos) << beyond.body;
    EXPECT_NE(call("GET", "/v2/storage/kvs?page[size]=300").body.find(R"("page_size":250)"), std::string::npos);
    EXPECT_NE(call("GET", "/v2/storage/kvs?page[size]=007").body.find(R"("page_size":7)"), std::string::npos);
    response none = call("GET", "/v2/storage/kvs", other_auth);
    EXPECT_EQ(none.body, R"({"data":[],"meta":{"page_number":1,"page_size":20,"total_pages":1,"total_results":0}})");
    for (const char* bad : {"0", "-1", "abc", "+5", "5.0", "1e3", ""}) {
        expect_error(call("GET", std::string("/v2/storage/kvs?page[size]=") + bad), 422, "10015",
                     R"({"parameter":"page[size]"})");
        expect_error(call("GET", std::string("/v2/storage/kvs?page[number]=") + bad), 422, "10015",
                     R"({"parameter":"page[number]"})");
    }
}

TEST_F(api_test, keys_put_get_replace_delete) {
    const std::string id = create("keys");
    std::string all_bytes;
    for (int b = 0; b < 256; ++b) all_bytes.push_back(char(b));
    response put = call("PUT", key_path(id, "user%2F1"), auth + "Content-Type: image/x-test\r\n", all_bytes);
    EXPECT_EQ(put.status, 201);
    EXPECT_EQ(put.header("content-length"), "0");
    response got = call("GET", key_path(id, "user/1"));  // the same key, unencoded
    EXPECT_EQ(got.status, 200);
    EXPECT_EQ(got.body, all_bytes);
    EXPECT_EQ(got.header("content-type"), "image/x-test");
    EXPECT_EQ(got.header("content-length"), "256");
    response head = call("HEAD", key_path(id, "user/1"));
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.header("content-length"), "256");
    EXPECT_EQ(call("PUT", key_path(id, "user/1"), auth, std::string("v2")).status, 200);
    got = call("GET", key_path(id, "user%2f1"));
    EXPECT_EQ(got.body, "v2");
    EXPECT_EQ(got.header("content-type"), "application/octet-stream");
    EXPECT_EQ(call("DELETE", key_path(id, "user/1")).status, 204);
    EXPECT_EQ(call("DELETE", key_path(id, "user/1")).status, 204);  // idempotent
    expect_error(call("GET", key_path(id, "user/1")), 404, "10005");
    expect_error(call("GET", key_path("00000000-0000-4000-8000-000000000000", "k")), 404, "10005");
}

TEST_F(api_test, large_values_are_sent_in_order_and_survive_overwrites) {
    const std::string id = create("large");
    std::string big(300'000, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = char('a' + i % 26);
    ASSERT_EQ(call("PUT", key_path(id, "big"), auth, big).status, 201);
    ASSERT_EQ(call("PUT", key_path(id, "small"), auth, std::string("tiny")).status, 201);
    client c(server.port());
    c.send(request("GET", key_path(id, "big")) + request("GET", key_path(id, "small")) +
           request("HEAD", key_path(id, "big")) + request("GET", key_path(id, "big")));
    auto first = c.read_response();
    ASSERT_TRUE(first);
    EXPECT_EQ(first->body, big);
    EXPECT_EQ(c.read_response()->body, "tiny");
    auto head = c.read_response(5000, true);
    EXPECT_EQ(head->header("content-length"), "300000");
    EXPECT_EQ(c.read_response()->body, big);

    // Reads racing overwrites: every answer is one whole version.
    const std::string a(200'000, 'a'), b(200'000, 'b');
    std::atomic<bool> done{false};
    std::thread writer([&] {
        client w(server.port());
        for (int i = 0; i < 60; ++i) {
            w.send(request("PUT", key_path(id, "raced"), auth, i % 2 ? a : b));
            if (!w.read_response()) break;
        }
        done = true;
    });
    ASSERT_EQ(call("PUT", key_path(id, "raced"), auth, a).status / 100, 2);
    client reader(server.port());
    int reads = 0;
    while (!done || reads < 10) {
        reader.send(request("GET", key_path(id, "raced")));
        auto r = reader.read_response();
        ASSERT_TRUE(r);
        ASSERT_TRUE(r->body == a || r->body == b) << "a torn value of " << r->body.size() << " bytes";
        ++reads;
    }
    writer.join();
}

TEST_F(api_test, key_names_are_validated) {
    const std::string id = create("names");
    for (const std::string& bad : std::vector<std::string>{"a:b", "_reserved", "%5Freserved", "bad%zz", "sp%20ace",
                                                            std::string(257, 'k'), "a%3Ab"}) {
        expect_error(call("PUT", key_path(id, bad), auth, std::string("v")), 400, "10015", R"({"pointer":"/key"})");
    }
    expect_error(call("GET", key_path(id, "")), 400, "10015", R"({"pointer":"/key"})");
    EXPECT_EQ(call("PUT", key_path(id, std::string(256, 'k')), auth, std::string("v")).status, 201);
    EXPECT_EQ(call("PUT", key_path(id, "a-b_c/d=e.f"), auth, std::string("v")).status, 201);
}

TEST_F(api_test, bodies_sizes_and_presence) {
    const std::string id = create("bodies");
    EXPECT_EQ(call("PUT", key_path(id, "big"), auth, std::string(1048576, 'b')).status, 201);
    EXPECT_EQ(call("GET", key_path(id, "big")).body.size(), 1048576u);
    client too_big(server.port());
    too_big.send("PUT " + key_path(id, "big") + " HTTP/1.1\r\nHost: t\r\n" + auth + "Content-Length: 1048577\r\n\r\n");
    auto r = too_big.read_response();
    ASSERT_TRUE(r);
    expect_error(*r, 413, "10015");
    expect_error(call("PUT", key_path(id, "none")), 400, "10004");
    expect_error(call("PUT", key_path(id, "none"), auth, std::string()), 400, "10004");
    client chunked(server.port());
    chunked.send("PUT " + key_path(id, "none") + " HTTP/1.1\r\nHost: t\r\n" + auth + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    r = chunked.read_response();
    ASSERT_TRUE(r);
    expect_error(*r, 400, "10004");
    chunked.send("PUT " + key_path(id, "c") + " HTTP/1.1\r\nHost: t\r\n" + auth +
                 "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
    EXPECT_EQ(chunked.read_response()->status, 201);
    EXPECT_EQ(call("GET", key_path(id, "c")).body, "abcde");
}

TEST_F(api_test, ttl_parameters_and_expiry) {
    const std::string id = create("ttl");
    for (const char* bad : {"0", "-1", "abc", "9223372037", "1.5", "", "+3"}) {
        expect_error(call("PUT", key_path(id, "k") + "?ttl_secs=" + bad, auth, std::string("v")), 422, "10015",
                     R"({"parameter":"ttl_secs"})");
    }
    expect_error(call("PUT", key_path(id, "k") + "?ttl=5", auth, std::string("v")), 422, "10015", R"({"parameter":"ttl"})");
    EXPECT_EQ(call("PUT", key_path(id, "far") + "?ttl_secs=9223372036", auth, std::string("v")).status, 201);
    EXPECT_EQ(call("PUT", key_path(id, "short") + "?ttl_secs=1", auth, std::string("v")).status, 201);
    EXPECT_EQ(call("PUT", key_path(id, "cleared") + "?ttl_secs=1", auth, std::string("v")).status, 201);
    EXPECT_EQ(call("PUT", key_path(id, "cleared"), auth, std::string("w")).status, 200);  // clears the TTL
    EXPECT_EQ(call("GET", key_path(id, "short")).status, 200);
    std::this_thread::sleep_for(std::chrono::milliseconds(1150));
    expect_error(call("GET", key_path(id, "short")), 404, "10005");
    EXPECT_EQ(call("GET", key_path(id, "cleared")).body, "w");
    EXPECT_EQ(call("GET", key_path(id, "far")).status, 200);
    response listed = call("GET", "/v2/storage/kvs/" + id + "/keys");
    EXPECT_EQ(listed.body.find("\"short\""), std::string::npos);
    EXPECT_NE(listed.body.find("\"cleared\""), std::string::npos);
    // An expired key counts as absent.
    EXPECT_EQ(call("PUT", key_path(id, "short"), auth, std::string("again")).status, 201);

    const std::string no_ttl = create("no-ttl", auth, R"(,"ttl_support":false)");
    expect_error(call("PUT", key_path(no_ttl, "k") + "?ttl_secs=5", auth, std::string("v")), 409, "10015");
    EXPECT_EQ(call("PUT", key_path(no_ttl, "k"), auth, std::string("v")).status, 201);
}

TEST_F(api_test, key_listing_with_prefix_limit_and_cursor_across_cores) {
    const std::string id = create("listing");
    client c(server.port());
    std::string burst;
    std::set<std::string> expected;
    for (int i = 0; i < 2500; ++i) {
        char key[32];
        std::snprintf(key, sizeof(key), "item/%05d", i);
        expected.insert(key);
        burst += request("PUT", key_path(id, key), auth, std::string(i % 7 + 1, 'v'));
    }
    burst += request("PUT", key_path(id, "other"), auth, std::string("v"));
    c.send(burst);
    for (int i = 0; i < 2501; ++i) ASSERT_EQ(c.read_response()->status, 201);

    std::vector<std::string> seen;
    std::string cursor;
    int pages = 0;
    for (;;) {
        response page = call("GET", "/v2/storage/kvs/" + id + "/keys?prefix=item%2F" + (cursor.empty() ? "" : "&cursor=" + cursor));
        ASSERT_EQ(page.status, 200);
        ++pages;
        for (std::size_t at = page.body.find("\"key\":\""); at != std::string::npos; at = page.body.find("\"key\":\"", at + 1)) {
            seen.push_back(page.body.substr(at + 7, page.body.find('"', at + 7) - at - 7));
        }
        const bool more = page.body.find("\"has_more\":true") != std::string::npos;
        cursor = json_string(page.body, "cursor");
        EXPECT_EQ(more, !cursor.empty());
        if (!more) break;
    }
    EXPECT_EQ(pages, 3);
    EXPECT_EQ(seen, std::vector<std::string>(expected.begin(), expected.end()));  // in order, each once

    response small = call("GET", "/v2/storage/kvs/" + id + "/keys?limit=2&prefix=item/0000");
    EXPECT_NE(small.body.find(R"({"key":"item/00000","size_bytes":1,"updated_at":")"), std::string::npos) << small.body;
    EXPECT_EQ(count_of(small.body, "\"key\""), 2u);
    EXPECT_EQ(count_of(call("GET", "/v2/storage/kvs/" + id + "/keys?limit=5000").body, "\"key\""), 1000u);
    EXPECT_EQ(call("GET", "/v2/storage/kvs/" + id + "/keys?cursor=").status, 200);
    for (const char* bad : {"0", "-2", "x", ""}) {
        expect_error(call("GET", "/v2/storage/kvs/" + id + "/keys?limit=" + bad), 422, "10015", R"({"parameter":"limit"})");
    }
    const std::string issued = json_string(small.body, "cursor");
    ASSERT_FALSE(issued.empty());
    expect_error(call("GET", "/v2/storage/kvs/" + id + "/keys?cursor=forged"), 400, "10015");
    expect_error(call("GET", "/v2/storage/kvs/" + id + "/keys?prefix=other&cursor=" + issued), 400, "10015");
    std::string tampered = issued;
    tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
    expect_error(call("GET", "/v2/storage/kvs/" + id + "/keys?prefix=item/0000&cursor=" + tampered), 400, "10015");
    const std::string other = create("listing-two");
    expect_error(call("GET", "/v2/storage/kvs/" + other + "/keys?prefix=item/0000&cursor=" + issued), 400, "10015");
}

TEST_F(api_test, pipelined_requests_take_effect_in_order) {
    const std::string id = create("order");
    client c(server.port());
    std::string burst;
    for (int i = 0; i < 200; ++i) {
        const std::string key = "k" + std::to_string(i);
        burst += request("PUT", key_path(id, key), auth, "v" + std::to_string(i));
        burst += request("GET", key_path(id, key));
        burst += request("DELETE", key_path(id, key));
        burst += request("GET", key_path(id, key));
    }
    c.send(burst);
    for (int i = 0; i < 200; ++i) {
        ASSERT_EQ(c.read_response()->status, 201);
        auto got = c.read_response();
        ASSERT_EQ(got->status, 200);
        ASSERT_EQ(got->body, "v" + std::to_string(i));
        ASSERT_EQ(c.read_response()->status, 204);
        ASSERT_EQ(c.read_response()->status, 404);
    }
}

TEST_F(api_test, order_of_checks) {
    const std::string id = create("checks");
    // auth before id syntax; id before key; key before body size; size before query; query before lookup.
    expect_error(call("GET", key_path("bad", "a:b"), ""), 401, "10009");
    expect_error(call("GET", key_path("bad", "a:b")), 400, "10006");
    expect_error(call("PUT", key_path(id, "a:b") + "?ttl_secs=x", auth, std::string("v")), 400, "10015", R"({"pointer":"/key"})");
    client big(server.port());
    big.send("PUT " + key_path(id, "k") + "?ttl_secs=x HTTP/1.1\r\nHost: t\r\n" + auth + "Content-Length: 2000000\r\n\r\n");
    EXPECT_EQ(big.read_response()->status, 413);
    expect_error(call("PUT", key_path("00000000-0000-4000-8000-000000000000", "k") + "?ttl_secs=x", auth, std::string("v")),
                 422, "10015");
    expect_error(call("PUT", key_path("00000000-0000-4000-8000-000000000000", "k")), 404, "10005");
}

TEST_F(api_test, expect_continue_only_for_acceptable_puts) {
    const std::string id = create("continue");
    client ok(server.port());
    ok.send("PUT " + key_path(id, "k") + " HTTP/1.1\r\nHost: t\r\n" + auth + "Content-Length: 3\r\nExpect: 100-continue\r\n\r\n");
    EXPECT_EQ(ok.read_response()->status, 100);
    ok.send("abc");
    EXPECT_EQ(ok.read_response()->status, 201);
    client refused(server.port());
    refused.send("PUT " + key_path("00000000-0000-4000-8000-000000000000", "k") + " HTTP/1.1\r\nHost: t\r\n" + auth +
                 "Content-Length: 3\r\nExpect: 100-continue\r\n\r\n");
    auto r = refused.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404);
}

TEST(api_lifecycle, provisioning_and_deletion_delays) {
    server_process server({"--threads", "2", "--provision-delay", "300", "--delete-delay", "300"});
    const auto call = [&](const std::string& method, const std::string& path, std::optional<std::string> body = std::nullopt) {
        return testing::call(server.port(), method, path, auth, body);
    };
    response created = call("POST", "/v2/storage/kvs", R"({"name":"slow"})");
    const std::string id = json_string(created.body, "id");
    EXPECT_EQ(json_string(call("GET", "/v2/storage/kvs/" + id).body, "status"), "pending");
    EXPECT_EQ(call("PUT", "/v2/storage/kvs/" + id + "/keys/k", std::string("v")).status, 409);
    std::this_thread::sleep_for(std::chrono::milliseconds(350));
    EXPECT_EQ(json_string(call("GET", "/v2/storage/kvs/" + id).body, "status"), "provision_ok");
    EXPECT_EQ(call("PUT", "/v2/storage/kvs/" + id + "/keys/k", std::string("v")).status, 201);
    response deleting = call("DELETE", "/v2/storage/kvs/" + id);
    EXPECT_EQ(deleting.status, 200);
    EXPECT_EQ(json_string(deleting.body, "status"), "deleting");
    EXPECT_EQ(call("DELETE", "/v2/storage/kvs/" + id).status, 409);
    EXPECT_EQ(call("GET", "/v2/storage/kvs/" + id + "/keys/k").status, 409);
    EXPECT_EQ(call("POST", "/v2/storage/kvs", R"({"name":"slow"})").status, 409);  // not gone yet
    std::this_thread::sleep_for(std::chrono::milliseconds(350));
    EXPECT_EQ(call("GET", "/v2/storage/kvs/" + id).status, 404);
    EXPECT_EQ(call("GET", "/v2/storage/kvs/" + id + "/keys/k").status, 404);
    response again = call("POST", "/v2/storage/kvs", R"({"name":"slow"})");  // the name is free again
    EXPECT_EQ(again.status, 201);
    std::this_thread::sleep_for(std::chrono::milliseconds(350));
    const std::string id2 = json_string(again.body, "id");
    EXPECT_EQ(call("GET", "/v2/storage/kvs/" + id2 + "/keys/k").status, 404);  // the old keys went with the old one
}

TEST(api_tokens, only_listed_tokens_are_accepted) {
    const std::string path = ::testing::TempDir() + "ringkv-tokens.txt";
    std::ofstream(path) << "alpha\n  beta  \n\n";
    server_process server({"--threads", "1", "--tokens", path});
    const auto status_with = [&](const std::string& token) {
        return exchange(server.port(), request("GET", "/v2/storage/kvs", "Authorization: Bearer " + token + "\r\n"))->status;
    };
    EXPECT_EQ(status_with("alpha"), 200);
    EXPECT_EQ(status_with("beta"), 200);
    EXPECT_EQ(status_with("gamma"), 401);
    auto missing = run_to_exit({"--tokens", "/nonexistent/tokens"});
    EXPECT_EQ(missing.exit_status, 2);
}

}  // namespace
}  // namespace ringkv::testing

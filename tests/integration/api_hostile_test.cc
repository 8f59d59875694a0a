// Hostile input against the real binary (issue: no input can crash, corrupt,
// leak or starve ringkv). One connection is reused across many requests:
// per-connection and per-core state left over from an earlier request is
// exactly what a fresh connection per request hides.
#include "harness.hh"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

namespace ringkv::testing {
namespace {

// Every "key":"..." of a key listing, in order.
std::vector<std::string> listed_keys(const std::string& json) {
    std::vector<std::string> keys;
    const std::string marker = "\"key\":\"";
    for (std::size_t at = json.find(marker); at != std::string::npos; at = json.find(marker, at + 1)) {
        const std::size_t start = at + marker.size();
        keys.push_back(json.substr(start, json.find('"', start) - start));
    }
    return keys;
}

std::string kvs(const std::string& id, const std::string& rest = "") { return "/v2/storage/kvs/" + id + rest; }

// One keep-alive connection, one request at a time.
class session {
public:
    explicit session(std::uint16_t port) : _client(port) {}

    response call(const std::string& method, const std::string& path, const std::string& token,
                  const std::optional<std::string>& body = std::nullopt, const std::string& headers = "") {
        _client.send(request(method, path, bearer(token) + headers, body));
        auto r = _client.read_response(10'000, method == "HEAD");
        EXPECT_TRUE(r) << method << " " << path.substr(0, 200);
        return r.value_or(response{});
    }
    std::string create(const std::string& token, const std::string& name) {
        const response r = call("POST", "/v2/storage/kvs", token, R"({"name":")" + name + "\"}");
        EXPECT_EQ(r.status, 201) << r.body;
        return json_string(r.body, "id");
    }
    int put(const std::string& token, const std::string& id, const std::string& key, const std::string& value,
            const std::string& headers = "") {
        return call("PUT", kvs(id, "/keys/" + key), token, value, headers).status;
    }
    client& raw() { return _client; }

private:
    client _client;
};

void expect_error(const response& r, int status, const std::string& code, const std::string& detail = "") {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_NE(r.body.find("\"code\":\"" + code + "\""), std::string::npos) << r.body;
    if (!detail.empty()) {
        EXPECT_NE(r.body.find(detail), std::string::npos) << r.body;
    }
}

TEST(api_hostile, many_requests_share_one_connection) {
    server_process server({"--threads", "2"});
    client c(server.port());
    for (int i = 0; i < 100; ++i) {
        c.send(get("/healthz"));
        const auto r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200);
    }
}

// Token B lists its keys; then token A, on the same connection (so the same
// core and its pooled listing buffers), lists with a prefix longer than any
// key. It must see nothing of B's: names, sizes or timestamps.
TEST(api_hostile, a_long_prefix_never_lists_another_tenants_keys) {
    server_process server({"--threads", "2"});
    session s(server.port());
    const std::string b_ns = s.create("tenant-b", "private");
    for (int i = 0; i < 50; ++i) ASSERT_EQ(s.put("tenant-b", b_ns, "secret-b-" + std::to_string(i), "v"), 201);
    const std::string a_ns = s.create("tenant-a", "mine");
    ASSERT_EQ(s.put("tenant-a", a_ns, "a-key", "v"), 201);
    for (const std::size_t prefix_bytes : {std::size_t(300), std::size_t(7900)}) {
        const response b_list = s.call("GET", kvs(b_ns, "/keys?limit=20"), "tenant-b");
        ASSERT_EQ(b_list.status, 200);
        ASSERT_EQ(listed_keys(b_list.body).size(), 20u);
        const response a_list = s.call("GET", kvs(a_ns, "/keys?prefix=" + std::string(prefix_bytes, 'a')), "tenant-a");
        EXPECT_EQ(a_list.status, 200);
        EXPECT_EQ(a_list.body, R"({"record_type":"storage_kv_key","data":[],"meta":{"has_more":false}})")
            << prefix_bytes;
        EXPECT_EQ(a_list.body.find("secret-b"), std::string::npos);
    }
    // The same on a connection that listed a full page first.
    const response full = s.call("GET", kvs(b_ns, "/keys"), "tenant-b");
    ASSERT_EQ(listed_keys(full.body).size(), 50u);
    const response stale = s.call("GET", kvs(a_ns, "/keys?prefix=" + std::string(7900, 'x')), "tenant-a");
    EXPECT_TRUE(listed_keys(stale.body).empty()) << stale.body.substr(0, 200);
}

TEST(api_hostile, ttl_and_limit_after_64_other_parameters_are_still_checked) {
    server_process server({"--threads", "2"});
    session s(server.port());
    const std::string id = s.create("org", "params");
    std::string padding;
    for (int i = 0; i < 64; ++i) padding += "p" + std::to_string(i) + "=1&";
    expect_error(s.call("PUT", kvs(id, "/keys/k?" + padding + "ttl_secs=0"), "org", std::string("v")), 422, "10015",
                 "ttl_secs");
    expect_error(s.call("PUT", kvs(id, "/keys/k?" + padding + "ttl=5"), "org", std::string("v")), 422, "10015", "ttl");
    expect_error(s.call("GET", kvs(id, "/keys?" + padding + "limit=0"), "org"), 422, "10015", "limit");
    padding.clear();
    for (int i = 0; i < 1000; ++i) padding += "q=" + std::to_string(i) + "&";
    expect_error(s.call("PUT", kvs(id, "/keys/k?" + padding + "ttl_secs=x"), "org", std::string("v")), 422, "10015");
    EXPECT_EQ(s.call("GET", kvs(id, "/keys/k"), "org").status, 404);  // nothing was stored
}

TEST(api_hostile, bad_cursors_are_400_and_never_list_from_the_start) {
    server_process server({"--threads", "2"});
    session s(server.port());
    const std::string id = s.create("org", "cursors");
    const std::string other = s.create("org", "other");
    for (int i = 0; i < 5; ++i) ASSERT_EQ(s.put("org", id, "k" + std::to_string(i), "v"), 201);
    const response page = s.call("GET", kvs(id, "/keys?limit=2"), "org");
    const std::string cursor = json_string(page.body, "cursor");
    ASSERT_FALSE(cursor.empty()) << page.body;
    for (const std::string& bad : {std::string("%zz"), std::string("%"), std::string(5000, 'A'),
                                   std::string(5000, '!'), std::string("AAAA"), cursor + "A"}) {
        expect_error(s.call("GET", kvs(id, "/keys?cursor=" + bad), "org"), 400, "10015", "cursor");
    }
    expect_error(s.call("GET", kvs(other, "/keys?cursor=" + cursor), "org"), 400, "10015");          // another namespace
    expect_error(s.call("GET", kvs(id, "/keys?prefix=k&cursor=" + cursor), "org"), 400, "10015");    // another prefix
    const response next = s.call("GET", kvs(id, "/keys?limit=2&cursor=" + cursor), "org");
    EXPECT_EQ(listed_keys(next.body), (std::vector<std::string>{"k2", "k3"}));
    EXPECT_EQ(listed_keys(s.call("GET", kvs(id, "/keys?cursor="), "org").body).size(), 5u);  // empty: the start
}

TEST(api_hostile, one_tenants_namespace_flood_does_not_stop_another) {
    server_process server({"--threads", "2", "--namespaces-per-org", "40"});
    session s(server.port());
    for (int i = 0; i < 40; ++i) s.create("flooder", "ns-" + std::to_string(i));
    expect_error(s.call("POST", "/v2/storage/kvs", "flooder", std::string(R"({"name":"one-more"})")), 422, "10015");
    // Another organization is untouched by the flood.
    const std::string id = s.create("victim", "ns-0");
    EXPECT_EQ(s.put("victim", id, "k", "v"), 201);
    // Deleting frees the flooder's own room.
    const response list = s.call("GET", "/v2/storage/kvs?page[size]=1", "flooder");
    ASSERT_EQ(s.call("DELETE", kvs(json_string(list.body, "id")), "flooder").status, 200);
    for (int attempt = 0; attempt < 100; ++attempt) {  // gone once the next tick has collected it
        const response r = s.call("POST", "/v2/storage/kvs", "flooder", std::string(R"({"name":"again"})"));
        if (r.status == 201) break;
        ASSERT_EQ(r.status, 422) << r.body;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        ASSERT_LT(attempt, 99);
    }
}

// One tenant PUTs one key (so one owner core) with 70,000 distinct
// Content-Types, more than any per-core table held; another tenant's PUTs,
// with a type never seen before, land on every core and must all succeed.
TEST(api_hostile, a_content_type_flood_does_not_stop_another_tenants_put) {
    server_process server({"--threads", "2"});
    session s(server.port());
    const std::string flood_ns = s.create("flooder", "types");
    constexpr int types = 70'000, batch = 500;
    for (int sent = 0; sent < types; sent += batch) {  // pipelined, in batches
        std::string burst;
        for (int i = sent; i < sent + batch; ++i) {
            burst += request("PUT", kvs(flood_ns, "/keys/k"),
                             bearer("flooder") + "Content-Type: application/x-flood-" + std::to_string(i) + "\r\n",
                             std::string("v"));
        }
        s.raw().send(burst);
        for (int i = 0; i < batch; ++i) {
            const auto r = s.raw().read_response();
            ASSERT_TRUE(r);
            ASSERT_TRUE(r->status == 200 || r->status == 201) << r->status << " " << r->body;
        }
    }
    const response flooded = s.call("GET", kvs(flood_ns, "/keys/k"), "flooder");
    EXPECT_EQ(flooded.header("content-type"), "application/x-flood-" + std::to_string(types - 1));
    const std::string id = s.create("victim", "mine");
    for (int i = 0; i < 32; ++i) {
        const std::string key = "v" + std::to_string(i);
        ASSERT_EQ(s.put("victim", id, key, "v", "Content-Type: application/x-victim\r\n"), 201) << key;
        EXPECT_EQ(s.call("GET", kvs(id, "/keys/" + key), "victim").header("content-type"), "application/x-victim");
    }
}

TEST(api_hostile, writes_past_max_memory_are_507_while_reads_and_deletes_work) {
    server_process server({"--threads", "2", "--max-memory", "8M"});
    session s(server.port());
    const std::string id = s.create("org", "full");
    const std::string value(100 * 1024, 'v');
    std::vector<std::string> stored;
    std::string refused;
    for (int i = 0; i < 200 && refused.empty(); ++i) {
        const std::string key = "k" + std::to_string(i);
        const response r = s.call("PUT", kvs(id, "/keys/" + key), "org", value);
        if (r.status == 201) {
            stored.push_back(key);
        } else {
            expect_error(r, 507, "10015", "the server's memory limit is reached");
            refused = key;
        }
    }
    ASSERT_FALSE(refused.empty()) << "8 MiB never filled";
    EXPECT_GT(stored.size(), 20u);
    EXPECT_EQ(s.call("GET", kvs(id, "/keys/" + refused), "org").status, 404);  // stored nothing
    // Reads, listings and overwrites that do not grow keep working.
    const response read = s.call("GET", kvs(id, "/keys/" + stored.front()), "org");
    EXPECT_EQ(read.status, 200);
    EXPECT_EQ(read.body.size(), value.size());
    EXPECT_EQ(listed_keys(s.call("GET", kvs(id, "/keys"), "org").body).size(), stored.size());
    for (const std::string& key : stored) EXPECT_EQ(s.put("org", id, key, "small"), 200) << key;
    // The smaller values freed room: the refused key fits now.
    EXPECT_EQ(s.call("PUT", kvs(id, "/keys/" + refused), "org", value).status, 201);
    // Deletes keep working and free room too.
    for (const std::string& key : stored) EXPECT_EQ(s.call("DELETE", kvs(id, "/keys/" + key), "org").status, 204);
    for (int i = 0; i < 20; ++i) EXPECT_EQ(s.put("org", id, "after-" + std::to_string(i), value), 201) << i;
}

// Connections on both cores PUT into a namespace while it is deleted. Once
// the DELETE is answered and the name re-created, nothing of the old
// namespace may show, and PUTs that raced it answered 404/409 or stored
// into a namespace that was then purged.
TEST(api_hostile, deleting_a_namespace_racing_puts_leaves_no_key_behind) {
    server_process server({"--threads", "2"});
    session s(server.port());
    for (int round = 0; round < 5; ++round) {
        const std::string id = s.create("org", "race");
        std::atomic<bool> deleted{false};
        std::atomic<int> bad_status{0};
        std::vector<std::thread> writers;
        for (int w = 0; w < 4; ++w) {
            writers.emplace_back([&, w] {
                session mine(server.port());
                for (int i = 0; i < 300; ++i) {
                    const bool sent_after_delete = deleted;
                    const int status = mine.put("org", id, "w" + std::to_string(w) + "-" + std::to_string(i), "v");
                    if (status != 201 && status != 404 && status != 409) bad_status = status;
                    if (sent_after_delete && status == 201) bad_status = -201;  // stored after the answer
                }
            });
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        ASSERT_EQ(s.call("DELETE", kvs(id), "org").status, 200);
        deleted = true;
        for (std::thread& t : writers) t.join();
        EXPECT_EQ(bad_status.load(), 0);
        // Re-create the name: the new namespace is empty.
        std::string fresh;
        for (int attempt = 0; attempt < 100 && fresh.empty(); ++attempt) {
            const response r = s.call("POST", "/v2/storage/kvs", "org", std::string(R"({"name":"race"})"));
            if (r.status == 201) fresh = json_string(r.body, "id");
            else std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        ASSERT_FALSE(fresh.empty());
        EXPECT_EQ(s.call("GET", kvs(fresh, "/keys"), "org").body,
                  R"({"record_type":"storage_kv_key","data":[],"meta":{"has_more":false}})");
        EXPECT_EQ(s.call("GET", kvs(fresh, "/keys/w0-0"), "org").status, 404);
        EXPECT_EQ(s.call("GET", kvs(id, "/keys/w0-0"), "org").status, 404);
        ASSERT_EQ(s.call("DELETE", kvs(fresh), "org").status, 200);
    }
}

TEST(api_hostile, keys_sharing_a_prefix_and_many_keys_in_one_namespace_list_correctly) {
    server_process server({"--threads", "2"});
    session s(server.port());
    const std::string id = s.create("org", "many");
    std::set<std::string> expected;
    constexpr int keys = 2500, batch = 250;
    for (int sent = 0; sent < keys; sent += batch) {
        std::string burst;
        for (int i = sent; i < sent + batch; ++i) {
            const std::string key = "user/" + std::to_string(i);
            expected.insert(key);
            burst += request("PUT", kvs(id, "/keys/" + key), bearer("org"), std::string("v"));
        }
        s.raw().send(burst);
        for (int i = 0; i < batch; ++i) ASSERT_EQ(s.raw().read_response()->status, 201);
    }
    for (const std::string key : {"user", "user0", "usera", "user/", "use"}) {
        ASSERT_EQ(s.put("org", id, key, "v"), 201);
        expected.insert(key);
    }
    // Paged with cursors: every key once, in byte order.
    std::vector<std::string> all;
    std::string cursor;
    for (int page = 0; page < 10; ++page) {
        const response r = s.call("GET", kvs(id, "/keys?limit=1000" + (cursor.empty() ? "" : "&cursor=" + cursor)), "org");
        ASSERT_EQ(r.status, 200) << r.body;
        const auto got = listed_keys(r.body);
        all.insert(all.end(), got.begin(), got.end());
        cursor = json_string(r.body, "cursor");
        if (cursor.empty()) break;
    }
    EXPECT_EQ(all, std::vector<std::string>(expected.begin(), expected.end()));
    // Prefixes: a shared one, a deeper one, and one that is itself a key.
    EXPECT_EQ(listed_keys(s.call("GET", kvs(id, "/keys?prefix=user/249"), "org").body),
              (std::vector<std::string>{"user/249", "user/2490", "user/2491", "user/2492", "user/2493", "user/2494",
                                        "user/2495", "user/2496", "user/2497", "user/2498", "user/2499"}));
    EXPECT_EQ(listed_keys(s.call("GET", kvs(id, "/keys?prefix=user&limit=3"), "org").body),
              (std::vector<std::string>{"user", "user/", "user/0"}));
    EXPECT_EQ(listed_keys(s.call("GET", kvs(id, "/keys?prefix=usera"), "org").body), std::vector<std::string>{"usera"});
    EXPECT_TRUE(listed_keys(s.call("GET", kvs(id, "/keys?prefix=zzz"), "org").body).empty());
}

// API.md: integers are plain decimal digits, "007" is 7. Over 64
// characters they were 422 (a fixed 64-byte decoding buffer).
TEST(api_hostile, integers_with_many_leading_zeros_are_read_as_numbers) {
    server_process server({"--threads", "2"});
    session s(server.port());
    const std::string zeros(70, '0');
    const std::string id = s.create("org", "zeros");
    EXPECT_EQ(s.call("PUT", kvs(id, "/keys/a?ttl_secs=" + zeros + "60"), "org", "x").status, 201);
    EXPECT_EQ(s.put("org", id, "b", "y"), 201);
    const response listed = s.call("GET", kvs(id, "/keys?limit=" + zeros + "1"), "org");
    EXPECT_EQ(listed.status, 200) << listed.body;
    EXPECT_EQ(listed_keys(listed.body), std::vector<std::string>{"a"});
    const response page = s.call("GET", "/v2/storage/kvs?page[number]=" + zeros + "1&page[size]=" + zeros + "5", "org");
    EXPECT_EQ(page.status, 200) << page.body;
    EXPECT_NE(page.body.find("\"page_size\":5"), std::string::npos) << page.body;
    // Still plain digits only, and still at least 1.
    expect_error(s.call("GET", kvs(id, "/keys?limit=" + zeros), "org"), 422, "10015");
    expect_error(s.call("GET", kvs(id, "/keys?limit=" + zeros + "x"), "org"), 422, "10015");
}

// Each thread's share of --max-memory must hold one largest value: with
// 4 threads and 4M every 1 MiB PUT was 507 on an empty server. Start-up
// refuses such a bound and names the least it accepts, which works.
TEST(api_hostile, a_max_memory_too_small_for_one_value_per_thread_is_refused_at_start) {
    const process_result small = run_to_exit({"--port", "0", "--threads", "4", "--max-memory", "4M"}, 3'000);
    EXPECT_EQ(small.exit_status, 2) << small.err;
    const std::string marker = "the minimum is ";
    const std::size_t at = small.err.find(marker);
    ASSERT_NE(at, std::string::npos) << small.err;
    EXPECT_NE(small.err.find("--max-memory"), std::string::npos) << small.err;
    const std::string least = small.err.substr(at + marker.size(), small.err.find(' ', at + marker.size()) - at - marker.size());
    EXPECT_GT(std::stoull(least), 4u << 20);
    EXPECT_LE(std::stoull(least), 8u << 20);

    server_process server({"--threads", "4", "--max-memory", least});
    session s(server.port());
    const std::string id = s.create("org", "big");
    const std::string value(1 << 20, 'v');
    EXPECT_EQ(s.put("org", id, "first", value), 201);  // an empty server takes a largest value
    int stored = 1;
    for (int i = 0; i < 8; ++i) {
        const response r = s.call("PUT", kvs(id, "/keys/k" + std::to_string(i)), "org", value);
        if (r.status == 201) ++stored;
        else expect_error(r, 507, "10015");
    }
    EXPECT_GE(stored, 2);
}

}  // namespace
}  // namespace ringkv::testing

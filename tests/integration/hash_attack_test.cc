// Keys chosen offline against the hash ringkv used before its hashes had a
// secret seed: XXH3 of the key seeded with the namespace's number, whose top
// bit chose the owner of two cores and whose low 32 bits were the key's
// treap priority. Keys of one owner in ascending order with ascending
// priorities build a chain as deep as there are keys, and a listing's scan
// aborted past 256 levels. With a per-process secret the
// same keys make an ordinary, shallow tree, and whatever the shape, a
// listing must answer.
#include "harness.hh"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <vector>

namespace ringkv::testing {
namespace {

const std::string token = "attacker";

// The first namespace a fresh server creates had the number 1.
constexpr std::uint64_t first_namespace_number = 1;
constexpr std::size_t candidates = 80'000;  // ~40,000 on core 0: an increasing run of ~400
constexpr std::size_t chain_keys = 300;

std::string candidate_key(std::size_t i) {
    char text[24];  // "k" and up to 20 digits of a size_t
    std::snprintf(text, sizeof(text), "k%05zu", i);  // zero-padded: byte order is index order
    return text;
}

std::uint64_t old_hash(const std::string& key) {
    return XXH3_64bits_withSeed(key.data(), key.size(), first_namespace_number);
}

// The longest run of candidates owned by core 0 of two whose old priorities
// ascend with their order (patience sorting), cut to `count` keys.
std::vector<std::string> chain_for_the_old_hash(std::size_t count) {
    std::vector<std::uint32_t> priority(candidates);
    std::vector<bool> on_core_0(candidates);
    for (std::size_t i = 0; i < candidates; ++i) {
        const std::uint64_t hash = old_hash(candidate_key(i));
        priority[i] = std::uint32_t(hash);
        on_core_0[i] = (hash >> 63) == 0;
    }
    std::vector<std::size_t> tails;                 // index ending the best run of each length
    std::vector<std::size_t> previous(candidates);  // the run's element before i
    for (std::size_t i = 0; i < candidates; ++i) {
        if (!on_core_0[i]) continue;
        const auto at = std::lower_bound(tails.begin(), tails.end(), priority[i],
                                         [&](std::size_t t, std::uint32_t p) { return priority[t] < p; });
        previous[i] = at == tails.begin() ? SIZE_MAX : *(at - 1);
        if (at == tails.end()) tails.push_back(i); else *at = i;
    }
    std::vector<std::string> keys;
    for (std::size_t i = tails.back(); i != SIZE_MAX; i = previous[i]) keys.push_back(candidate_key(i));
    std::reverse(keys.begin(), keys.end());
    if (keys.size() > count) keys.resize(count);
    return keys;
}

std::string request(const std::string& method, const std::string& path, const std::string& body = "") {
    std::string r = method + " " + path + " HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " + token + "\r\n";
    if (!body.empty()) r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    return r + "\r\n" + body;
}

TEST(hash_attack, keys_that_chained_the_old_treap_list_in_order) {
    const std::vector<std::string> keys = chain_for_the_old_hash(chain_keys);
    ASSERT_EQ(keys.size(), chain_keys) << "the candidates hold no long enough run";

    server_process server({"--threads", "2"});
    client c(server.port());
    c.send(request("POST", "/v2/storage/kvs", R"({"name":"chain"})"));
    const auto created = c.read_response();
    ASSERT_TRUE(created && created->status == 201);
    const std::string keys_path = "/v2/storage/kvs/" + json_string(created->body, "id") + "/keys";

    std::string puts;  // pipelined, on the one connection
    for (const std::string& key : keys) puts += request("PUT", keys_path + "/" + key, "v");
    c.send(puts);
    for (std::size_t i = 0; i < keys.size(); ++i) {
        const auto r = c.read_response();
        ASSERT_TRUE(r) << i;
        ASSERT_EQ(r->status, 201) << i;
    }
    for (const std::string query : {"", "?prefix=k", "?limit=7"}) {
        c.send(request("GET", keys_path + query));
        const auto listed = c.read_response();
        ASSERT_TRUE(listed) << "the server did not answer a listing" << query;
        ASSERT_EQ(listed->status, 200);
        const std::size_t expected = query == "?limit=7" ? 7 : keys.size();
        std::size_t at = 0;
        for (std::size_t i = 0; i < expected; ++i) {
            at = listed->body.find("\"key\":\"" + keys[i] + "\"", at);
            ASSERT_NE(at, std::string::npos) << keys[i] << " missing or out of order" << query;
        }
    }
    c.send(get("/healthz"));
    const auto alive = c.read_response();
    ASSERT_TRUE(alive);
    EXPECT_EQ(alive->status, 200);
}

}  // namespace
}  // namespace ringkv::testing

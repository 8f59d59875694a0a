// The API's pure pieces: key names and percent-decoding, query parsing,
// integers, timestamps, bearer tokens, the create body's JSON, the cursor.
#include "api/cursor.hh"
#include "api/json.hh"
#include "api/keys.hh"
#include "api/owner.hh"
#include "api/text.hh"

#include <ringkv/store/sharding.hh>

#include <ringkv/store/uuid.hh>

#include <gtest/gtest.h>

#include <string>

namespace ringkv::api {
namespace {

std::optional<std::string> decoded_key(std::string_view raw) {
    char storage[key_bytes_max];
    auto key = decode_key(raw, storage);
    return key ? std::optional<std::string>(std::string(*key)) : std::nullopt;
}

TEST(keys, decode_once_and_validate) {
    EXPECT_EQ(decoded_key("user%2F1"), "user/1");
    EXPECT_EQ(decoded_key("user%2f1"), "user/1");
    EXPECT_EQ(decoded_key("user/1"), "user/1");
    EXPECT_EQ(decoded_key("a%252F"), std::nullopt);  // decoded once: "a%2F" has a '%'
    EXPECT_EQ(decoded_key("-/_=.azAZ09"), "-/_=.azAZ09");
    for (std::string_view bad : {"", "_x", "%5Fx", "a:b", "a b", "a%zz", "a%2", "a%", "caf\xc3\xa9", "a+b"}) {
        EXPECT_EQ(decoded_key(bad), std::nullopt) << bad;
    }
    EXPECT_TRUE(decoded_key(std::string(256, 'k')));
    EXPECT_FALSE(decoded_key(std::string(257, 'k')));
    std::string escaped(128, 'k');
    for (int i = 0; i < 128; ++i) escaped += "%2F";
    EXPECT_TRUE(decoded_key(escaped));  // 256 characters once decoded, 512 as sent
}

TEST(keys, namespace_names) {
    EXPECT_TRUE(valid_namespace_name("my-cache-01"));
    EXPECT_TRUE(valid_namespace_name(std::string(255, 'a')));
    EXPECT_FALSE(valid_namespace_name(std::string(256, 'a')));
    EXPECT_FALSE(valid_namespace_name(""));
    EXPECT_FALSE(valid_namespace_name("My-Cache"));
    EXPECT_FALSE(valid_namespace_name("my_cache"));
}

TEST(text, decimal_integers_are_plain_digits) {
    EXPECT_EQ(parse_decimal("007"), 7u);
    EXPECT_EQ(parse_decimal("9223372036"), 9223372036u);
    EXPECT_EQ(parse_decimal("18446744073709551615"), UINT64_MAX);
    EXPECT_EQ(parse_decimal("18446744073709551616"), UINT64_MAX);  // saturates
    EXPECT_EQ(parse_decimal("99999999999999999999999"), UINT64_MAX);
    for (std::string_view bad : {"", "+5", "-1", "5.0", "1e3", " 5", "5 ", "0x10"}) {
        EXPECT_EQ(parse_decimal(bad), std::nullopt) << bad;
    }
}

TEST(text, query_lookup_decodes_names_and_values) {
    char storage[64];
    auto q = find_query("page%5Bnumber%5D=2&page[size]=5&prefix=a%2Fb", "page[number]", storage);
    EXPECT_TRUE(q.present);
    EXPECT_EQ(q.value, "2");
    q = find_query("page%5Bnumber%5D=2&page[size]=5&prefix=a%2Fb", "prefix", storage);
    EXPECT_EQ(q.value, "a/b");
    q = find_query("a=1&ttl&b=2", "ttl", storage);
    EXPECT_TRUE(q.present);
    EXPECT_EQ(q.value, "");
    EXPECT_FALSE(find_query("a=1", "ttl", storage).present);
    EXPECT_TRUE(find_query("x=%zz", "x", storage).malformed);
    q = find_query("limit=1&limit=2", "limit", storage);
    EXPECT_EQ(q.value, "1");  // the first wins
}

TEST(text, rfc3339_timestamps) {
    char text[rfc3339_bytes];
    format_rfc3339(0, text);
    EXPECT_EQ(std::string(text, rfc3339_bytes), "1970-01-01T00:00:00Z");
    format_rfc3339(1781794097, text);
    EXPECT_EQ(std::string(text, rfc3339_bytes), "2026-06-18T14:48:17Z");
    format_rfc3339(951782400, text);  // a leap day
    EXPECT_EQ(std::string(text, rfc3339_bytes), "2000-02-29T00:00:00Z");
    format_rfc3339(4294967295u, text);
    EXPECT_EQ(std::string(text, rfc3339_bytes), "2106-02-07T06:28:15Z");
}

TEST(text, bearer_tokens) {
    EXPECT_EQ(bearer_token("Bearer abc"), "abc");
    EXPECT_EQ(bearer_token("bEaReR   abc  "), "abc");
    EXPECT_EQ(bearer_token("Bearer "), "");
    EXPECT_EQ(bearer_token("Bearer"), "");
    EXPECT_EQ(bearer_token("Bearerabc"), "");
    EXPECT_EQ(bearer_token("Basic abc"), "");
    EXPECT_EQ(bearer_token(""), "");
}

TEST(json, create_body) {
    auto b = parse_create_body(R"( {"name":"my-cache","ttl_support":false,"extra":[1,{"x":null}]} )");
    EXPECT_EQ(b.what, create_body::kind::ok);
    EXPECT_EQ(b.name, "my-cache");
    EXPECT_EQ(b.ttl_support, false);
    b = parse_create_body(R"({"name":"a\u0062c"})");
    EXPECT_EQ(b.name, "abc");
    EXPECT_EQ(parse_create_body("").what, create_body::kind::invalid_json);
    EXPECT_EQ(parse_create_body("{").what, create_body::kind::invalid_json);
    EXPECT_EQ(parse_create_body(R"({"name":"x",})").what, create_body::kind::invalid_json);
    EXPECT_EQ(parse_create_body(R"({"name":"x"} trailing)").what, create_body::kind::invalid_json);
    EXPECT_EQ(parse_create_body("01").what, create_body::kind::invalid_json);
    EXPECT_EQ(parse_create_body(std::string(1000, '[') + std::string(1000, ']')).what, create_body::kind::invalid_json);
    EXPECT_EQ(parse_create_body(R"("name")").what, create_body::kind::not_object);
    EXPECT_EQ(parse_create_body("[1,2]").what, create_body::kind::not_object);
    EXPECT_EQ(parse_create_body("-1.5e3").what, create_body::kind::not_object);
    b = parse_create_body(R"({"name":5,"ttl_support":"yes"})");
    EXPECT_TRUE(b.has_name);
    EXPECT_FALSE(b.name_is_string);
    EXPECT_TRUE(b.has_ttl_support);
    EXPECT_FALSE(b.ttl_support.has_value());
    EXPECT_FALSE(parse_create_body("{}").has_name);
}

TEST(cursor, round_trips_and_rejects_foreign_ones) {
    const cursor_codec codec(0x1234'5678'9abc'def0ull);
    std::string text;
    codec.encode(7, "user/", "user/0042", text);
    char storage[key_bytes_max];
    auto key = codec.decode(text, 7, "user/", storage);
    ASSERT_TRUE(key);
    EXPECT_EQ(*key, "user/0042");
    EXPECT_EQ(text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
              std::string::npos);  // URL-safe as is
    EXPECT_FALSE(codec.decode(text, 8, "user/", storage));    // another namespace
    EXPECT_FALSE(codec.decode(text, 7, "user", storage));     // another prefix
    EXPECT_FALSE(cursor_codec(1).decode(text, 7, "user/", storage));  // another server's secret
    for (std::size_t i = 0; i < text.size(); ++i) {            // any one character changed
        std::string forged = text;
        forged[i] = forged[i] == 'A' ? 'B' : 'A';
        EXPECT_FALSE(codec.decode(forged, 7, "user/", storage)) << i;
    }
    EXPECT_FALSE(codec.decode("", 7, "user/", storage));
    EXPECT_FALSE(codec.decode("!!!", 7, "user/", storage));
    EXPECT_FALSE(codec.decode(text + "A", 7, "user/", storage));  // a character standing alone
    // The same bytes spelled with another unused low bit in the last
    // character (17 raw bytes: 23 characters, the last one has 2 spare bits).
    ASSERT_EQ(text.size() % 4, 3u);
    std::string respelled = text;
    const std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    respelled.back() = alphabet[alphabet.find(respelled.back()) ^ 1u];
    EXPECT_FALSE(codec.decode(respelled, 7, "user/", storage));
    std::string longest;
    codec.encode(1, "", std::string(256, 'z'), longest);
    EXPECT_LE(longest.size(), cursor_codec::text_bytes_max);
    EXPECT_EQ(codec.decode(longest, 1, "", storage)->size(), 256u);
}

// --- Hostile input (issue 7) -------------------------------------------------

// Integers are plain decimal digits, "007" is 7 (API.md), however many
// zeros lead (issue 7 review, 3: over 64 characters they were 422).
TEST(text, integer_parameters_take_any_number_of_leading_zeros) {
    const std::string zeros(70, '0');
    EXPECT_EQ(find_query_decimal("limit=" + zeros + "5", "limit").value, 5u);
    EXPECT_EQ(find_query_decimal("a=b&limit=" + std::string(8000, '0') + "42", "limit").value, 42u);
    EXPECT_EQ(find_query_decimal("limit=%30%307", "limit").value, 7u);  // decoded once
    EXPECT_EQ(find_query_decimal("ttl_secs=" + zeros + "18446744073709551616", "ttl_secs").value,
              UINT64_MAX);  // saturates, as parse_decimal
    for (const std::string& bad : std::vector<std::string>{"", "+5", "5.0", "1e3", "%zz", "%2", "%2B5", "-1", zeros + "x"}) {
        const query_number q = find_query_decimal("limit=" + bad, "limit");
        EXPECT_TRUE(q.present) << bad;
        EXPECT_FALSE(q.value) << bad;
    }
    EXPECT_TRUE(find_query_decimal("limit", "limit").present);
    EXPECT_FALSE(find_query_decimal("limit", "limit").value);
    EXPECT_FALSE(find_query_decimal("limits=5", "limit").present);
    EXPECT_EQ(find_query_decimal("limit=3&limit=4", "limit").value, 3u);  // the first wins
}

// A cursor must reveal nothing across tenants (issue 7 review, 2): the
// namespace number is global and sequential, so a cursor carrying it told a
// tenant how many namespaces the others had created. The text is the key
// and a MAC, nothing else; the namespace and prefix are bound by the MAC.
TEST(cursor, carries_only_the_key_and_a_mac) {
    const cursor_codec codec(0x0123'4567'89ab'cdefull);
    std::string first, later;
    codec.encode(1, "", "abc", first);
    codec.encode(70'001, "", "abc", later);
    // "abc" is "YWJj" in base64url; 3 key bytes and an 8-byte MAC are 15 characters.
    EXPECT_EQ(first.substr(0, 4), "YWJj");
    EXPECT_EQ(first.size(), 15u);
    EXPECT_EQ(later.size(), first.size());
    EXPECT_EQ(later.substr(0, 4), "YWJj");
    EXPECT_NE(later, first);  // the MAC differs: each is bound to its namespace
    char storage[key_bytes_max];
    EXPECT_EQ(codec.decode(first, 1, "", storage), "abc");
    EXPECT_FALSE(codec.decode(first, 70'001, "", storage));
    EXPECT_EQ(codec.decode(later, 70'001, "", storage), "abc");
    // Cursors of consecutive namespaces share nothing past the key.
    std::string a, b;
    codec.encode(41, "p", "abc", a);
    codec.encode(42, "p", "abc", b);
    EXPECT_NE(a.substr(4, 8), b.substr(4, 8));
}

TEST(text, every_query_parameter_is_read_however_many_come_first) {
    std::string query;
    for (int i = 0; i < 100; ++i) query += "p" + std::to_string(i) + "=x&";
    char storage[64];
    auto q = find_query(query + "ttl_secs=0", "ttl_secs", storage);
    EXPECT_TRUE(q.present);  // the 101st parameter
    EXPECT_EQ(q.value, "0");
    EXPECT_TRUE(find_query(query + "ttl=5", "ttl", storage).present);
    EXPECT_EQ(find_query(query + "limit=0", "limit", storage).value, "0");
    // The longest target the server accepts: 8 KiB of tiny parameters.
    std::string many;
    while (many.size() < 8000) many += "a&";
    EXPECT_EQ(find_query(many + "cursor=zz", "cursor", storage).value, "zz");
}

TEST(cursor, junk_of_any_length_is_refused) {
    const cursor_codec codec(42);
    char storage[key_bytes_max];
    EXPECT_FALSE(codec.decode(std::string(5000, 'A'), 1, "", storage));
    EXPECT_FALSE(codec.decode(std::string(5000, '!'), 1, "", storage));
    EXPECT_FALSE(codec.decode("%zz", 1, "", storage));
    // Undecodable percent-encoding is "malformed", which list_keys answers 400.
    char text[cursor_codec::text_bytes_max];
    EXPECT_TRUE(find_query("cursor=%zz", "cursor", text).malformed);
    EXPECT_TRUE(find_query("cursor=" + std::string(5000, 'A'), "cursor", text).malformed);  // longer than any cursor
    // An empty last key (never issued) encodes without touching a null pointer.
    std::string out;
    codec.encode(1, {}, {}, out);
    EXPECT_FALSE(out.empty());
}

TEST(json, hostile_bodies_are_refused_without_harm) {
    // Nesting past the bound, at the top and inside the object.
    EXPECT_EQ(parse_create_body(std::string(100'000, '[')).what, create_body::kind::invalid_json);
    EXPECT_EQ(parse_create_body(R"({"x":)" + std::string(100'000, '{')).what, create_body::kind::invalid_json);
    std::string deep_ok = R"({"name":"a","x":)" + std::string(60, '[') + std::string(60, ']') + "}";
    EXPECT_EQ(parse_create_body(deep_ok).what, create_body::kind::ok);
    // Huge numbers are syntax, never converted.
    EXPECT_EQ(parse_create_body(R"({"name":"a","n":)" + std::string(100'000, '9') + "e99999999999}").what,
              create_body::kind::ok);
    EXPECT_EQ(parse_create_body(R"({"name":"a","n":1e})").what, create_body::kind::invalid_json);
    // Invalid UTF-8: a lone continuation, an overlong '/', a surrogate, past U+10FFFF, truncated.
    for (std::string bad : {std::string("\x80"), std::string("\xc0\xaf"), std::string("\xed\xa0\x80"),
                            std::string("\xf4\x90\x80\x80"), std::string("\xe2\x82")}) {
        EXPECT_EQ(parse_create_body(R"({"name":"a","x":")" + bad + "\"}").what, create_body::kind::invalid_json) << bad;
    }
    // Valid UTF-8 is fine (and makes a bad name: 422, not 400).
    const auto accented = parse_create_body("{\"name\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}");
    EXPECT_EQ(accented.what, create_body::kind::ok);
    EXPECT_FALSE(valid_namespace_name(accented.name));
    // Duplicate members the route reads: refused (422), not silently picked.
    auto dup = parse_create_body(R"({"name":"a","name":"b"})");
    EXPECT_EQ(dup.what, create_body::kind::duplicate_member);
    EXPECT_EQ(dup.duplicate_member, "/name");
    dup = parse_create_body(R"({"name":"a","ttl_support":true,"ttl_support":false})");
    EXPECT_EQ(dup.what, create_body::kind::duplicate_member);
    EXPECT_EQ(dup.duplicate_member, "/ttl_support");
    EXPECT_EQ(parse_create_body(R"({"name":"a","x":{"name":1,"name":2}})").what, create_body::kind::ok);  // nested: not ours
    EXPECT_EQ(parse_create_body(std::string("{\"name\":\"a\"}\0", 13)).what, create_body::kind::invalid_json);
}

store::namespace_record namespace_numbered(std::uint32_t number) {
    store::namespace_record r;
    r.id = store::uuid::v4(number, number * 31ull);
    r.number = number;
    r.name = "ns";
    r.organization = "org";
    return r;
}

put_order order_for(std::uint32_t number, std::string_view key) {
    put_order o;
    o.hash = store::key_hash(number, key);
    o.namespace_number = number;
    o.key = key;
    o.value = "value";
    o.content_type = "text/plain";
    return o;
}

TEST(owner, refuses_a_namespace_its_own_replica_has_dropped) {
    core_state state(0);
    state.namespaces.insert(namespace_numbered(5));
    const store::instant now{100, 0};
    EXPECT_EQ(put_on_owner(state, order_for(5, "a"), now), put_outcome::created);
    EXPECT_EQ(put_on_owner(state, order_for(5, "a"), now), put_outcome::replaced);
    // A DELETE reached this core (mark deleting, purge) before a PUT that
    // its coordinator had already checked.
    state.namespaces.mark_deleting(namespace_numbered(5).id, 0, 200);
    state.keys.drop_namespace(5);
    while (state.keys.background_step(now)) {
    }
    EXPECT_EQ(put_on_owner(state, order_for(5, "b"), now), put_outcome::namespace_deleting);
    EXPECT_FALSE(state.keys.holds_namespace(5));  // no index re-created
    EXPECT_EQ(state.keys.size(), 0u);
    state.namespaces.collect_gone(200);
    EXPECT_EQ(put_on_owner(state, order_for(5, "c"), {200, 0}), put_outcome::namespace_gone);
    EXPECT_EQ(put_on_owner(state, order_for(6, "c"), {200, 0}), put_outcome::namespace_gone);  // never known
    EXPECT_EQ(state.keys.size(), 0u);
}

TEST(owner, a_full_budget_is_memory_full_not_a_crash) {
    core_state state(0, 64 * 1024);
    state.namespaces.insert(namespace_numbered(1));
    const std::string big(100 * 1024, 'x');
    put_order o = order_for(1, "big");
    o.value = big;
    EXPECT_EQ(put_on_owner(state, o, {0, 0}), put_outcome::memory_full);
    EXPECT_EQ(state.keys.size(), 0u);
    EXPECT_EQ(put_on_owner(state, order_for(1, "small"), {0, 0}), put_outcome::created);
}

TEST(uuid, parse_and_format) {
    auto u = store::uuid::parse("29054EB8-575b-4163-8986-a51dcf4af51d");
    ASSERT_TRUE(u);
    char text[store::uuid::text_bytes];
    u->format(text);
    EXPECT_EQ(std::string(text, sizeof(text)), "29054eb8-575b-4163-8986-a51dcf4af51d");
    for (std::string_view bad : {"", "29054eb8575b41638986a51dcf4af51d", "29054eb8-575b-4163-8986-a51dcf4af51", "g9054eb8-575b-4163-8986-a51dcf4af51d",
                                 "29054eb8-575b-4163-8986_a51dcf4af51d"}) {
        EXPECT_FALSE(store::uuid::parse(bad)) << bad;
    }
    store::uuid v4 = store::uuid::v4(~0ull, ~0ull);
    v4.format(text);
    EXPECT_EQ(text[14], '4');
    EXPECT_TRUE(text[19] == '8' || text[19] == '9' || text[19] == 'a' || text[19] == 'b');
}

}  // namespace
}  // namespace ringkv::api

#pragma once
// What on_head learns about a request and on_request acts on: the route,
// the decoded parts, the namespace. Lives in the connection's request
// scratch (trivially destructible, no heap).

#include "keys.hh"

#include <ringkv/control/admin.hh>
#include <ringkv/control/rules.hh>
#include <ringkv/net/http/error_response.hh>
#include <ringkv/net/http/handler.hh>
#include <ringkv/store/uuid.hh>

#include <cstdint>
#include <new>
#include <string_view>
#include <type_traits>

namespace ringkv::api {

enum class route : std::uint8_t { none, healthz, namespaces, one_namespace, keys, one_key, admin };

struct plan {
    route which = route::none;
    const control::admin_table::route* admin_route = nullptr;  // route::admin: the control-plane route
    std::string_view organization;  // the bearer token (a view into the head)
    std::string_view query;         // the raw query string (a view into the head)
    store::uuid id;
    std::uint32_t namespace_number = 0;
    // What the steering rules decided for this request (control/); no rule
    // matched unless steer.matched(). checks_deferred: a rate-limited
    // token's request makes its later checks (query, namespace) only once
    // its bucket admitted it.
    control::decision steer;
    bool checks_deferred = false;

    char key[key_bytes_max];
    std::uint16_t key_bytes = 0;
    std::uint64_t ttl_ms = 0;  // PUT: 0 = no TTL

    // Listing namespaces.
    std::uint64_t page_number = 1;
    std::uint64_t page_size = 20;
    // Listing keys.
    std::uint32_t limit = 1000;
    char prefix[key_bytes_max];
    std::uint16_t prefix_bytes = 0;
    bool prefix_matches_nothing = false;  // longer than any key
    char after[key_bytes_max];
    std::uint16_t after_bytes = 0;

    std::string_view key_view() const { return {key, key_bytes}; }
    std::string_view prefix_view() const { return {prefix, prefix_bytes}; }
    std::string_view after_view() const { return {after, after_bytes}; }
};
static_assert(std::is_trivially_destructible_v<plan>);
static_assert(sizeof(plan) <= net::http::request_scratch::bytes);

inline plan& plan_in(net::http::request_scratch& scratch) {
    return *std::launder(reinterpret_cast<plan*>(scratch.storage.data()));
}

// Writes an error and tells the HTTP layer the request is answered.
inline net::http::head_verdict reject(net::http::response_writer& writer, const net::http::error& e,
                                      std::string_view extra_headers = {}) {
    net::http::write_error(writer, e, extra_headers);
    return net::http::head_verdict::answered();
}

}  // namespace ringkv::api

#pragma once
// Just enough JSON for POST /v2/storage/kvs: a strict validator (RFC 8259)
// that also picks out the top-level members the route reads. Nesting is
// bounded (json_depth_max) so a hostile body cannot exhaust the stack;
// numbers are checked for syntax only, never converted (any length is
// fine); strings must be valid UTF-8. The work is linear in the body, which
// the HTTP layer bounds (limits::body_bytes_max).

#include <optional>
#include <string>
#include <string_view>

namespace ringkv::api {

inline constexpr int json_depth_max = 64;

struct create_body {
    // duplicate_member: "name" or "ttl_support" given twice at the top level.
    enum class kind { invalid_json, not_object, duplicate_member, ok };
    kind what = kind::invalid_json;
    std::string_view duplicate_member;  // "/name" or "/ttl_support" (a JSON pointer)
    bool has_name = false;
    bool name_is_string = false;
    std::string name;                 // decoded
    bool has_ttl_support = false;
    std::optional<bool> ttl_support;  // empty when present but not a boolean
};

create_body parse_create_body(std::string_view text);

}  // namespace ringkv::api

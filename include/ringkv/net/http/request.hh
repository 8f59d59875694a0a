#pragma once
// A parsed request, as views into the connection's read buffer. The views
// stay valid from the head until the request is finished (the handler's
// on_request has returned); nothing moves under them meanwhile. No view holds
// a control character other than HTAB (no CR, no LF).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ringkv::net::http {

enum class method : std::uint8_t { get, head, post, put, delete_, connect, other };

struct request_head {
    http::method method = method::other;
    std::string_view target;         // as sent: path and query
    std::string_view path;           // target before '?'
    std::string_view query;          // target after '?', without it
    std::string_view content_type;   // empty when absent
    std::string_view authorization;  // empty when absent
    std::optional<std::uint64_t> content_length;
    bool chunked = false;
    bool expect_continue = false;
    bool keep_alive = true;     // after HTTP/1.0 and Connection rules
    std::uint8_t version_minor = 1;

    // Whether body bytes follow the head (a chunked body may still be empty).
    bool body_follows() const { return chunked || content_length.value_or(0) > 0; }
};

struct request {
    const request_head& head;
    std::string& body;  // empty when no body or an empty one; the handler may move it out
};

}  // namespace ringkv::net::http

#pragma once
// What the HTTP layer asks of the application, twice per request:
//  1. on_head, when the head is complete and before the body is read, so
//     errors that precede the body (route, auth, 413 from Content-Length,
//     query checks) are answered at once, and "100 Continue" is sent only
//     for a request that can be accepted;
//  2. on_request, with the whole request, unless on_head already answered.

#include <ringkv/base/limits.hh>
#include <ringkv/io/task.hh>
#include <ringkv/net/http/request.hh>
#include <ringkv/net/http/response.hh>

#include <array>
#include <cstddef>

namespace ringkv::net::http {

// Per-request memory the handler may use between on_head and on_request
// (each connection owns one; requests on a connection run one at a time).
// Whatever the handler keeps there must be trivially destructible.
struct alignas(16) request_scratch {
    static constexpr std::size_t bytes = 1024;
    std::array<std::byte, bytes> storage;
    // Set by the connection before on_head: this request's number on its
    // connection (0 for the first), for choices that must repeat with the
    // request sequence (seeded fault injection).
    std::uint64_t connection_request = 0;
};

struct head_verdict {
    enum class action {
        read_body,       // read the body (at most body_bytes_max), then on_request
        ignore_body,     // read the body as it arrives and drop it (at most
                         // body_bytes_max), then on_request with an empty body
        body_too_large,  // answer 413 and close without reading the body
        answered,        // on_head wrote the response; any body is discarded
    };
    action what = action::read_body;
    std::size_t body_bytes_max = 0;

    static head_verdict read_body(std::size_t bytes_max) { return {action::read_body, bytes_max}; }
    // For routes that take no body (GET, HEAD, DELETE, health): a body sent
    // anyway costs no memory, and one over discarded_body_bytes_max is 413
    // and close, as for read_body.
    static head_verdict ignore_body() { return {action::ignore_body, limits::discarded_body_bytes_max}; }
    static head_verdict too_large() { return {action::body_too_large, 0}; }
    static head_verdict answered() { return {action::answered, 0}; }
};

class handler {
public:
    virtual ~handler() = default;
    // Must not suspend.
    virtual head_verdict on_head(const request_head& head, response_writer& writer, request_scratch& scratch) = 0;
    // May suspend (cross-core calls). `request` and `writer` stay valid until
    // it completes; it must write exactly one response.
    virtual io::task<> on_request(request& request, response_writer& writer, request_scratch& scratch) = 0;
};

}  // namespace ringkv::net::http

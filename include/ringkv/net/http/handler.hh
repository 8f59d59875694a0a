#pragma once
// What the HTTP layer asks of the application, twice per request:
//  1. on_head, when the head is complete and before the body is read, so
//     errors that precede the body (route, auth, 413 from Content-Length,
//     query checks) are answered at once, and "100 Continue" is sent only
//     for a request that can be accepted;
//  2. on_request, with the whole request, unless on_head already answered.
// And, when the server observes requests (server_options::observe), what
// became of each response:
//  3. on_answered, once the response is written to the output buffer;
//  4. on_complete, once it has been handed to the kernel.
//
// Deferred answers (pipelining; optional, the defaults defer nothing). A
// handler may take consecutive requests of one connection as a batch, run
// their operations together (one cross-core message per owner core instead
// of a round trip each) and answer them later, in request order:
//  - defer() is offered a request instead of on_request; true means the
//    handler took it (copied what it needs; it may swap the body out) and
//    writes nothing now. on_answered is called at once, with status 0
//    (the head and scratch are the request's only then); the status and
//    size are filled in when the answer is written, and on_settled says
//    so.
//  - while answers are deferred, may_defer() is asked before on_head: false
//    means this request cannot join them (its answer or its operation must
//    follow theirs), so the connection settles them first.
//  - settling: run_deferred() runs their operations, then write_deferred()
//    writes each answer, oldest first. The connection settles before it
//    writes any other answer, flushes, or waits for input, so answers
//    leave in request order and a client never waits on a deferred one.
// Bound: at most limits::deferred_answers_max requests per batch.

#include <ringkv/base/limits.hh>
#include <ringkv/io/task.hh>
#include <ringkv/net/http/request.hh>
#include <ringkv/net/http/response.hh>

#include <array>
#include <cstddef>
#include <cstdint>

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
    // The handler's own, kept across requests (its deferred batch, or
    // null); the connection never touches it. The handler must have given
    // back whatever it points to when its last deferred answer is written.
    void* deferred = nullptr;
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

// One request and its response, as the connection observed them.
struct exchange {
    std::uint64_t started_ns = 0;   // monotonic: the head parsed (or the failure found)
    std::uint64_t duration_ns = 0;  // from started_ns to the response handed to the kernel
    std::uint64_t note = 0;         // the handler's, from on_answered
    std::uint32_t bytes_in = 0;     // the request's head and the body read before the answer
    std::uint32_t bytes_out = 0;    // the response, head and body
    std::uint32_t injected_delay_us = 0;  // response_writer::add_injected_delay_us
    std::uint16_t status = 0;
    http::method method = http::method::other;
    std::uint8_t route_tag = 0;     // the handler's name for the route, set in on_answered
};

class handler {
public:
    virtual ~handler() = default;
    // Must not suspend.
    virtual head_verdict on_head(const request_head& head, response_writer& writer, request_scratch& scratch) = 0;
    // May suspend (cross-core calls). `request` and `writer` stay valid until
    // it completes; it must write exactly one response.
    virtual io::task<> on_request(request& request, response_writer& writer, request_scratch& scratch) = 0;

    // The response to `head` is in the output buffer. `head` is null when
    // the handler never saw the request (not valid HTTP, a timeout,
    // CONNECT); otherwise the head's views and the scratch are still the
    // request's. The handler may set `done.route_tag` and `done.note`
    // (both come back in on_complete). Must not suspend.
    virtual void on_answered(const request_head* head, const request_scratch& scratch, exchange& done) {
        (void)head, (void)scratch, (void)done;
    }
    // The response has been handed to the kernel (or the send failed: the
    // peer left): `done` is complete. Called once per on_answered, in
    // order. Must not suspend.
    virtual void on_complete(const exchange& done) { (void)done; }
    // A deferred response is now in the output buffer: `done`'s status and
    // bytes_out are final (on_answered saw status 0). Must not suspend.
    virtual void on_settled(const exchange& done) { (void)done; }

    // Deferred answers (see the top of this file). None of these suspends
    // but run_deferred. more_buffered: the client has sent more behind this
    // request already (a batch is worth starting).
    virtual bool may_defer(const request_head& head) const {
        (void)head;
        return false;
    }
    virtual bool defer(request& request, request_scratch& scratch, bool more_buffered) {
        (void)request, (void)scratch, (void)more_buffered;
        return false;
    }
    virtual io::task<> run_deferred(request_scratch& scratch) {
        (void)scratch;
        co_return;
    }
    virtual void write_deferred(std::size_t index, response_writer& writer, request_scratch& scratch) {
        (void)index, (void)writer, (void)scratch;
    }
};

}  // namespace ringkv::net::http

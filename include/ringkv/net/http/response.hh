#pragma once
// Writes responses into a connection's output buffer. Every response gets a
// Date header (the loop's, formatted once per second) and a Content-Length;
// HEAD responses keep the headers and drop the body. With Server-Timing on,
// each response says how long ringkv took: `Server-Timing: app;dur=0.052`
// (milliseconds from the head parsed to the response written, less any
// injected delay), then `, inject;dur=20.000` when a delay was injected.

#include <cstdint>
#include <string>
#include <string_view>

namespace ringkv::net::http {

std::string_view reason_phrase(int status);

// A response body the connection sends straight from its owner's memory
// (a stored value), then hands back through release(context).
struct external_body {
    std::string_view bytes;
    void (*release)(void* context) = nullptr;
    void* context = nullptr;

    void drop() {
        if (release != nullptr) release(context);
        release = nullptr;
    }
};

// What the control plane injects into one response (control/ decides, the
// connection carries it out once the response is written): a delay before
// it leaves, and a fault in how it leaves.
struct injection {
    enum class transport : std::uint8_t {
        none,
        reset,     // no response: the connection is reset (RST)
        close,     // no response: the connection is closed (FIN)
        hang,      // no response: nothing until the client closes or the idle timeout
        dribble,   // the response in pieces, bytes_per_second
        truncate,  // the head and half the body, then close
    };
    std::uint32_t delay_us = 0;
    transport fault = transport::none;
    std::uint32_t bytes_per_second = 0;  // dribble

    bool any() const { return delay_us != 0 || fault != transport::none; }
};

class response_writer {
public:
    // out: the connection's output buffer; appended to, never cleared here.
    // date_header: the loop's Date line, fixed in length, rewritten in place.
    // node_header: a whole header line sent on every response (the server's
    // X-Ringkv-Node, --node-name), or empty; it must outlive the writer.
    // server_timing: a Server-Timing header on every response.
    response_writer(std::string& out, std::string_view date_header, std::string_view node_header = {},
                    bool server_timing = false)
        : _out(out), _date_header(date_header), _node_header(node_header), _server_timing(server_timing) {}

    // Per request, when its head is parsed (or its failure found):
    // monotonic nanoseconds, the start of its Server-Timing.
    void start_request(std::uint64_t started_ns) { _started_ns = started_ns; }
    // The delay injected into this response (inject()): shown as
    // `inject;dur=` when it was injected before the response was written,
    // and reported with the request (journal, exchange).
    std::uint32_t injected_delay_us() const { return _injection.delay_us; }

    // Per request, before any write.
    void begin(bool head_only, bool keep_alive, std::uint8_t version_minor) {
        _head_only = head_only;
        _keep_alive = keep_alive;
        _version_minor = version_minor;
        _written = false;
        _status = 0;  // a fault that sends nothing (write_nothing) reports no status
        _injection = {};
        _sticky_bytes = 0;
    }

    // What begin() and a written answer set, for a connection that writes
    // other answers (deferred ones) between a request's begin() and its
    // own answer, or after it: save(), write those, restore(). Sticky
    // headers and an external body are not kept (only a request that
    // never coexists with deferred answers has them).
    struct request_state {
        bool head_only = false;
        bool keep_alive = true;
        bool written = false;
        std::uint8_t version_minor = 1;
        int status = 0;
        std::uint64_t started_ns = 0;
        std::size_t response_offset = 0;
        injection injected;
    };
    request_state save() const {
        return {_head_only, _keep_alive, _written, _version_minor, _status, _started_ns, _response_offset, _injection};
    }
    void restore(const request_state& state) {
        _head_only = state.head_only;
        _keep_alive = state.keep_alive;
        _written = state.written;
        _version_minor = state.version_minor;
        _status = state.status;
        _started_ns = state.started_ns;
        _response_offset = state.response_offset;
        _injection = state.injected;
    }

    // extra_headers: whole header lines, each ending in CRLF.
    void write(int status, std::string_view content_type, std::string_view body,
               std::string_view extra_headers = {});
    // A response without a body: Content-Length: 0, or none for 204.
    void write_empty(int status, std::string_view extra_headers = {});
    // Interim "100 Continue"; does not count as the response.
    void write_continue();
    // Headers into the buffer; the body is sent from `body` itself (no copy),
    // right after what the buffer holds. Takes ownership of `body`.
    void write_external(int status, std::string_view content_type, external_body body);
    // The external body of the response just written, if any (taken once).
    std::size_t external_bytes() const { return _external.bytes.size(); }
    external_body take_external() {
        external_body b = _external;
        _external = {};
        return b;
    }

    // Drops the response written so far (its bytes in the buffer and its
    // external body), so another can be written in its place: a fault
    // injected after the operation ran.
    void discard();
    // Marks the request answered with no bytes at all: an injected fault
    // (reset, close, hang) sends nothing in its place.
    void write_nothing() { _written = true; _response_offset = _out.size(); }

    // Header lines (each ending in CRLF) added to whichever response is
    // written next for this request, whatever writes it (the rate-limit
    // headers). At most sticky_bytes_max bytes; cleared by begin().
    static constexpr std::size_t sticky_bytes_max = 192;
    void add_sticky_headers(std::string_view lines);

    void inject(const injection& what) { _injection = what; }
    const injection& injected() const { return _injection; }
    // Where this request's response starts in the output buffer (what
    // precedes it belongs to earlier pipelined requests).
    std::size_t response_offset() const { return _response_offset; }

    // From now on the connection closes after this response.
    void close_after() { _keep_alive = false; }
    bool keep_alive() const { return _keep_alive; }
    bool written() const { return _written; }
    // The status of the response written (0 before).
    int status() const { return _status; }

private:
    void status_line(int status);
    // Status line and headers of a response whose body has body_bytes.
    void head_with_body(int status, std::string_view content_type, std::size_t body_bytes,
                        std::string_view extra_headers);
    void common_headers(std::string_view extra_headers);
    void server_timing_header();

    std::string& _out;
    std::string_view _date_header;
    std::string_view _node_header;
    bool _head_only = false;
    bool _keep_alive = true;
    bool _written = false;
    const bool _server_timing;
    std::uint8_t _version_minor = 1;
    int _status = 0;
    std::uint64_t _started_ns = 0;
    external_body _external;
    std::size_t _response_offset = 0;
    injection _injection;
    char _sticky[sticky_bytes_max];
    std::size_t _sticky_bytes = 0;
};

}  // namespace ringkv::net::http

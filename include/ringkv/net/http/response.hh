#pragma once
// Writes responses into a connection's output buffer. Every response gets a
// Date header (the loop's, formatted once per second) and a Content-Length;
// HEAD responses keep the headers and drop the body.

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

class response_writer {
public:
    // out: the connection's output buffer; appended to, never cleared here.
    // date_header: the loop's Date line, fixed in length, rewritten in place.
    // node_header: a whole header line sent on every response (the server's
    // X-Ringkv-Node, --node-name), or empty; it must outlive the writer.
    response_writer(std::string& out, std::string_view date_header, std::string_view node_header = {})
        : _out(out), _date_header(date_header), _node_header(node_header) {}

    // Per request, before any write.
    void begin(bool head_only, bool keep_alive, std::uint8_t version_minor) {
        _head_only = head_only;
        _keep_alive = keep_alive;
        _version_minor = version_minor;
        _written = false;
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
    external_body take_external() {
        external_body b = _external;
        _external = {};
        return b;
    }

    // From now on the connection closes after this response.
    void close_after() { _keep_alive = false; }
    bool keep_alive() const { return _keep_alive; }
    bool written() const { return _written; }

private:
    void status_line(int status);
    // Status line and headers of a response whose body has body_bytes.
    void head_with_body(int status, std::string_view content_type, std::size_t body_bytes,
                        std::string_view extra_headers);
    void common_headers(std::string_view extra_headers);

    std::string& _out;
    std::string_view _date_header;
    std::string_view _node_header;
    bool _head_only = false;
    bool _keep_alive = true;
    bool _written = false;
    std::uint8_t _version_minor = 1;
    external_body _external;
};

}  // namespace ringkv::net::http

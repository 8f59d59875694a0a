#include <ringkv/net/http/response.hh>

#include <ringkv/base/clock.hh>
#include <ringkv/base/decimal.hh>

#include <charconv>

namespace ringkv::net::http {

std::string_view reason_phrase(int status) {
    switch (status) {
        case 100: return "Continue";
        case 200: return "OK";
        case 201: return "Created";
        case 204: return "No Content";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 406: return "Not Acceptable";
        case 409: return "Conflict";
        case 410: return "Gone";
        case 412: return "Precondition Failed";
        case 418: return "I'm a teapot";
        case 423: return "Locked";
        case 425: return "Too Early";
        case 413: return "Payload Too Large";
        case 414: return "URI Too Long";
        case 415: return "Unsupported Media Type";
        case 422: return "Unprocessable Entity";
        case 429: return "Too Many Requests";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 501: return "Not Implemented";
        case 502: return "Bad Gateway";
        case 504: return "Gateway Timeout";
        case 503: return "Service Unavailable";
        case 505: return "HTTP Version Not Supported";
        case 507: return "Insufficient Storage";
        default: return "Unknown";
    }
}

namespace {
// Milliseconds with three decimals: "0.052".
void append_milliseconds(std::string& out, std::uint64_t us) { base::append_thousandths(out, us); }
}  // namespace

void response_writer::status_line(int status) {
    _written = true;
    _response_offset = _out.size();
    _status = status;
    _out.append(_version_minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ");
    base::append_decimal(_out, std::uint64_t(status));
    _out.push_back(' ');
    _out.append(reason_phrase(status));
    _out.append("\r\n");
}

void response_writer::common_headers(std::string_view extra_headers) {
    _out.append(_date_header);
    _out.append(_node_header);
    if (!_keep_alive) {
        _out.append("Connection: close\r\n");
    } else if (_version_minor == 0) {
        _out.append("Connection: keep-alive\r\n");
    }
    if (_server_timing) server_timing_header();
    _out.append(extra_headers);
    _out.append(_sticky, _sticky_bytes);
}

void response_writer::server_timing_header() {
    const std::uint64_t now_ns = base::monotonic_ns();
    const std::uint64_t elapsed_us = now_ns > _started_ns ? (now_ns - _started_ns) / 1000 : 0;
    // The delay is carried out after the response is written (the
    // connection holds it back), so `app` has none of it in it yet.
    _out.append("Server-Timing: app;dur=");
    append_milliseconds(_out, elapsed_us);
    if (_injection.delay_us != 0) {
        _out.append(", inject;dur=");
        append_milliseconds(_out, _injection.delay_us);
    }
    _out.append("\r\n");
}

void response_writer::head_with_body(int status, std::string_view content_type, std::size_t body_bytes,
                                     std::string_view extra_headers) {
    status_line(status);
    common_headers(extra_headers);
    _out.append("Content-Type: ");
    _out.append(content_type);
    _out.append("\r\nContent-Length: ");
    base::append_decimal(_out, body_bytes);
    _out.append("\r\n\r\n");
}

void response_writer::write(int status, std::string_view content_type, std::string_view body,
                            std::string_view extra_headers) {
    head_with_body(status, content_type, body.size(), extra_headers);
    if (!_head_only) _out.append(body);
}

void response_writer::write_external(int status, std::string_view content_type, external_body body) {
    head_with_body(status, content_type, body.bytes.size(), {});
    if (_head_only) {
        body.drop();
    } else {
        _external = body;
    }
}

void response_writer::write_empty(int status, std::string_view extra_headers) {
    status_line(status);
    common_headers(extra_headers);
    _out.append(status == 204 ? "\r\n" : "Content-Length: 0\r\n\r\n");
}

void response_writer::discard() {
    if (!_written) return;
    _out.resize(_response_offset);
    _external.drop();
    _external = {};
    _written = false;
}

void response_writer::add_sticky_headers(std::string_view lines) {
    const std::size_t room = sticky_bytes_max - _sticky_bytes;
    // The callers' lines are bounded well below the room; never cut a line.
    if (lines.size() > room) return;
    lines.copy(_sticky + _sticky_bytes, lines.size());
    _sticky_bytes += lines.size();
}

void response_writer::write_continue() {
    _out.append(_version_minor == 0 ? "HTTP/1.0 100 Continue\r\n\r\n" : "HTTP/1.1 100 Continue\r\n\r\n");
}

}  // namespace ringkv::net::http

#pragma once
// Turns the bytes of one connection into requests, with llhttp.
//
// The parser owns the connection's read buffer (limits::read_buffer_bytes)
// and keeps the head of the request in progress contiguous in it, so the
// request_head handed out is views, not copies. Body bytes are copied once,
// into the body buffer, bounded by the limit the caller sets at head time.
//
// Use: recv into free_space(), report it with received(), then call next()
// until it says need_more. At head_ready the caller decides on the body
// (accept_body or discard_body); at message_ready the request is complete.

#include <ringkv/net/http/request.hh>

#include <llhttp.h>

#include <cstddef>
#include <memory>
#include <span>
#include <string>

namespace ringkv::net::http {

class request_parser {
public:
    enum class event { need_more, head_ready, message_ready, failed };
    enum class failure {
        none,
        malformed,          // 400, then close
        target_too_long,    // 414
        header_too_large,   // 431
        body_too_large,     // 413: the body passed the limit set at head time
    };

    request_parser();
    ~request_parser();
    request_parser(const request_parser&) = delete;
    request_parser& operator=(const request_parser&) = delete;

    // Where the next recv may write; never empty.
    std::span<char> free_space();
    void received(std::size_t bytes);
    event next();

    // At head_ready: keep the body, up to body_bytes_max.
    void accept_body(std::size_t body_bytes_max);
    // At head_ready: read the body but drop it, up to body_bytes_max.
    void discard_body(std::size_t body_bytes_max);

    const request_head& head() const { return _head; }
    // The accepted body; the caller may move it out (it is cleared per request).
    std::string& body() { return _body; }
    failure error() const { return _failure; }

    // True between the first byte of a request and its message_ready.
    bool in_message() const { return _in_message; }

private:
    struct span {
        std::uint32_t offset = 0;  // from the start of the head
        std::uint32_t bytes = 0;
    };
    enum class phase { idle, head, body, complete };

    static int on_message_begin(llhttp_t*);
    static int on_url(llhttp_t*, const char*, std::size_t);
    static int on_header_field(llhttp_t*, const char*, std::size_t);
    static int on_header_value(llhttp_t*, const char*, std::size_t);
    static int on_header_value_complete(llhttp_t*);
    static int on_headers_complete(llhttp_t*);
    static int on_body(llhttp_t*, const char*, std::size_t);
    static int on_message_complete(llhttp_t*);
    static const llhttp_settings_t settings;

    void extend(span& s, const char* at, std::size_t bytes);
    std::string_view view(span s) const;
    void build_head();
    int fail(failure f);  // records f; returns llhttp's callback error
    event execute();

    std::unique_ptr<char[]> _buffer;
    std::size_t _head_start = 0;  // start of the current message's head
    std::size_t _head_bytes = 0;  // its length, once complete
    std::size_t _parsed = 0;      // bytes consumed by llhttp
    std::size_t _end = 0;         // bytes received

    llhttp_t _parser{};
    phase _phase = phase::idle;
    bool _in_message = false;
    bool _paused = false;
    failure _failure = failure::none;

    span _url, _field, _value, _content_type, _authorization, _expect;
    std::size_t _header_block_bytes = 0;
    bool _field_is_content_type = false, _field_is_authorization = false, _field_is_expect = false;

    request_head _head;
    std::string _body;
    bool _keep_body = false;
    std::size_t _body_bytes = 0;
    std::size_t _body_bytes_max = 0;
};

}  // namespace ringkv::net::http

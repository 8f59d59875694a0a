#pragma once
// Turns the bytes of one connection into requests: llhttp parses heads, and
// ringkv frames bodies itself (Content-Length, and a strict chunked decoder).
//
// The read buffer (limits::read_buffer_bytes, allocated at the first byte,
// never zero-filled) holds the head of the request in progress contiguously,
// so the request_head handed out is views, not copies. What may move, when:
//  - between messages: everything. When a message is finished (next() after
//    its message_ready) with nothing after it received, the next one starts
//    over at offset 0: a keep-alive client that waits for each answer has
//    every request written over the same first bytes, and the buffer's
//    other pages are never touched (never resident). Bytes of the next
//    message already received (pipelined) stay until room runs short;
//  - during a head: the partial head (its fields are offsets, and views are
//    built only once the head is complete);
//  - at head end, before the views are built: the head, once, to offset 0
//    when too little room would follow it;
//  - during the body: only bytes after the head. The head stays put, so its
//    views are valid from head_ready until the message is finished.
// Body bytes are copied once, into the body buffer, bounded by the limit the
// caller sets at head time (or counted and dropped).
//
// Use: recv into free_space(), report it with received(), then call next()
// until it says need_more. At head_ready the caller decides on the body
// (accept_body or discard_body); at message_ready the request is complete.
//
// Why bodies are not left to llhttp: llhttp 8.1 rejects a chunk extension
// with a value followed by another (`5;a=b;c=d`, which RFC 9112 allows), and
// framing bodies here keeps the rule "nothing but CRLF after chunk data" in
// code we test, whatever mode llhttp was built in.

#include <ringkv/net/http/request.hh>

#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace ringkv::net::http {

class request_parser {
public:
    enum class event { need_more, head_ready, message_ready, failed };
    enum class failure {
        none,
        malformed,               // 400, then close
        target_too_long,         // 414
        header_too_large,        // 431
        body_too_large,          // 413: the body passed the limit set at head time
        version_not_supported,   // 505: a well-formed version other than 1.0 and 1.1
    };

    request_parser();
    ~request_parser();
    request_parser(const request_parser&) = delete;
    request_parser& operator=(const request_parser&) = delete;

    // Where the next recv may write; never empty. Allocates the read buffer
    // the first time. Called once next() said need_more (it may move what
    // is buffered, never the head of a message whose body is being read).
    std::span<char> free_space();
    // False before the first byte, and between messages after one longer
    // than the buffer (finished with nothing after it): the caller may wait
    // for the socket to be readable before free_space() allocates.
    bool holds_buffer() const { return _buffer != nullptr; }
    void received(std::size_t bytes);
    event next();

    // At head_ready: keep the body, up to body_bytes_max.
    void accept_body(std::size_t body_bytes_max);
    // At head_ready: read the body but drop it, up to body_bytes_max.
    void discard_body(std::size_t body_bytes_max);

    // The head and the accepted body of the message in progress, valid until
    // next() is called after its message_ready: that call finishes the
    // message (the body is emptied, and its memory given back past
    // limits::retained_body_bytes_max). The caller may move the body out.
    const request_head& head() const { return _head; }
    std::string& body() { return _body; }
    failure error() const { return _failure; }
    // Bytes of the message in progress: its head (once complete) and the
    // body bytes framed so far (decoded; chunk framing not counted).
    std::size_t message_bytes() const { return _head_bytes + _body_bytes; }

    // True from the first byte after the previous message (blank lines
    // included) until this message is ready: a head or body is being read.
    bool in_message() const { return _phase != phase::idle || _started; }
    // True once a request line has begun (not only blank lines).
    bool request_begun() const { return _phase != phase::idle; }
    // True when bytes after those parsed are buffered already: at
    // message_ready, the client has pipelined more behind this message.
    bool has_unparsed() const { return _parsed < _end; }

private:
    struct span {
        std::uint32_t offset = 0;  // from the start of the message
        std::uint32_t bytes = 0;
    };
    enum class phase { idle, head, body };
    // Where the body framer is: identity counts down; the rest is chunked.
    enum class body_state {
        identity, size, size_bws, extension, size_lf, data, data_cr, data_lf,
        trailer_start, trailer_name, trailer_value, trailer_lf, final_lf, done,
    };

    static int on_message_begin(llhttp_t*);
    static int on_method(llhttp_t*, const char*, std::size_t);
    static int on_url(llhttp_t*, const char*, std::size_t);
    static int on_url_complete(llhttp_t*);
    static int on_version(llhttp_t*, const char*, std::size_t);
    static int on_version_complete(llhttp_t*);
    static int on_header_field(llhttp_t*, const char*, std::size_t);
    static int on_header_value(llhttp_t*, const char*, std::size_t);
    static int on_header_value_complete(llhttp_t*);
    static int on_headers_complete(llhttp_t*);
    static int on_message_complete(llhttp_t*);
    static const llhttp_settings_t settings;

    int extend(span& s, const char* at, std::size_t bytes);  // 0, or a callback error
    bool follows_line_feed(const char* at) const;
    std::string_view view(span s) const;
    int fail(failure f);  // records f; returns llhttp's callback error
    event fail_now(failure f);
    int check_head();     // the RFC 9112 rules llhttp does not enforce
    bool build_head();    // false when a view holds a control character
    void place_head();
    event parse_head();
    event on_head_complete(std::size_t head_end);
    event frame_body();
    std::size_t frame_chunked(const char* data, std::size_t bytes);  // bytes consumed
    // Chunked framing, byte by byte; false when the body is refused (recorded).
    bool chunk_size_byte(char c);
    bool chunk_end_byte(char c);
    bool trailer_byte(char c);
    std::size_t chunk_data(const char* data, std::size_t bytes);  // bytes taken
    bool refuse_body(failure f);  // records f; false
    bool lines_end_in_crlf(std::size_t stop) const;
    void finish_message();
    bool take_body(const char* data, std::size_t bytes);
    failure version_failure() const;

    std::unique_ptr<char[]> _buffer;  // null until the first byte
    std::size_t _start = 0;   // start of the current message (or of the next)
    std::size_t _parsed = 0;  // bytes consumed, by llhttp or the body framer
    std::size_t _end = 0;     // bytes received
    std::size_t _head_bytes = 0;  // of the current message, once its head is complete

    llhttp_t _parser{};
    phase _phase = phase::idle;
    bool _started = false;    // bytes of the next message have arrived
    bool _paused = false;
    bool _head_done = false;  // llhttp paused at the end of the head
    bool _message_finished = false;  // message_ready was reported; next() ends it
    failure _failure = failure::none;

    span _method, _url, _version, _field, _value;
    span _content_type, _authorization, _expect, _transfer_encoding;
    std::size_t _header_block_bytes = 0;
    unsigned _host_headers = 0;
    // Headers ringkv acts on that must not repeat: which one a proxy in
    // front would act on is anybody's guess (a token routed by the last,
    // authorised by the first), so a second one is 400.
    unsigned _content_type_headers = 0;
    unsigned _authorization_headers = 0;
    unsigned _transfer_encoding_headers = 0;
    std::uint16_t _flags = 0;  // llhttp's F_* flags, at the end of the head
    std::uint64_t _content_length = 0;

    request_head _head;
    std::string _body;
    bool _keep_body = false;
    std::size_t _body_bytes = 0;
    std::size_t _body_bytes_max = 0;
    body_state _body_state = body_state::done;
    std::uint64_t _left = 0;  // identity: body bytes; chunked: bytes of this chunk
    std::size_t _line_bytes = 0;  // of the current chunk-size or trailer line
    std::size_t _trailer_bytes = 0;
};

}  // namespace ringkv::net::http
